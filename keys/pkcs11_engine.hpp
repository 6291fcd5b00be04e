#pragma once
// A private key inside a PKCS#11 token, reached through OpenSSL 3.0's ENGINE API and the `pkcs11`
// engine of libengine-pkcs11-openssl (libp11): Debian 12 packages no PKCS#11 provider. The ENGINE API is
// deprecated in OpenSSL 3, so it stays in pkcs11_engine.cpp alone, and only the helper process
// (pkcs11_helper.cpp) uses this: a provider can replace this file without touching anything else.
//
// Why a helper process at all: libp11 0.4.12 keeps its sessions and object handles for the life of the
// process. Once a token goes away (an HSM restarted, a SoftHSM token folder moved) those handles stay
// invalid even after it comes back, the engine cannot be rebuilt in the same process (its shared
// object binds to one ENGINE only), and RE_ENUMERATE crashes. A fresh helper process is a fresh libp11
// and a fresh C_Initialize, which is what reconnecting needs.
#include <memory>
#include <string>
#include <string_view>

#include "common/ossl_ptr.hpp"
#include "common/result.hpp"

namespace ocspkit::keys {

class engine_key {
public:
    // Loads the engine with `module`, logs in with `pin` and finds the private key `engine_uri` names.
    // errc::crypto with the engine's error queue (and what libp11 printed, see pkcs11_helper.cpp).
    static result<std::unique_ptr<engine_key>> load(const std::string& module, const std::string& engine_uri,
                                                    const std::string& pin);
    ~engine_key();
    engine_key(const engine_key&) = delete;
    engine_key& operator=(const engine_key&) = delete;

    // The key's SubjectPublicKeyInfo, read from the token with the key.
    result<std::string> public_key_der() const;
    // Signs a digest made with `digest_name` ("SHA256", ...): RSA with PKCS#1 v1.5 ("pkcs1") or PSS
    // ("pss": salt as long as the digest, MGF1 with the same digest), ECDSA ("none": a DER
    // ECDSA-Sig-Value). The token does the private-key operation.
    result<std::string> sign_digest(std::string_view digest_name, std::string_view padding,
                                    std::string_view digest) const;

private:
    struct engine_ref;
    engine_key() = default;
    std::unique_ptr<engine_ref> engine_;
    ossl::evp_pkey_ptr key_;  // freed before the engine (member order)
};

}  // namespace ocspkit::keys
