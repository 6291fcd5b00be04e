#pragma once
// Building the OCSP request the daemon sends (RFC 6960 §4.1.1) and its GET form (RFC 5019 §5).
// Pure apart from the random nonce: certificates in, DER out; no I/O, no logging, no exceptions.
//
//   OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
//   TBSRequest  ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, requestorName [1] ... OPTIONAL,
//                              requestList SEQUENCE OF Request, requestExtensions [2] EXPLICIT Extensions OPTIONAL }
// One Request for the leaf, unsigned, no requestorName: what RFC 5019 §2.1 profiles and every responder
// accepts.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/x509.h>

#include "common/base64.hpp"  // base64_encode(), which get_url() uses
#include "common/cert_id.hpp"
#include "common/result.hpp"

namespace ocspkit::stapler::daemon {

// RFC 8954 §2.1: a nonce of 1..32 octets; 16 random octets is what OpenSSL and most clients send.
inline constexpr std::size_t nonce_size = 16;
// RFC 5019 §5: GET only when the whole encoded URL is at most this many bytes, POST otherwise.
inline constexpr std::size_t max_get_url_size = 255;

struct built_request {
    std::vector<std::uint8_t> der;                     // the DER OCSPRequest
    std::optional<std::vector<std::uint8_t>> nonce;    // the nonce octets sent, to give validate_response
};

// CertID of `leaf` under `issuer` with `hash` (the daemon offers sha1 | sha256; sha1 is RFC 5019 §2.1.1's
// default). With `with_nonce`, adds the id-pkix-ocsp-nonce extension whose extnValue holds the DER of
// an OCTET STRING of nonce_size random octets from RAND_bytes (RFC 8954 §2.1, not OpenSSL's old raw
// form). Both certificates are borrowed. Fails (with the drained OpenSSL error queue) only if OpenSSL
// does, e.g. no randomness.
result<built_request> build_ocsp_request(X509* leaf, X509* issuer, hash_alg hash, bool with_nonce);
// The same for the certificate with `serial` issued by `issuer`, when only the serial is known (a miss
// reported by libocspstaple's client check). Borrowed likewise.
result<built_request> build_ocsp_request_for(X509* issuer, const ASN1_INTEGER* serial, hash_alg hash,
                                             bool with_nonce);

// RFC 5019 §5 / RFC 6960 Appendix A.1 GET URL: "<base_url>/<url-encoding of base64(DER)>". A trailing
// '/' of base_url is not doubled. Only '+', '/' and '=' need escaping in base64 (RFC 3986 §2.2).
std::string get_url(std::string_view base_url, std::span<const std::uint8_t> der);

// True when the GET URL for `der` fits RFC 5019's 255 bytes. A base URL with a query cannot take a
// path suffix, so it always means POST.
bool get_fits(std::string_view base_url, std::span<const std::uint8_t> der);

}  // namespace ocspkit::stapler::daemon
