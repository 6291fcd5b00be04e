#include "protocol/ocsp_request.hpp"
#include "protocol/ocsp_request_fast.hpp"

#include <algorithm>
#include <climits>
#include <cstring>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>

#include <fmt/format.h>

#include "common/openssl_error.hpp"
#include "common/ossl_ptr.hpp"

namespace ocspkit::protocol {

namespace {

// RFC 9654 §2.1: a nonce is 1 to 128 octets.
constexpr std::size_t max_nonce_octets = 128;

std::string oid_text(const ASN1_OBJECT* obj) {
    char buf[128];
    const int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
    if (n <= 0) return "?";
    return std::string(buf, std::min(static_cast<std::size_t>(n), sizeof buf - 1));
}

// One DER tag-length header read from known-DER input (definite lengths only).
struct der_header {
    std::uint8_t tag = 0;
    std::size_t header_len = 0;
    std::size_t content_len = 0;
};
std::optional<der_header> read_header(const std::uint8_t* p, std::size_t avail) {
    if (avail < 2) return std::nullopt;
    der_header h;
    h.tag = p[0];
    if (p[1] < 0x80) {
        h.header_len = 2;
        h.content_len = p[1];
    } else {
        const std::size_t n = p[1] & 0x7fU;
        if (n == 0 || n > sizeof(std::size_t) || avail < 2 + n) return std::nullopt;
        std::size_t len = 0;
        for (std::size_t i = 0; i < n; ++i) len = (len << 8) | p[2 + i];
        // Minimal length encoding (X.690 §10.1): a long form must be needed and have no leading zero.
        if (len < 0x80 || p[2] == 0) return std::nullopt;
        h.header_len = 2 + n;
        h.content_len = len;
    }
    if (avail - h.header_len < h.content_len) return std::nullopt;
    return h;
}

// Reads whether CertID.hashAlgorithm carries NULL parameters (true), none (false), or anything else
// (nullopt). OCSP_CERTID is opaque in OpenSSL 3.0, so its hashAlgorithm is reached through the DER
// that OpenSSL re-encodes (identical to what the client sent, decode_request checked that).
//   CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, ... }
//   AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }
std::optional<bool> hash_params_are_null(OCSP_CERTID* cid) {
    unsigned char buf[512];
    const int len = i2d_OCSP_CERTID(cid, nullptr);
    if (len <= 0) return std::nullopt;
    std::vector<unsigned char> heap;
    unsigned char* der = buf;
    if (static_cast<std::size_t>(len) > sizeof buf) {
        heap.resize(static_cast<std::size_t>(len));
        der = heap.data();
    }
    unsigned char* w = der;
    if (i2d_OCSP_CERTID(cid, &w) != len) return std::nullopt;

    const auto cert_id = read_header(der, static_cast<std::size_t>(len));
    if (!cert_id || cert_id->tag != 0x30) return std::nullopt;
    const std::uint8_t* p = der + cert_id->header_len;
    const auto alg = read_header(p, cert_id->content_len);
    if (!alg || alg->tag != 0x30) return std::nullopt;
    p += alg->header_len;
    const auto oid = read_header(p, alg->content_len);
    if (!oid || oid->tag != 0x06) return std::nullopt;
    const std::size_t rest = alg->content_len - oid->header_len - oid->content_len;
    if (rest == 0) return false;
    p += oid->header_len + oid->content_len;
    // RFC 5754 §2: SHA-2 parameters are absent or NULL; RFC 3279 §2.2.1: SHA-1's are NULL or absent.
    if (rest == 2 && p[0] == 0x05 && p[1] == 0x00) return true;
    return std::nullopt;
}

struct nonce_value {
    bytes octets;
    bool unwrapped = false;
};

// RFC 9654 §2.1 (and RFC 8954 before it): extnValue holds the DER of Nonce ::= OCTET STRING. A value
// that is not exactly one minimally encoded OCTET STRING is taken as the raw nonce octets, as old
// clients sent it.
nonce_value parse_nonce(X509_EXTENSION* ext) {
    const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
    const std::uint8_t* data = ASN1_STRING_get0_data(value);
    const auto len = static_cast<std::size_t>(ASN1_STRING_length(value));
    if (const auto h = read_header(data, len); h && h->tag == 0x04 && h->header_len + h->content_len == len) {
        return {bytes(data + h->header_len, data + len), false};
    }
    return {bytes(data, data + len), true};
}

}  // namespace

bool decoded_request::nonce_out_of_range() const noexcept {
    return nonce && (nonce->empty() || nonce->size() > max_nonce_octets);
}

decode_result decode_request(std::span<const std::uint8_t> der, const request_limits& limits) {
    if (auto plain = decode_plain_request(der, limits)) return std::move(*plain);
    return decode_request_with_openssl(der, limits);
}

decode_result decode_request_with_openssl(std::span<const std::uint8_t> der, const request_limits& limits) {
    decoded_request out;
    const auto fail = [](errc e, std::string detail) { return error{e, std::move(detail)}; };

    if (der.empty()) return fail(errc::malformed, "empty request");
    if (der.size() > limits.max_der_size || der.size() > static_cast<std::size_t>(LONG_MAX))
        return fail(errc::malformed,
                    fmt::format("request of {} octets exceeds the limit of {}", der.size(), limits.max_der_size));

    // OpenSSL's template decoder bounds constructed nesting (ASN1_MAX_CONSTRUCTED_NEST) and checks
    // every length against the input, so hostile nesting or lengths fail here instead of recursing.
    const unsigned char* p = der.data();
    ossl::ocsp_request_ptr req{d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(der.size()))};
    if (!req) return fail(errc::malformed, "undecodable OCSPRequest: " + drain_openssl_errors());
    const auto consumed = static_cast<std::size_t>(p - der.data());
    if (consumed != der.size())
        return fail(errc::malformed, fmt::format("{} octets after the OCSPRequest", der.size() - consumed));

