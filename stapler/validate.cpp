#include "stapler/validate.hpp"

#include <array>
#include <climits>
#include <cstring>
#include <exception>
#include <string>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "common/asn1_time.hpp"
#include "common/cert_id.hpp"
#include "common/openssl_error.hpp"
#include "common/ossl_ptr.hpp"

namespace ocspkit::stapler {

std::string_view to_string(cert_status status) noexcept {
    switch (status) {
    case cert_status::good: return "good";
    case cert_status::revoked: return "revoked";
    case cert_status::unknown: return "unknown";
    }
    return "invalid";
}

std::string_view to_string(reject_reason reason) noexcept {
    switch (reason) {
    case reject_reason::too_large: return "too_large";
    case reject_reason::malformed: return "malformed";
    case reject_reason::unsuccessful_status: return "unsuccessful_status";
    case reject_reason::not_basic: return "not_basic";
    case reject_reason::signer_not_found: return "signer_not_found";
    case reject_reason::signer_not_authorized: return "signer_not_authorized";
    case reject_reason::bad_signature: return "bad_signature";
    case reject_reason::no_matching_response: return "no_matching_response";
    case reject_reason::not_yet_valid: return "not_yet_valid";
    case reject_reason::no_next_update: return "no_next_update";
    case reject_reason::expired: return "expired";
    case reject_reason::nonce_mismatch: return "nonce_mismatch";
    case reject_reason::invalid_argument: return "invalid_argument";
    case reject_reason::internal_error: return "internal_error";
    case reject_reason::unsupported_critical_extension: return "unsupported_critical_extension";
    }
    return "invalid";
}

std::error_code make_error_code(reject_reason reason) noexcept {
    static const reason_category<reject_reason> category("ocspkit.validate");
    return {static_cast<int>(reason), category};
}

reject_reason reject_reason_of(const verdict& rejected) noexcept {
    return reason_of<reject_reason>(rejected.code()).value_or(reject_reason::internal_error);
}

namespace {

error reject(reject_reason reason, std::string detail) { return error{reason, std::move(detail)}; }

// For failures whose cause OpenSSL explains: the queue is drained here, once (house rule 6).
error reject_with_queue(reject_reason reason, std::string detail) {
    std::string queue = drain_openssl_errors();
    if (!queue.empty()) detail.append(": ").append(queue);
    return error{reason, std::move(detail)};
}

bool bytes_equal(const ASN1_OCTET_STRING* s, const bytes& b) {
    return s != nullptr && static_cast<std::size_t>(ASN1_STRING_length(s)) == b.size() &&
           std::memcmp(ASN1_STRING_get0_data(s), b.data(), b.size()) == 0;
}

// ResponderID (RFC 6960 §4.2.2.3): byName is the signer's subject, byKey the SHA-1 of its public key's
// BIT STRING value (the same hash as issuerKeyHash).
bool matches_responder_id(X509* cert, const ASN1_OCTET_STRING* by_key, const X509_NAME* by_name) {
    if (by_name != nullptr) return X509_NAME_cmp(X509_get_subject_name(cert), by_name) == 0;
    if (by_key == nullptr) return false;
    return bytes_equal(by_key, issuer_key_hash(cert, hash_alg::sha1));
}

// Extensions RFC 6960 defines for responses and single responses, plus the CRL entry extensions
// responders copy into SingleResponses (RFC 6960 §4.4.5 and §5).
bool known_response_extension(const ASN1_OBJECT* oid) {
    switch (OBJ_obj2nid(oid)) {
    case NID_id_pkix_OCSP_Nonce:
    case NID_id_pkix_OCSP_CrlID:
    case NID_id_pkix_OCSP_archiveCutoff:
    case NID_id_pkix_OCSP_serviceLocator:
    case NID_invalidity_date:
    case NID_crl_reason:
    case NID_certificate_issuer:
        return true;
    default: break;
    }
    // id-pkix-ocsp-extended-revoke (RFC 6960 §4.4.8) has no NID in OpenSSL 3.0.
    std::array<char, 64> text{};
    OBJ_obj2txt(text.data(), static_cast<int>(text.size()), oid, 1);
    return std::strcmp(text.data(), "1.3.6.1.5.5.7.48.1.9") == 0;
}

template <class Object>
std::optional<error> check_critical_extensions(Object* object, int (*count)(Object*),
                                                   X509_EXTENSION* (*get)(Object*, int), const char* where) {
    for (int i = 0; i < count(object); ++i) {
        X509_EXTENSION* ext = get(object, i);
        if (ext == nullptr || X509_EXTENSION_get_critical(ext) == 0) continue;
        const ASN1_OBJECT* oid = X509_EXTENSION_get_object(ext);
        if (known_response_extension(oid)) continue;
        std::array<char, 80> text{};
        OBJ_obj2txt(text.data(), static_cast<int>(text.size()), oid, 1);
        return reject(reject_reason::unsupported_critical_extension,
                      std::string("unknown critical ") + where + " extension " + text.data());
    }
    return std::nullopt;
}

std::optional<error> check_delegated_signer(X509* signer, X509* issuer, sys_seconds now,
                                                std::chrono::seconds max_skew) {
    // RFC 6960 §4.2.2.2: "issued directly by the CA that is identified in the request".
    if (X509_check_issued(issuer, signer) != X509_V_OK) {
        ERR_clear_error();
        return reject(reject_reason::signer_not_authorized, "delegated signer was not issued by the issuer");
    }
    EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
    if (issuer_key == nullptr) return reject_with_queue(reject_reason::internal_error, "issuer has no usable public key");
    if (X509_verify(signer, issuer_key) != 1) {
        return reject_with_queue(reject_reason::signer_not_authorized,
                                 "delegated signer's certificate is not signed by the issuer's key");
    }
    // X509_get_extended_key_usage() reports "any" for a certificate without the extension, so the flag
    // that the extension is present is checked first: §4.2.2.2 requires id-kp-OCSPSigning explicitly.
    const std::uint32_t flags = X509_get_extension_flags(signer);
    if ((flags & EXFLAG_INVALID) != 0) {
        return reject(reject_reason::signer_not_authorized, "delegated signer has invalid extensions");
    }
    if ((flags & EXFLAG_XKUSAGE) == 0 || (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN) == 0) {
        return reject(reject_reason::signer_not_authorized, "delegated signer lacks id-kp-OCSPSigning");
    }
    const auto not_before = from_asn1_time(X509_get0_notBefore(signer));
    const auto not_after = from_asn1_time(X509_get0_notAfter(signer));
    if (!not_before || !not_after) {
        return reject(reject_reason::signer_not_authorized, "delegated signer has an unreadable validity period");
    }
    if (*not_before > now + max_skew || *not_after <= now) {
        return reject(reject_reason::signer_not_authorized,
                      "delegated signer is outside its validity period (" + to_iso8601(*not_before) + " .. " +
                          to_iso8601(*not_after) + ")");
    }
    return std::nullopt;
}

// The extnValue a request made with OCSP_request_add1_nonce() carries, and RFC 8954 §2.1 prescribes:
// the DER of an OCTET STRING holding the nonce.
bytes nonce_extension_value(const bytes& nonce) {
    ossl::asn1_octet_string_ptr s{ASN1_OCTET_STRING_new()};
    if (!s || ASN1_OCTET_STRING_set(s.get(), nonce.data(), static_cast<int>(nonce.size())) != 1) {
        throw openssl_error("cannot build the expected nonce");
    }
    const int len = i2d_ASN1_OCTET_STRING(s.get(), nullptr);
    if (len <= 0) throw openssl_error("cannot encode the expected nonce");
    bytes out(static_cast<std::size_t>(len));
    unsigned char* p = out.data();
    i2d_ASN1_OCTET_STRING(s.get(), &p);
    return out;
}

std::optional<error> check_nonce(OCSP_BASICRESP* bs, const bytes& expected) {
    const int idx = OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, -1);
    if (idx < 0) return reject(reject_reason::nonce_mismatch, "response carries no nonce");
    X509_EXTENSION* ext = OCSP_BASICRESP_get_ext(bs, idx);
    if (ext == nullptr || !bytes_equal(X509_EXTENSION_get_data(ext), nonce_extension_value(expected))) {
        return reject(reject_reason::nonce_mismatch, "response nonce differs from the request's");
    }
    return std::nullopt;
}

struct certid_matcher {
    X509* issuer;
    const ASN1_INTEGER* serial;
    // Issuer hashes per algorithm, computed only for the algorithms the response actually uses.
    std::array<std::optional<name_and_key_hash>, 4> hashes{};

