#include "responder/answer.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <stdexcept>

#include <openssl/objects.h>

#include <fmt/format.h>

#include "common/ossl_ptr.hpp"
#include "common/sqlite.hpp"

namespace ocspkit::responder {

namespace {

using namespace std::chrono_literals;

// A forward DER writer: begin() writes the tag and a one-octet length placeholder, end() patches the
// length and, for contents of 128 octets or more, widens it in place (X.690 §8.1.3: definite,
// minimal length). Contents are written once and at most shifted by a few octets, never re-copied.
class der_writer {
public:
    explicit der_writer(bytes& out) : out_(out) {}

    std::size_t begin(std::uint8_t tag) {
        out_.push_back(tag);
        out_.push_back(0);
        return out_.size();
    }
    void end(std::size_t content_start) {
        const std::size_t len = out_.size() - content_start;
        if (len < 0x80) {
            out_[content_start - 1] = static_cast<std::uint8_t>(len);
            return;
        }
        std::size_t n = 0;
        for (std::size_t v = len; v != 0; v >>= 8) ++n;
        out_.insert(out_.begin() + static_cast<std::ptrdiff_t>(content_start), n, 0);
        out_[content_start - 1] = static_cast<std::uint8_t>(0x80 | n);
        for (std::size_t i = 0; i < n; ++i)
            out_[content_start + i] = static_cast<std::uint8_t>(len >> (8 * (n - 1 - i)));
    }
    void raw(std::span<const std::uint8_t> data) { out_.insert(out_.end(), data.begin(), data.end()); }
    void tlv(std::uint8_t tag, std::span<const std::uint8_t> content) {
        const auto at = begin(tag);
        raw(content);
        end(at);
    }
    // GeneralizedTime "YYYYMMDDHHMMSSZ": RFC 5280 §4.1.2.5.2 (UTC, seconds, no fraction), which
    // RFC 6960 §4.2.2.1 applies to every time in a response.
    void generalized_time(sys_seconds t) {
        const auto day = std::chrono::floor<std::chrono::days>(t);
        const std::chrono::year_month_day ymd{day};
        const std::chrono::hh_mm_ss hms{t - day};
        const int fields[] = {static_cast<int>(ymd.year()) / 100, static_cast<int>(ymd.year()) % 100,
                              static_cast<int>(static_cast<unsigned>(ymd.month())),
                              static_cast<int>(static_cast<unsigned>(ymd.day())), static_cast<int>(hms.hours().count()),
                              static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count())};
        out_.push_back(0x18);
        out_.push_back(15);
        for (const int f : fields) {
            out_.push_back(static_cast<std::uint8_t>('0' + f / 10));
            out_.push_back(static_cast<std::uint8_t>('0' + f % 10));
        }
        out_.push_back('Z');
    }
    std::size_t size() const noexcept { return out_.size(); }
    const std::uint8_t* data() const noexcept { return out_.data(); }

private:
    bytes& out_;
};

// OBJECT IDENTIFIER contents, looked up once. OpenSSL has no name for id-pkix-ocsp-extended-revoke.
struct oid_table {
    bytes ocsp_basic;        // id-pkix-ocsp-basic, RFC 6960 §4.2.1
    bytes nonce;             // id-pkix-ocsp-nonce, RFC 6960 §4.4.1 / RFC 9654
    bytes archive_cutoff;    // id-pkix-ocsp-archive-cutoff, RFC 6960 §4.4.4
    bytes extended_revoke;   // id-pkix-ocsp-extended-revoke, RFC 6960 §4.4.8
    bytes invalidity_date;   // id-ce-invalidityDate, RFC 5280 §5.3.2
    std::array<bytes, 4> hash;