    // d2i accepts BER (indefinite lengths, non-minimal lengths, explicit DEFAULT values). RFC 6960 §4.1
    // asks for DER; re-encoding and comparing refuses everything else, so what we hash, log and cache
    // is the one encoding of the request.
    {
        const int len = i2d_OCSP_REQUEST(req.get(), nullptr);
        if (len <= 0 || static_cast<std::size_t>(len) != der.size())
            return fail(errc::malformed, "OCSPRequest is not DER");
        std::vector<unsigned char> again(static_cast<std::size_t>(len));
        unsigned char* w = again.data();
        if (i2d_OCSP_REQUEST(req.get(), &w) != len || std::memcmp(again.data(), der.data(), der.size()) != 0)
            return fail(errc::malformed, "OCSPRequest is not DER");
    }

    // requestList is a SEQUENCE OF Request; an empty one asks nothing and is not a request we answer.
    const int count = OCSP_request_onereq_count(req.get());
    if (count <= 0) return fail(errc::malformed, "no CertID in the request");
    if (static_cast<std::size_t>(count) > limits.max_cert_ids)
        return fail(errc::out_of_range,
                    fmt::format("{} CertIDs exceed the limit of {}", count, limits.max_cert_ids));

    out.certs.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        OCSP_ONEREQ* one = OCSP_request_onereq_get0(req.get(), i);
        OCSP_CERTID* cid = OCSP_onereq_get0_id(one);
        ASN1_OCTET_STRING* name_hash = nullptr;
        ASN1_OBJECT* md = nullptr;
        ASN1_OCTET_STRING* key_hash = nullptr;
        ASN1_INTEGER* serial = nullptr;
        if (OCSP_id_get0_info(&name_hash, &md, &key_hash, &serial, cid) != 1)
            return fail(errc::malformed, fmt::format("CertID {} unreadable", i));

        const auto alg = hash_alg_from_nid(OBJ_obj2nid(md));
        if (!alg)
            return fail(errc::malformed,
                        fmt::format("CertID {}: unsupported hash algorithm {}", i, oid_text(md)));
        const auto want = hash_size(*alg);
        const auto name_len = static_cast<std::size_t>(ASN1_STRING_length(name_hash));
        const auto key_len = static_cast<std::size_t>(ASN1_STRING_length(key_hash));
        if (name_len != want || key_len != want)
            return fail(errc::malformed,
                        fmt::format("CertID {}: {} hashes of {} and {} octets, want {}", i, hash_name(*alg),
                                    name_len, key_len, want));
        const auto params_null = hash_params_are_null(cid);
        if (!params_null)
            return fail(errc::malformed, fmt::format("CertID {}: unexpected hash parameters", i));
        auto canonical = serial_number::from_asn1(serial);
        if (!canonical) return fail(errc::malformed, fmt::format("CertID {}: {}", i, canonical.error_message()));

        // RFC 6960 §4.4: unrecognised extensions are ignored unless critical.
        for (int e = 0, n = OCSP_ONEREQ_get_ext_count(one); e < n; ++e) {
            X509_EXTENSION* ext = OCSP_ONEREQ_get_ext(one, e);
            if (X509_EXTENSION_get_critical(ext) > 0)
                return fail(errc::malformed,
                            fmt::format("CertID {}: critical singleRequestExtension {}", i,
                                        oid_text(X509_EXTENSION_get_object(ext))));
        }

        const std::uint8_t* nh = ASN1_STRING_get0_data(name_hash);
        const std::uint8_t* kh = ASN1_STRING_get0_data(key_hash);
        out.certs.push_back(requested_cert{
            .alg = *alg,
            .issuer_name_hash = bytes(nh, nh + name_len),
            .issuer_key_hash = bytes(kh, kh + key_len),
            .serial = std::move(canonical).value(),
            .hash_params_null = *params_null,
        });
    }
    out.has_signature = OCSP_request_is_signed(req.get()) != 0;

    // Extensions last: everything above is decoded whatever the nonce (see nonce_out_of_range()).
    X509_EXTENSION* nonce_ext = nullptr;
    for (int e = 0, n = OCSP_REQUEST_get_ext_count(req.get()); e < n; ++e) {
        X509_EXTENSION* ext = OCSP_REQUEST_get_ext(req.get(), e);
        const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
        if (OBJ_obj2nid(obj) == NID_id_pkix_OCSP_Nonce) {
            // RFC 5280 §4.2: an extension appears at most once.
            if (nonce_ext != nullptr) return fail(errc::malformed, "two nonce extensions");
            nonce_ext = ext;
        } else if (X509_EXTENSION_get_critical(ext) > 0) {
            return fail(errc::malformed, "critical requestExtension " + oid_text(obj));
        }
    }
    if (nonce_ext != nullptr) {
        auto nonce = parse_nonce(nonce_ext);
        out.nonce = std::move(nonce.octets);
        out.nonce_unwrapped = nonce.unwrapped;
    }
    return out;
}

}  // namespace ocspkit::protocol
