#pragma once
// Which signature a private key makes, and a signing context set up for it: one rule for everything the
// project signs (OCSP responses in responder/signer.cpp, CRLs in crl/). RFC 5019 §4, RFC 6960 §4.3 and
// RFC 5280 §4.1.1.2 leave the algorithm to the signer; we pair each key with the digest of matching
// strength (RFC 5480 §4 for the curves) and PureEdDSA for Ed25519 (RFC 8410 §6). The key is only an
// EVP_PKEY, so a key held by an engine or a provider (PKCS#11) signs through the same code.
#include <string>

#include <openssl/evp.h>

#include "common/ossl_ptr.hpp"
#include "common/result.hpp"

namespace ocspkit {

struct signature_choice {
    const EVP_MD* md = nullptr;  // nullptr for Ed25519 (PureEdDSA hashes internally)
    bool pss = false;            // RSASSA-PSS rather than PKCS#1 v1.5
    std::string description;     // "ECDSA P-256 SHA-256", "RSA-2048 PSS SHA-256", ... for logs
};

// RSA (PKCS#1 v1.5, or PSS when `want_pss`; an id-RSASSA-PSS key always PSS), EC P-256/P-384/P-521 with
// SHA-256/384/512, Ed25519. errc::unsupported, with a message about the key (no file name: the caller
// adds it), for anything else or for PSS asked of a non-RSA key.
result<signature_choice> choose_signature(EVP_PKEY* key, bool want_pss);

// RSASSA-PSS on `ctx` (a signing or verifying context): salt as long as the digest, MGF1 with the same
// digest (RFC 4055 §3.1, RFC 8017 §9.1), what RFC 5756 and the CA/Browser Forum profile require. False
// when OpenSSL refuses one of them (its error queue says why).
bool set_pss_parameters(EVP_PKEY_CTX* ctx, const EVP_MD* md);

// A digest-sign context for `key` under `choice`; PSS with salt length = digest length and MGF1 with the
// same digest (RFC 4055 §3.1, RFC 8017 §9.1). Throws openssl_error.
ossl::evp_md_ctx_ptr new_sign_context(EVP_PKEY* key, const signature_choice& choice);

// A software key of the same algorithm as `like` (same curve; RSA of any size), to sign with where only the
// AlgorithmIdentifier OpenSSL writes is wanted, for a key whose signatures a token makes (OCSP responses,
// CRLs): that identifier depends on the algorithm, digest and padding only (the RSASSA-PSS salt is as
// long as the digest whatever the modulus). Throws openssl_error.
ossl::evp_pkey_ptr stand_in_key_like(EVP_PKEY* like);

}  // namespace ocspkit