    static bytes contents(const ASN1_OBJECT* obj) {
        const auto* p = OBJ_get0_data(obj);
        const auto n = OBJ_length(obj);
        if (p == nullptr || n == 0) std::terminate();  // OpenSSL's built-in table cannot lack these
        return bytes(p, p + n);
    }
    oid_table() {
        ocsp_basic = contents(OBJ_nid2obj(NID_id_pkix_OCSP_basic));
        nonce = contents(OBJ_nid2obj(NID_id_pkix_OCSP_Nonce));
        archive_cutoff = contents(OBJ_nid2obj(NID_id_pkix_OCSP_archiveCutoff));
        invalidity_date = contents(OBJ_nid2obj(NID_invalidity_date));
        const ossl::asn1_object_ptr ext_revoke{OBJ_txt2obj("1.3.6.1.5.5.7.48.1.9", 1)};
        if (!ext_revoke) std::terminate();
        extended_revoke = contents(ext_revoke.get());
        for (const auto alg : all_hash_algs)
            hash[static_cast<std::size_t>(alg)] = contents(OBJ_nid2obj(hash_nid(alg)));
    }
};
const oid_table& oids() {
    static const oid_table table;
    return table;
}

constexpr std::uint8_t tag_sequence = 0x30;
constexpr std::uint8_t tag_octet_string = 0x04;
constexpr std::uint8_t tag_oid = 0x06;

// Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
// None of ours is critical, and DER leaves a DEFAULT value out (X.690 §11.5).
template <class WriteValue>
void write_extension(der_writer& w, const bytes& oid, WriteValue&& write_value) {
    const auto ext = w.begin(tag_sequence);
    w.tlv(tag_oid, oid);
    const auto value = w.begin(tag_octet_string);
    write_value();
    w.end(value);
    w.end(ext);
}

// CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, issuerNameHash OCTET STRING,
//                       issuerKeyHash OCTET STRING, serialNumber CertificateSerialNumber }
// Rebuilt from the decoded fields; because the request was DER and its parameters form is kept,
// this is the request's CertID octet for octet (RFC 6960 §4.2.1 "certID").
void write_cert_id(der_writer& w, const requested_cert& id) {
    const auto cid = w.begin(tag_sequence);
    const auto alg = w.begin(tag_sequence);
    w.tlv(tag_oid, oids().hash[static_cast<std::size_t>(id.alg)]);
    if (id.hash_params_null) w.tlv(0x05, {});
    w.end(alg);
    w.tlv(tag_octet_string, id.issuer_name_hash);
    w.tlv(tag_octet_string, id.issuer_key_hash);
    // INTEGER contents: the magnitude, with a 0x00 in front when its top bit is set (X.690 §8.3.2).
    const auto& mag = id.serial.bytes();
    const auto serial = w.begin(0x02);
    if (mag.empty() || (mag.front() & 0x80) != 0) w.raw(std::array<std::uint8_t, 1>{0});
    w.raw(mag);
    w.end(serial);
    w.end(cid);
}

// SingleResponse ::= SEQUENCE {
//    certID CertID, certStatus CertStatus, thisUpdate GeneralizedTime,
//    nextUpdate [0] EXPLICIT GeneralizedTime OPTIONAL, singleExtensions [1] EXPLICIT Extensions OPTIONAL }
// CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT UnknownInfo }
// RevokedInfo ::= SEQUENCE { revocationTime GeneralizedTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
void write_single(der_writer& w, const issuer_profile& issuer, const requested_cert& id, const single_status& st,
                  sys_seconds this_update, sys_seconds next_update) {
    const auto single = w.begin(tag_sequence);
    write_cert_id(w, id);
    switch (st.state) {
        case cert_state::good: w.tlv(0x80, {}); break;
        case cert_state::unknown: w.tlv(0x82, {}); break;
        case cert_state::revoked: {
            const auto revoked = w.begin(0xA1);
            w.generalized_time(st.revocation_time.value_or(sys_seconds{}));
            if (st.reason) {
                const auto reason = w.begin(0xA0);
                w.tlv(0x0A, std::array<std::uint8_t, 1>{static_cast<std::uint8_t>(*st.reason)});
                w.end(reason);
            }
            w.end(revoked);
            break;
        }
    }
    w.generalized_time(this_update);
    const auto next = w.begin(0xA0);
    w.generalized_time(next_update);
    w.end(next);

    const bool invalidity = st.state == cert_state::revoked && st.invalidity_date.has_value();
    // RFC 6960 §4.4.4: archiveCutoff = producedAt - retention interval. The index never forgets a
    // certificate, so we hold status back to the first certificate the CA could have issued: the
    // cutoff is the CA certificate's notBefore, and it says "this status is still authoritative
    // although the certificate expired".
    const bool cutoff = issuer.archive_cutoff && st.expired;
    if (invalidity || cutoff) {
        const auto exts_tag = w.begin(0xA1);
        const auto exts = w.begin(tag_sequence);
        if (cutoff)
            write_extension(w, oids().archive_cutoff,
                            [&] { w.generalized_time(issuer.signing->ca_not_before()); });
        // RFC 6960 §4.4.5: CRL entry extensions are allowed as singleExtensions.
        if (invalidity) write_extension(w, oids().invalidity_date, [&] { w.generalized_time(*st.invalidity_date); });
        w.end(exts);
        w.end(exts_tag);
    }
    w.end(single);
}

struct nonce_echo {
    const bytes* octets = nullptr;
    bool unwrapped = false;
};

// The signed OCSPResponse, or why the signer could not sign (see signer::sign); bad arguments throw.
result<bytes> sign_response_impl(const issuer_profile& issuer, std::span<const requested_cert> ids,
                                 std::span<const single_status> statuses, nonce_echo nonce, sys_seconds now,
                                 sys_seconds* out_this_update, sys_seconds* out_next_update) {
    if (ids.size() != statuses.size() || ids.empty())
        throw std::invalid_argument("sign_response: one status per CertID, at least one");
    if (!issuer.signing) throw std::invalid_argument("sign_response: issuer " + issuer.name + " has no signer");
    const signer& s = *issuer.signing;

    const sys_seconds this_update = now - issuer.backdate;
    sys_seconds next_update = now + issuer.validity;
    if (s.not_after() > now && s.not_after() < next_update) next_update = s.not_after();

    const bool with_cert = s.is_delegated() && issuer.include_signer_cert;
    const bool extended_revoke =
        std::any_of(statuses.begin(), statuses.end(), [](const single_status& st) { return st.extended_revoked; });

    bytes out;
    out.reserve(256 + ids.size() * 160 + s.signature_algorithm_der().size() + 520 +
                (with_cert ? s.certificate_der().size() : 0) + (nonce.octets ? nonce.octets->size() : 0));
    der_writer w(out);

    // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT ResponseBytes }
    const auto response = w.begin(tag_sequence);
    w.tlv(0x0A, std::array<std::uint8_t, 1>{0});
    const auto bytes_tag = w.begin(0xA0);
    // ResponseBytes ::= SEQUENCE { responseType OBJECT IDENTIFIER, response OCTET STRING }
    const auto response_bytes = w.begin(tag_sequence);
    w.tlv(tag_oid, oids().ocsp_basic);
    const auto octets = w.begin(tag_octet_string);
    // BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, signatureAlgorithm
    //    AlgorithmIdentifier, signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
    const auto basic = w.begin(tag_sequence);

    // ResponseData ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1 (left out, X.690 §11.5),
    //    responderID ResponderID, producedAt GeneralizedTime, responses SEQUENCE OF SingleResponse,
    //    responseExtensions [1] EXPLICIT Extensions OPTIONAL }
    const std::size_t tbs_start = w.size();
    const auto tbs = w.begin(tag_sequence);
    // ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash } (EXPLICIT: the module is).
    if (s.id_form() == responder_id_form::by_key_hash) {
        const auto by_key = w.begin(0xA2);
        w.tlv(tag_octet_string, s.key_hash());
        w.end(by_key);
    } else {
        w.tlv(0xA1, s.subject_der());
    }
    w.generalized_time(now);
    const auto responses = w.begin(tag_sequence);
    for (std::size_t i = 0; i < ids.size(); ++i) write_single(w, issuer, ids[i], statuses[i], this_update, next_update);
    w.end(responses);
    if (nonce.octets != nullptr || extended_revoke) {
        const auto exts_tag = w.begin(0xA1);
        const auto exts = w.begin(tag_sequence);
        if (nonce.octets != nullptr) {
            // RFC 9654 §2.1: extnValue is the DER of Nonce ::= OCTET STRING; a client that sent the bare
            // octets gets them back the same way (see decoded_request::nonce_unwrapped).
            write_extension(w, oids().nonce, [&] {
                if (nonce.unwrapped) w.raw(*nonce.octets);
                else w.tlv(tag_octet_string, *nonce.octets);
            });
        }
        // RFC 6960 §4.4.8: required whenever `revoked` answers a serial that was never issued.
        if (extended_revoke) write_extension(w, oids().extended_revoke, [&] { w.tlv(0x05, {}); });
        w.end(exts);
        w.end(exts_tag);
    }
    w.end(tbs);

    // The signature covers the DER of ResponseData (RFC 6960 §4.2.1), which sits complete in `out`:
    // later length patches only shift it.
    auto signature = s.sign(std::span<const std::uint8_t>(w.data() + tbs_start, w.size() - tbs_start));
    if (!signature) return std::move(signature).failure();
    w.raw(s.signature_algorithm_der());
    const auto bits = w.begin(0x03);
    w.raw(std::array<std::uint8_t, 1>{0});  // no unused bits
    w.raw(*signature);
    w.end(bits);
    // RFC 6960 §4.2.2.2: the delegated certificate travels with the response so clients can check it
    // against the CA they already trust; a CA's own signature needs nothing more.
    if (with_cert) {
        const auto certs_tag = w.begin(0xA0);
        w.tlv(tag_sequence, s.certificate_der());
        w.end(certs_tag);
    }
    w.end(basic);
    w.end(octets);
    w.end(response_bytes);
    w.end(bytes_tag);
    w.end(response);

    if (out_this_update != nullptr) *out_this_update = this_update;
    if (out_next_update != nullptr) *out_next_update = next_update;
    return out;
}

}  // namespace

