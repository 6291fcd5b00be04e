#pragma once
// Validation of a fetched OCSP response before anything is stapled (house rule 11: never staple what is
// expired, unverified or an error response). Pure: bytes, certificates and `now` in, a verdict
// (result<validated_response>) out; no clock, no I/O, no logging, no exceptions (an unexpected OpenSSL
// failure is a rejection like any other).
//
// What "usable" means here (RFC 6960 §3.2 lists the client-side checks this mirrors):
//   * the bytes are at most `max_size` long and are exactly one DER OCSPResponse;
//   * responseStatus is successful(0) and responseBytes is id-pkix-ocsp-basic (§4.2.1);
//   * the BasicOCSPResponse is signed by the issuer itself, or by a delegated responder whose certificate
//     is in `certs`, was issued (and signed) by that issuer, carries id-kp-OCSPSigning, and is within its
//     validity period at `now` (§4.2.2.2);
//   * a SingleResponse's CertID names the leaf: issuerNameHash and issuerKeyHash of the issuer under the
//     CertID's own hash algorithm (SHA-1, -256, -384 or -512), and the leaf's serial (§4.1.1);
//   * thisUpdate is not later than now + max_skew, nextUpdate is present and later than now (§4.2.2.1:
//     a response without nextUpdate has no end of validity, and so cannot be cached safely);
//   * when a nonce is expected, the response carries it (RFC 8954 §2.1);
//   * no responseExtension nor singleExtension of the leaf's SingleResponse is both critical and unknown
//     (the RFC 5280 §4.2 rule, which the X.509 Extensions of RFC 6960 §4.4 carry).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <openssl/x509.h>

#include "common/result.hpp"
#include "stapler/types.hpp"

namespace ocspkit::stapler {

using sys_seconds = std::chrono::sys_seconds;

std::string_view to_string(cert_status status) noexcept;

// Why a response cannot be used. Stable names for logs and metrics via to_string(). An error_code enum
// (common/errc.hpp): 0 is success, so none has it.
enum class reject_reason : std::uint8_t {
    too_large = 1,            // longer than max_size
    malformed,              // not exactly one DER OCSPResponse, or no BasicOCSPResponse inside
    unsuccessful_status,    // responseStatus other than successful (tryLater, internalError, ...)
    not_basic,              // responseBytes absent, of another type than id-pkix-ocsp-basic, or undecodable
    signer_not_found,       // responderID names neither the issuer nor a certificate in `certs`
    signer_not_authorized,  // delegated signer not issued by the issuer, without id-kp-OCSPSigning, or outside its validity
    bad_signature,          // the signature does not verify under the signer's key
    no_matching_response,   // no SingleResponse for the leaf's CertID
    not_yet_valid,          // thisUpdate later than now + max_skew
    no_next_update,         // nextUpdate absent
    expired,                // nextUpdate not later than now
    nonce_mismatch,         // a nonce was expected and is absent or different
    invalid_argument,       // null certificate
    internal_error,         // an OpenSSL failure unrelated to the response's content
    unsupported_critical_extension,  // a response or SingleResponse extension marked critical that we do not know
};
std::string_view to_string(reject_reason reason) noexcept;
std::error_code make_error_code(reject_reason reason) noexcept;

struct revocation_info {
    sys_seconds time;
    std::optional<int> reason;  // CRLReason (RFC 5280 §5.3.1) when the responder gave one
};

// A response that passed every check. `der` is the exact bytes to staple.
struct validated_response {
    std::vector<std::uint8_t> der;
    cert_status status = cert_status::unknown;
    sys_seconds this_update{};
    sys_seconds next_update{};
    sys_seconds produced_at{};
    std::optional<revocation_info> revocation;  // set iff status == revoked
    bool delegated_signer = false;              // signed by a delegated responder rather than the issuer
};

// Either a usable response (good, revoked or unknown) or why it was rejected: the failure's code is a
// reject_reason (reject_reason_of), its message one line for the log, never sent anywhere.
using verdict = result<validated_response>;

// The reason a rejected verdict carries.
reject_reason reject_reason_of(const verdict& rejected) noexcept;

struct validation_options {
    std::chrono::seconds max_skew{300};      // tolerated lead of the responder's clock over ours
    std::size_t max_size = 4032;             // the default shm slot's payload; larger cannot be stapled
    std::optional<std::vector<std::uint8_t>> expected_nonce;  // the nonce octets sent in the request
    // Every check but "nextUpdate has passed". Only for reading back a persisted permanent revocation,
    // which must outlive its response so that no later `good` un-revokes the certificate (store.hpp).
    bool allow_expired = false;
};

// `leaf` and `issuer` are borrowed. Never throws; every failure is a rejection with its reason.
verdict validate_response(X509* leaf, X509* issuer, std::span<const std::uint8_t> der, sys_seconds now,
                          const validation_options& options = {}) noexcept;

// The same checks for a certificate named by its issuer and serial number instead of the certificate
// itself: the OCSP proxy has only the CertIDs of a client's request. `serial` is borrowed.
verdict validate_response_for(X509* issuer, const ASN1_INTEGER* serial, std::span<const std::uint8_t> der,
                              sys_seconds now, const validation_options& options = {}) noexcept;

}  // namespace ocspkit::stapler

template <>
struct std::is_error_code_enum<ocspkit::stapler::reject_reason> : std::true_type {};
