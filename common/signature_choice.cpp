#include "common/signature_choice.hpp"

#include <openssl/objects.h>
#include <openssl/rsa.h>

#include <fmt/format.h>

#include "common/openssl_error.hpp"

namespace ocspkit {

result<signature_choice> choose_signature(EVP_PKEY* key, bool want_pss) {
    signature_choice c;
    const bool rsa = EVP_PKEY_is_a(key, "RSA") == 1;
    const bool rsa_pss_key = EVP_PKEY_is_a(key, "RSA-PSS") == 1;
    if (rsa || rsa_pss_key) {
        c.md = EVP_sha256();
        // An id-RSASSA-PSS key (RFC 4055 §1.2) may only make PSS signatures.
        c.pss = rsa_pss_key || want_pss;
        c.description = fmt::format("{}-{} {}", rsa_pss_key ? "RSA-PSS" : "RSA", EVP_PKEY_get_bits(key),
                                    c.pss ? "PSS SHA-256" : "PKCS#1 v1.5 SHA-256");
        return c;
    }
    if (want_pss) return error{errc::unsupported, "PSS padding needs an RSA key"};
    if (EVP_PKEY_is_a(key, "EC") == 1) {
        char group[80] = {};
        std::size_t len = 0;
        if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) {
            drain_openssl_errors();  // the answer is the message below
            return error{errc::unsupported, "EC key without a named curve"};
        }
        switch (OBJ_txt2nid(group)) {
            case NID_X9_62_prime256v1: c.md = EVP_sha256(); c.description = "ECDSA P-256 SHA-256"; break;
            case NID_secp384r1: c.md = EVP_sha384(); c.description = "ECDSA P-384 SHA-384"; break;
            case NID_secp521r1: c.md = EVP_sha512(); c.description = "ECDSA P-521 SHA-512"; break;
            default: return error{errc::unsupported, fmt::format("unsupported curve {} (P-256, P-384, P-521)", group)};
        }
        return c;
    }
    if (EVP_PKEY_is_a(key, "ED25519") == 1) {
        c.description = "Ed25519";
        return c;
    }
    const char* type = EVP_PKEY_get0_type_name(key);
    return error{errc::unsupported, fmt::format("unsupported key type {} (RSA, RSA-PSS, EC P-256/P-384/P-521, Ed25519)",
                                                type != nullptr ? type : "?")};
}

ossl::evp_md_ctx_ptr new_sign_context(EVP_PKEY* key, const signature_choice& choice) {
    ossl::evp_md_ctx_ptr ctx{EVP_MD_CTX_new()};
    if (!ctx) throw openssl_error("EVP_MD_CTX_new");
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    if (EVP_DigestSignInit(ctx.get(), &pctx, choice.md, nullptr, key) != 1) throw openssl_error("EVP_DigestSignInit");
    if (choice.pss && !set_pss_parameters(pctx, choice.md)) throw openssl_error("setting RSASSA-PSS parameters");
    return ctx;
}

bool set_pss_parameters(EVP_PKEY_CTX* ctx, const EVP_MD* md) {
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1;
}

ossl::evp_pkey_ptr stand_in_key_like(EVP_PKEY* like) {
    ossl::evp_pkey_ptr key;
    if (EVP_PKEY_is_a(like, "EC") == 1) {
        char group[80] = {};
        std::size_t len = 0;
        if (EVP_PKEY_get_group_name(like, group, sizeof group, &len) == 1)
            key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group));
    } else {
        key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(1024)));
    }
    if (!key) throw openssl_error("generating the stand-in key for the signature algorithm");
    return key;
}

}  // namespace ocspkit