std::string_view ocsp_status_name(ocsp_status s) {
    switch (s) {
        case ocsp_status::successful: return "successful";
        case ocsp_status::malformed_request: return "malformedRequest";
        case ocsp_status::internal_error: return "internalError";
        case ocsp_status::try_later: return "tryLater";
        case ocsp_status::sig_required: return "sigRequired";
        case ocsp_status::unauthorized: return "unauthorized";
    }
    return "?";
}

std::string_view cert_state_name(cert_state s) {
    switch (s) {
        case cert_state::good: return "good";
        case cert_state::revoked: return "revoked";
        case cert_state::unknown: return "unknown";
    }
    return "?";
}

issuer_set::issuer_set(std::vector<issuer_profile> profiles) : profiles_(std::move(profiles)) {}

const issuer_profile* issuer_set::match(const requested_cert& id) const {
    for (const auto& p : profiles_) {
        const auto& h = p.hashes[id.alg];
        // Key hash first: it differs between any two CAs, names may not.
        if (h.key_hash == id.issuer_key_hash && h.name_hash == id.issuer_name_hash) return &p;
    }
    return nullptr;
}

single_status map_status(const std::optional<schema::cert_record>& row, const issuer_profile& issuer,
                         sys_seconds now) {
    single_status st;
    if (!row) {
        if (issuer.unknown_serials == unknown_serial_policy::revoked) {
            // RFC 6960 §2.2: a serial that was never issued may be answered `revoked` with
            // revocationTime 1970-01-01T00:00:00Z and reason certificateHold, plus the Extended
            // Revoked Definition extension (§4.4.8).
            st.state = cert_state::revoked;
            st.revocation_time = sys_seconds{};
            st.reason = schema::revocation_reason::certificate_hold;
            st.extended_revoked = true;
        }
        return st;
    }
    st.expired = row->not_after.has_value() && *row->not_after < now;
    switch (row->status) {
        case schema::cert_status::good: st.state = cert_state::good; break;
        case schema::cert_status::revoked:
            st.state = cert_state::revoked;
            // RFC 5280 §5.3.1: unspecified is expressed by leaving the reason out.
            if (row->reason && *row->reason != schema::revocation_reason::unspecified) st.reason = row->reason;
            break;
        case schema::cert_status::hold:
            // RFC 6960 §4.2.1 has no `hold` state: a held certificate is revoked with certificateHold.
            st.state = cert_state::revoked;
            st.reason = schema::revocation_reason::certificate_hold;
            break;
    }
    if (st.state == cert_state::revoked) {
        // A revoked row without a time is an index defect; it still must not read as good, and
        // revocationTime is mandatory, so it gets the same epoch time as a non-issued serial.
        st.revocation_time = row->revocation_time.value_or(sys_seconds{});
        st.invalidity_date = row->invalidity_date;
    }
    return st;
}