    bool matches(OCSP_SINGLERESP* single) {
        ASN1_OCTET_STRING* name_hash = nullptr;
        ASN1_OBJECT* md = nullptr;
        ASN1_OCTET_STRING* key_hash = nullptr;
        ASN1_INTEGER* cid_serial = nullptr;
        // OCSP_id_get0_info() only reads, but its parameter is not const in OpenSSL 3.0.
        auto* cid = const_cast<OCSP_CERTID*>(OCSP_SINGLERESP_get0_id(single));
        if (cid == nullptr || OCSP_id_get0_info(&name_hash, &md, &key_hash, &cid_serial, cid) != 1) return false;
        if (cid_serial == nullptr || ASN1_INTEGER_cmp(cid_serial, serial) != 0) return false;
        const auto alg = hash_alg_from_nid(OBJ_obj2nid(md));
        if (!alg) return false;
        auto& h = hashes[static_cast<std::size_t>(*alg)];
        if (!h) h = name_and_key_hash{issuer_name_hash(issuer, *alg), issuer_key_hash(issuer, *alg)};
        return bytes_equal(name_hash, h->name_hash) && bytes_equal(key_hash, h->key_hash);
    }
};

verdict validate_impl(X509* issuer, const ASN1_INTEGER* serial, std::span<const std::uint8_t> der, sys_seconds now,
                      const validation_options& options) {
    if (serial == nullptr || issuer == nullptr) {
        return reject(reject_reason::invalid_argument, "the issuer certificate and the serial are required");
    }
    if (der.size() > options.max_size) {
        return reject(reject_reason::too_large, "response of " + std::to_string(der.size()) +
                                                    " bytes exceeds the limit of " + std::to_string(options.max_size));
    }
    if (der.empty() || der.size() > static_cast<std::size_t>(LONG_MAX)) {
        return reject(reject_reason::malformed, "empty response");
    }

    const unsigned char* p = der.data();
    ossl::ocsp_response_ptr resp{d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size()))};
    if (!resp) return reject_with_queue(reject_reason::malformed, "not a DER OCSPResponse");
    // Trailing bytes would be stapled too, and a strict client would refuse them.
    if (p != der.data() + der.size()) {
        return reject(reject_reason::malformed, "trailing bytes after the OCSPResponse");
    }

    // RFC 6960 §4.2.1: only successful(0) carries responseBytes; the others are error messages.
    const int status = OCSP_response_status(resp.get());
    if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        return reject(reject_reason::unsuccessful_status,
                      std::string{"responseStatus "} + OCSP_response_status_str(status) + " (" +
                          std::to_string(status) + ")");
    }
    ossl::ocsp_basicresp_ptr bs{OCSP_response_get1_basic(resp.get())};
    if (!bs) {
        return reject_with_queue(reject_reason::not_basic, "no decodable id-pkix-ocsp-basic response");
    }

    // Find the signer: the issuer itself, or a delegated responder certificate sent along.
    const ASN1_OCTET_STRING* by_key = nullptr;
    const X509_NAME* by_name = nullptr;
    if (OCSP_resp_get0_id(bs.get(), &by_key, &by_name) != 1) {
        return reject_with_queue(reject_reason::malformed, "no responderID");
    }
    X509* signer = nullptr;
    bool delegated = false;
    if (matches_responder_id(issuer, by_key, by_name)) {
        signer = issuer;
    } else if (const STACK_OF(X509)* certs = OCSP_resp_get0_certs(bs.get())) {
        for (int i = 0; i < sk_X509_num(certs); ++i) {
            X509* candidate = sk_X509_value(certs, i);
            if (matches_responder_id(candidate, by_key, by_name)) {
                signer = candidate;
                delegated = true;
                break;
            }
        }
    }
    if (signer == nullptr) {
        return reject(reject_reason::signer_not_found, "responderID names neither the issuer nor an included certificate");
    }
    if (delegated) {
        if (auto r = check_delegated_signer(signer, issuer, now, options.max_skew)) return *r;
    }
    EVP_PKEY* signer_key = X509_get0_pubkey(signer);
    if (signer_key == nullptr) return reject_with_queue(reject_reason::bad_signature, "signer has no usable public key");
    // The signature covers the DER of tbsResponseData (RFC 6960 §4.2.1), which OpenSSL re-encodes here
    // exactly as OCSP_basic_verify() does.
    if (ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA), OCSP_resp_get0_tbs_sigalg(bs.get()),
                         OCSP_resp_get0_signature(bs.get()), OCSP_resp_get0_respdata(bs.get()), signer_key) != 1) {
        return reject_with_queue(reject_reason::bad_signature,
                                 delegated ? "signature does not verify under the delegated signer's key"
                                           : "signature does not verify under the issuer's key");
    }

    certid_matcher matcher{issuer, serial};
    OCSP_SINGLERESP* single = nullptr;
    for (int i = 0; i < OCSP_resp_count(bs.get()); ++i) {
        OCSP_SINGLERESP* candidate = OCSP_resp_get0(bs.get(), i);
        if (candidate != nullptr && matcher.matches(candidate)) {
            single = candidate;
            break;
        }
    }
    if (single == nullptr) {
        return reject(reject_reason::no_matching_response, "no SingleResponse for the certificate's CertID");
    }

    int revocation_reason = OCSP_REVOKED_STATUS_NOSTATUS;
    ASN1_GENERALIZEDTIME* revoked_at = nullptr;
    ASN1_GENERALIZEDTIME* this_update = nullptr;
    ASN1_GENERALIZEDTIME* next_update = nullptr;
    const int single_status = OCSP_single_get0_status(single, &revocation_reason, &revoked_at, &this_update, &next_update);

    validated_response out;
    switch (single_status) {
    case V_OCSP_CERTSTATUS_GOOD: out.status = cert_status::good; break;
    case V_OCSP_CERTSTATUS_REVOKED: out.status = cert_status::revoked; break;
    case V_OCSP_CERTSTATUS_UNKNOWN: out.status = cert_status::unknown; break;
    default: return reject_with_queue(reject_reason::malformed, "unreadable certStatus");
    }

    const auto this_time = from_asn1_time(this_update);
    if (!this_time) return reject(reject_reason::malformed, "unreadable thisUpdate");
    if (*this_time > now + options.max_skew) {
        return reject(reject_reason::not_yet_valid, "thisUpdate " + to_iso8601(*this_time) + " is in the future");
    }
    if (next_update == nullptr) {
        return reject(reject_reason::no_next_update, "no nextUpdate: the response never expires and cannot be cached");
    }
    const auto next_time = from_asn1_time(next_update);
    if (!next_time) return reject(reject_reason::malformed, "unreadable nextUpdate");
    if (*next_time < *this_time) return reject(reject_reason::malformed, "nextUpdate precedes thisUpdate");
    if (*next_time <= now && !options.allow_expired) {
        return reject(reject_reason::expired, "nextUpdate " + to_iso8601(*next_time) + " has passed");
    }

    if (options.expected_nonce) {
        if (auto r = check_nonce(bs.get(), *options.expected_nonce)) return *r;
    }
    if (auto r = check_critical_extensions(bs.get(), &OCSP_BASICRESP_get_ext_count, &OCSP_BASICRESP_get_ext, "response"))
        return *r;
    if (auto r = check_critical_extensions(single, &OCSP_SINGLERESP_get_ext_count, &OCSP_SINGLERESP_get_ext,
                                           "singleResponse"))
        return *r;

    if (out.status == cert_status::revoked) {
        const auto when = from_asn1_time(revoked_at);
        if (!when) return reject(reject_reason::malformed, "unreadable revocationTime");
        revocation_info info{*when, std::nullopt};
        if (revocation_reason != OCSP_REVOKED_STATUS_NOSTATUS) info.reason = revocation_reason;
        out.revocation = info;
    }
    if (const auto produced = from_asn1_time(OCSP_resp_get0_produced_at(bs.get()))) out.produced_at = *produced;
    out.this_update = *this_time;
    out.next_update = *next_time;
    out.delegated_signer = delegated;
    out.der.assign(der.begin(), der.end());
    // Successful calls above may still have queued diagnostics (extension caching, for one).
    ERR_clear_error();
    return out;
}

}  // namespace

verdict validate_response(X509* leaf, X509* issuer, std::span<const std::uint8_t> der, sys_seconds now,
                          const validation_options& options) noexcept {
    if (leaf == nullptr) return error{reject_reason::invalid_argument, "leaf and issuer certificates are required"};
    return validate_response_for(issuer, X509_get0_serialNumber(leaf), der, now, options);
}

verdict validate_response_for(X509* issuer, const ASN1_INTEGER* serial, std::span<const std::uint8_t> der,
                              sys_seconds now, const validation_options& options) noexcept {
    try {
        return validate_impl(issuer, serial, der, now, options);
    } catch (const openssl_error& e) {
        return error{reject_reason::internal_error, e.what()};
    } catch (const std::exception& e) {
        ERR_clear_error();
        return error{reject_reason::internal_error, e.what()};
    }
}

}  // namespace ocspkit::stapler
