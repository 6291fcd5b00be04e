// The one translation unit that uses OpenSSL's deprecated ENGINE API (see pkcs11_engine.hpp).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "keys/pkcs11_engine.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "common/openssl_error.hpp"
#include "common/signature_choice.hpp"

namespace ocspkit::keys {
namespace {

error crypto_failure(std::string_view what) { return error{errc::crypto, openssl_error(what).what()}; }

}  // namespace

// A structural reference (ENGINE_by_id) and a functional one (ENGINE_init), released together.
struct engine_key::engine_ref {
    ENGINE* engine = nullptr;
    bool initialised = false;
    ~engine_ref() {
        if (engine == nullptr) return;
        if (initialised) ENGINE_finish(engine);
        ENGINE_free(engine);
    }
};

engine_key::~engine_key() = default;

result<std::unique_ptr<engine_key>> engine_key::load(const std::string& module, const std::string& engine_uri,
                                                     const std::string& pin) {
    std::unique_ptr<engine_key> k(new engine_key());
    k->engine_ = std::make_unique<engine_ref>();
    // OpenSSL finds the engine as <ENGINESDIR>/pkcs11.so (or under $OPENSSL_ENGINES).
    k->engine_->engine = ENGINE_by_id("pkcs11");
    if (k->engine_->engine == nullptr)
        return crypto_failure("the OpenSSL pkcs11 engine is not installed (Debian: libengine-pkcs11-openssl)");
    ENGINE* e = k->engine_->engine;
    if (ENGINE_ctrl_cmd_string(e, "MODULE_PATH", module.c_str(), 0) != 1)
        return crypto_failure(fmt::format("pkcs11 engine: setting the module {}", module));
    if (ENGINE_init(e) != 1) return crypto_failure("pkcs11 engine: initialising");
    k->engine_->initialised = true;
    // The PIN goes through the engine's control, never into the URI (which messages quote).
    if (!pin.empty() && ENGINE_ctrl_cmd_string(e, "PIN", pin.c_str(), 0) != 1)
        return crypto_failure("pkcs11 engine: setting the PIN");
    k->key_.reset(ENGINE_load_private_key(e, engine_uri.c_str(), nullptr, nullptr));
    if (!k->key_) return crypto_failure("pkcs11 engine: loading the private key");
    return k;
}

result<std::string> engine_key::public_key_der() const {
    unsigned char* out = nullptr;
    const int len = i2d_PUBKEY(key_.get(), &out);
    if (len <= 0) return crypto_failure("encoding the token key's public key");
    std::string der(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
    OPENSSL_free(out);
    return der;
}

result<std::string> engine_key::sign_digest(std::string_view digest_name, std::string_view padding,
                                            std::string_view digest) const {
    const EVP_MD* md = EVP_get_digestbyname(std::string(digest_name).c_str());
    if (md == nullptr) return error{errc::unsupported, fmt::format("unknown digest {}", digest_name)};
    if (digest.size() != static_cast<std::size_t>(EVP_MD_get_size(md)))
        return error{errc::malformed, fmt::format("a {} digest of {} bytes", digest_name, digest.size())};
    // The key belongs to the engine, so this context's operations run in the token through libp11.
    ossl::evp_pkey_ctx_ptr ctx{EVP_PKEY_CTX_new(key_.get(), nullptr)};
    if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1) return crypto_failure("starting a signature in the token");
    if (EVP_PKEY_CTX_set_signature_md(ctx.get(), md) != 1) return crypto_failure("setting the signature digest");
    if (padding == "pkcs1" || padding == "pss") {
        const bool padded = padding == "pss" ? set_pss_parameters(ctx.get(), md)
                                             : EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1;
        if (!padded) return crypto_failure("setting the RSA padding");
    } else if (padding != "none") {
        return error{errc::unsupported, fmt::format("unknown padding {}", padding)};
    }
    const auto* in = reinterpret_cast<const unsigned char*>(digest.data());
    std::size_t len = 0;
    if (EVP_PKEY_sign(ctx.get(), nullptr, &len, in, digest.size()) != 1)
        return crypto_failure("sizing the signature");
    std::string sig(len, '\0');
    if (EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, digest.size()) != 1)
        return crypto_failure("signing in the token");
    sig.resize(len);
    return sig;
}

}  // namespace ocspkit::keys