std::vector<std::uint8_t> error_response(ocsp_status status) {
    // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED } with responseBytes absent (RFC 6960 §4.2.1).
    return {0x30, 0x03, 0x0A, 0x01, static_cast<std::uint8_t>(status)};
}

std::vector<std::uint8_t> sign_response(const issuer_profile& issuer, std::span<const requested_cert> ids,
                                        std::span<const single_status> statuses,
                                        const std::optional<bytes>& nonce, sys_seconds now,
                                        sys_seconds* out_this_update, sys_seconds* out_next_update) {
    auto der = sign_response_impl(issuer, ids, statuses, nonce_echo{nonce ? &*nonce : nullptr, false}, now,
                                  out_this_update, out_next_update);
    if (!der) throw std::runtime_error("signing an OCSP response: " + der.error_message());
    return std::move(*der);
}

protocol::answer_validity answer_metadata::http_validity() const {
    const bool unknown = std::any_of(cert_states.begin(), cert_states.end(),
                                     [](cert_state s) { return s == cert_state::unknown; });
    return {status == ocsp_status::successful && cacheable && !has_nonce && !unknown, this_update, next_update};
}

answer_result answer(const decode_result& decoded, const issuer_set& issuers, const cert_lookup& lookup,
                     sys_seconds now) {
    answer_result result;
    answer_metadata& meta = result.meta;
    const auto refuse = [&result](ocsp_status status, std::string detail) {
        result.meta.status = status;
        result.meta.detail = std::move(detail);
        result.meta.cacheable = false;
        result.der = error_response(status);
        return std::move(result);
    };

    if (!decoded) return refuse(ocsp_status::malformed_request, decoded.error_message());
    const decoded_request& req = decoded.value();
    if (req.certs.empty()) return refuse(ocsp_status::malformed_request, "no CertID");

    // Every CertID must be one we answer for, and one signature covers them all: a request that mixes
    // CAs (or names a CA we do not serve, or one that is disabled) gets `unauthorized` (RFC 6960 §2.3),
    // the answer of a responder that is not authoritative for it.
    std::vector<const issuer_profile*> profiles;
    profiles.reserve(req.certs.size());
    for (std::size_t i = 0; i < req.certs.size(); ++i) {
        const issuer_profile* p = issuers.match(req.certs[i]);
        if (p == nullptr) return refuse(ocsp_status::unauthorized, fmt::format("CertID {}: issuer not served", i));
        if (!profiles.empty() && p->signing != profiles.front()->signing)
            return refuse(ocsp_status::unauthorized, fmt::format("CertID {}: needs another signer than CertID 0", i));
        profiles.push_back(p);
    }
    const issuer_profile& issuer = *profiles.front();
    meta.issuer = &issuer;

    nonce_echo nonce;
    if (issuer.nonces != nonce_policy::ignore) {
        // RFC 9654 §2.1: a responder that supports nonces answers malformedRequest to one of 0 or more
        // than 128 octets.
        // A nonce out of range is judged only here, once the issuer is known: its policy may ignore nonces.
        if (req.nonce_out_of_range())
            return refuse(ocsp_status::malformed_request,
                          fmt::format("nonce of {} octets (RFC 9654: 1..128)", req.nonce->size()));
        // RFC 9654 does not say what a responder that insists on nonces answers without one; the
        // request is not what this responder accepts, so malformedRequest (not unauthorized, which
        // would claim we do not serve the CA, nor sigRequired, which is about request signatures).
        if (issuer.nonces == nonce_policy::required && !req.nonce)
            return refuse(ocsp_status::malformed_request, "nonce required but absent");
        if (req.nonce) nonce = nonce_echo{&*req.nonce, req.nonce_unwrapped};
    }

    std::vector<single_status> statuses;
    statuses.reserve(req.certs.size());
    meta.cert_states.reserve(req.certs.size());
    try {
        for (std::size_t i = 0; i < req.certs.size(); ++i) {
            statuses.push_back(map_status(lookup(profiles[i]->issuer_id, req.certs[i].serial), *profiles[i], now));
            meta.cert_states.push_back(statuses.back().state);
        }
    } catch (const sqlite::sqlite_error& e) {
        // A locked database is transient; anything else from the index is our fault, not the client's.
        return refuse(e.is_busy() ? ocsp_status::try_later : ocsp_status::internal_error,
                      std::string("index lookup: ") + e.what());
    } catch (const schema::index_unavailable& e) {
        return refuse(ocsp_status::try_later, std::string("index lookup: ") + e.what());
    } catch (const std::exception& e) {
        return refuse(ocsp_status::internal_error, std::string("index lookup: ") + e.what());
    }

    try {
        auto signed_der = sign_response_impl(issuer, req.certs, statuses, nonce, now, &meta.this_update,
                                             &meta.next_update);
        if (!signed_der) {
            meta.cert_states.clear();
            // A key whose token cannot sign now (an HSM away and being reconnected, every session busy)
            // is the server's temporary state: the client may ask again (RFC 6960 §2.3 tryLater).
            const bool transient = signed_der.code() == errc::unavailable || signed_der.code() == errc::overloaded;
            return refuse(transient ? ocsp_status::try_later : ocsp_status::internal_error,
                          "signing: " + signed_der.error_message());
        }
        result.der = std::move(*signed_der);
    } catch (const std::exception& e) {
        meta.cert_states.clear();
        return refuse(ocsp_status::internal_error, std::string("signing: ") + e.what());
    }
    meta.status = ocsp_status::successful;
    meta.has_nonce = nonce.octets != nullptr;
    meta.cacheable = !meta.has_nonce && std::none_of(meta.cert_states.begin(), meta.cert_states.end(),
                                                     [](cert_state s) { return s == cert_state::unknown; });
    result.statuses = std::move(statuses);
    return result;
}

}  // namespace ocspkit::responder
