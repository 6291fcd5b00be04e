#pragma once
// OCSP responses signed in-process (OCSP_basic_sign) for the stapler's tests: every field a validation
// case needs to get wrong can be set here.
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "stapler/types.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler::test {

using ocspkit::test::reference_time;
using bytes = std::vector<std::uint8_t>;
using sys_seconds = std::chrono::sys_seconds;

// An extension with an arbitrary OID and an opaque value (a DER NULL), to test critical-flag handling.
struct extension_spec {
    const char* oid = "1.3.6.1.4.1.99999.1";  // dotted form
    bool critical = false;
};

struct single_spec {
    X509* leaf = nullptr;    // whose serial goes into the CertID
    X509* issuer = nullptr;  // whose name and key hashes go into the CertID
    const EVP_MD* certid_md = nullptr;  // nullptr: SHA-1
    cert_status status = cert_status::good;
    sys_seconds this_update = reference_time - std::chrono::hours{1};
    std::optional<sys_seconds> next_update = reference_time + std::chrono::hours{24};
    sys_seconds revoked_at = reference_time - std::chrono::hours{48};
    int revocation_reason = OCSP_REVOKED_STATUS_NOSTATUS;
    std::vector<extension_spec> extensions;  // singleExtensions
};

struct response_spec {
    std::vector<single_spec> singles;
    // The responderID and the certificate sent in `certs`. OCSP_basic_sign() insists that `key` matches
    // it, so a forgery "by the issuer" is made by an impostor CA that has the issuer's name.
    X509* signer = nullptr;
    EVP_PKEY* key = nullptr;
    bool include_signer = true;  // put the signer's certificate into `certs`
    bool responder_id_by_key = false;
    std::optional<bytes> nonce;
    std::vector<extension_spec> extensions;  // responseExtensions, after the nonce
};

// A successful response. Throws openssl_error if OpenSSL refuses to build it.
bytes make_response(const response_spec& spec);
// An error response: responseStatus `status` without responseBytes.
bytes make_error_response(int status);

}  // namespace ocspkit::stapler::test
