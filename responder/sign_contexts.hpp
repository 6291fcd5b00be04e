#pragma once
// Signing contexts for one software key, set up once and reused (checked out by one thread at a time).
// Setting up an OpenSSL 3 signing context (algorithm fetch, key management, parameters) costs several
// microseconds, a sizeable part of an ECDSA P-256 signature (~25 µs); the nonce path signs every answer,
// so it hashes with a digest fetched once and signs the digest with a context already initialised.
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include <openssl/evp.h>

#include "common/cert_id.hpp"
#include "common/ossl_ptr.hpp"
#include "common/result.hpp"

namespace ocspkit::responder {

class sign_contexts {
public:
    // `md` is the digest the signature uses (never null: Ed25519's PureEdDSA signs the message itself
    // and keeps the one-shot path); `pss` selects RSASSA-PSS with salt = digest length and MGF1 with the
    // same digest (set_pss_parameters). `key` must outlive this. Throws openssl_error.
    sign_contexts(EVP_PKEY* key, const EVP_MD* md, bool pss);

    // The signature value over `message`: the same bytes EVP_DigestSign would produce (for ECDSA the
    // DER Ecdsa-Sig-Value). errc::crypto when OpenSSL fails. Thread-safe.
    result<bytes> sign(std::span<const std::uint8_t> message) const;

private:
    ossl::evp_pkey_ctx_ptr new_context() const;

    EVP_PKEY* key_;
    ossl::evp_md_ptr md_;  // fetched once: EVP_Digest with a legacy EVP_MD fetches on every call
    bool pss_;
    std::size_t max_signature_;
    mutable std::mutex mutex_;
    mutable std::vector<ossl::evp_pkey_ctx_ptr> idle_;  // as many as threads ever signed at once
};

}  // namespace ocspkit::responder
