#include "protocol/ocsp_request_fast.hpp"

#include <array>
#include <cstring>

namespace ocspkit::protocol {
namespace {

constexpr std::uint8_t tag_boolean = 0x01, tag_integer = 0x02, tag_octet_string = 0x04, tag_null = 0x05,
                       tag_oid = 0x06, tag_sequence = 0x30, tag_context_0 = 0xa0, tag_context_2 = 0xa2;

// id-pkix-ocsp-nonce, 1.3.6.1.5.5.7.48.1.2 (RFC 6960 §4.4.1)
constexpr std::array<std::uint8_t, 9> nonce_oid{0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02};

struct known_hash {
    std::span<const std::uint8_t> oid;
    hash_alg alg;
};
constexpr std::array<std::uint8_t, 5> sha1_oid{0x2b, 0x0e, 0x03, 0x02, 0x1a};
constexpr std::array<std::uint8_t, 9> sha256_oid{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
constexpr std::array<std::uint8_t, 9> sha384_oid{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02};
constexpr std::array<std::uint8_t, 9> sha512_oid{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03};

bool same(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

// A cursor over DER: every read checks the tag, a definite minimal length and that the content fits.
// Any deviation ends the plain reading (nullopt), leaving the input to the full decoder.
class cursor {
public:
    explicit cursor(std::span<const std::uint8_t> in) : in_(in) {}
    bool empty() const { return in_.empty(); }
    bool next_is(std::uint8_t tag) const { return !in_.empty() && in_[0] == tag; }
    // The content of the next element if it has `tag`.
    std::optional<std::span<const std::uint8_t>> take(std::uint8_t tag) {
        if (in_.size() < 2 || in_[0] != tag) return std::nullopt;
        std::size_t len = in_[1];
        std::size_t header = 2;
        if (len >= 0x80) {
            const std::size_t n = len & 0x7f;
            if (n == 0 || n > 3 || in_.size() < 2 + n || in_[2] == 0) return std::nullopt;
            len = 0;
            for (std::size_t i = 0; i < n; ++i) len = (len << 8) | in_[2 + i];
            if (len < 0x80) return std::nullopt;  // the short form was required
            header = 2 + n;
        }
        if (in_.size() - header < len) return std::nullopt;
        auto content = in_.subspan(header, len);
        in_ = in_.subspan(header + len);
        return content;
    }

private:
    std::span<const std::uint8_t> in_;
};

// What OpenSSL's c2i_ASN1_OBJECT accepts: content present, no subidentifier starting 0x80, the last
// octet ending a subidentifier.
bool valid_oid(std::span<const std::uint8_t> oid) {
    if (oid.empty() || (oid.back() & 0x80) != 0) return false;
    for (std::size_t i = 0; i < oid.size(); ++i)
        if (oid[i] == 0x80 && (i == 0 || (oid[i - 1] & 0x80) == 0)) return false;
    return true;
}

struct extension {
    std::span<const std::uint8_t> oid;
    bool critical = false;
    std::span<const std::uint8_t> value;
};

// Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension, inside its [n] EXPLICIT tag; calls `each` per
// extension, which answers false to give up.
template <class Each>
bool read_extensions(std::span<const std::uint8_t> explicit_content, Each&& each) {
    cursor outer(explicit_content);
    auto list = outer.take(tag_sequence);
    if (!list || !outer.empty() || list->empty()) return false;
    cursor items(*list);
    while (!items.empty()) {
        auto ext = items.take(tag_sequence);
        if (!ext) return false;
        cursor fields(*ext);
        extension e;
        auto oid = fields.take(tag_oid);
        if (!oid || !valid_oid(*oid)) return false;
        e.oid = *oid;
        if (fields.next_is(tag_boolean)) {
            // DER: critical is present only when TRUE, encoded 0xFF.
            auto flag = fields.take(tag_boolean);
            if (!flag || flag->size() != 1 || (*flag)[0] != 0xff) return false;
            e.critical = true;
        }
        auto value = fields.take(tag_octet_string);
        if (!value || !fields.empty()) return false;
        e.value = *value;
        if (!each(e)) return false;
    }
    return true;
}

// CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, issuerNameHash OCTET STRING,
//                       issuerKeyHash OCTET STRING, serialNumber CertificateSerialNumber }
std::optional<requested_cert> read_cert_id(std::span<const std::uint8_t> content) {
    cursor fields(content);
    auto algorithm = fields.take(tag_sequence);
    if (!algorithm) return std::nullopt;
    cursor alg_fields(*algorithm);
    auto oid = alg_fields.take(tag_oid);
    if (!oid) return std::nullopt;
    bool params_null = false;
    if (!alg_fields.empty()) {
        auto null = alg_fields.take(tag_null);
        if (!null || !null->empty() || !alg_fields.empty()) return std::nullopt;
        params_null = true;
    }
    static constexpr std::array<known_hash, 4> hashes{{{sha1_oid, hash_alg::sha1},
                                                       {sha256_oid, hash_alg::sha256},
                                                       {sha384_oid, hash_alg::sha384},
                                                       {sha512_oid, hash_alg::sha512}}};
    const known_hash* hash = nullptr;
    for (const auto& h : hashes)
        if (same(*oid, h.oid)) hash = &h;
    if (hash == nullptr) return std::nullopt;
    auto name_hash = fields.take(tag_octet_string);
    auto key_hash = fields.take(tag_octet_string);
    auto serial = fields.take(tag_integer);
    if (!name_hash || !key_hash || !serial || !fields.empty()) return std::nullopt;
    const std::size_t want = hash_size(hash->alg);
    if (name_hash->size() != want || key_hash->size() != want) return std::nullopt;
    // A DER INTEGER: at least one octet, no redundant leading 0x00 or 0xFF; negative serials are left
    // to the full decoder, which words the refusal.
    const auto s = *serial;
    if (s.empty() || (s[0] & 0x80) != 0) return std::nullopt;
    if (s.size() > 1 && s[0] == 0x00 && (s[1] & 0x80) == 0) return std::nullopt;
    auto canonical = serial_number::from_bytes(s.data(), s.size());
    if (!canonical) return std::nullopt;
    return requested_cert{
        .alg = hash->alg,
        .issuer_name_hash = bytes(name_hash->begin(), name_hash->end()),
        .issuer_key_hash = bytes(key_hash->begin(), key_hash->end()),
        .serial = std::move(canonical).value(),
        .hash_params_null = params_null,
    };
}

}  // namespace

std::optional<decoded_request> decode_plain_request(std::span<const std::uint8_t> der, const request_limits& limits) {
    if (der.empty() || der.size() > limits.max_der_size) return std::nullopt;
    // OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
    cursor whole(der);
    auto request = whole.take(tag_sequence);
    if (!request || !whole.empty()) return std::nullopt;
    cursor request_fields(*request);
    auto tbs = request_fields.take(tag_sequence);
    if (!tbs || !request_fields.empty()) return std::nullopt;  // signed requests: the full decoder
    // TBSRequest ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1, requestorName [1] EXPLICIT OPTIONAL,
    //                           requestList SEQUENCE OF Request, requestExtensions [2] EXPLICIT OPTIONAL }
    cursor tbs_fields(*tbs);
    auto list = tbs_fields.take(tag_sequence);  // a version or requestorName first: the full decoder
    if (!list || list->empty()) return std::nullopt;
    decoded_request out;
    cursor requests(*list);
    while (!requests.empty()) {
        if (out.certs.size() == limits.max_cert_ids) return std::nullopt;
        // Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }
        auto one = requests.take(tag_sequence);
        if (!one) return std::nullopt;
        cursor one_fields(*one);
        auto cert_id = one_fields.take(tag_sequence);
        if (!cert_id) return std::nullopt;
        auto cert = read_cert_id(*cert_id);
        if (!cert) return std::nullopt;
        if (!one_fields.empty()) {
            auto extensions = one_fields.take(tag_context_0);
            // RFC 6960 §4.4: unrecognised extensions are ignored unless critical.
            if (!extensions || !one_fields.empty() ||
                !read_extensions(*extensions, [](const extension& e) { return !e.critical; }))
                return std::nullopt;
        }
        out.certs.push_back(std::move(*cert));
    }
    if (!tbs_fields.empty()) {
        auto extensions = tbs_fields.take(tag_context_2);
        if (!extensions || !tbs_fields.empty()) return std::nullopt;
        std::optional<std::span<const std::uint8_t>> nonce;
        const bool readable = read_extensions(*extensions, [&](const extension& e) {
            if (same(e.oid, nonce_oid)) {
                if (nonce) return false;  // two nonces: refused by the full decoder
                nonce = e.value;
                return true;
            }
            return !e.critical;
        });
        if (!readable) return std::nullopt;
        if (nonce) {
            // RFC 9654 §2.1: extnValue holds the DER of an OCTET STRING; anything else is taken as the raw
            // octets (old clients), as the full decoder does.
            cursor inner(*nonce);
            auto octets = inner.take(tag_octet_string);
            if (octets && inner.empty()) {
                out.nonce = bytes(octets->begin(), octets->end());
            } else {
                out.nonce = bytes(nonce->begin(), nonce->end());
                out.nonce_unwrapped = true;
            }
        }
    }
    return out;
}

}  // namespace ocspkit::protocol
