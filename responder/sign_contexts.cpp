#include "responder/sign_contexts.hpp"

#include "common/openssl_error.hpp"
#include "common/signature_choice.hpp"

namespace ocspkit::responder {

sign_contexts::sign_contexts(EVP_PKEY* key, const EVP_MD* md, bool pss)
    : key_(key),
      md_(EVP_MD_fetch(nullptr, EVP_MD_get0_name(md), nullptr)),
      pss_(pss),
      max_signature_(static_cast<std::size_t>(EVP_PKEY_get_size(key))) {
    if (!md_) throw openssl_error("fetching the signature digest");
    // One context made now: a key that cannot sign this way fails at start-up, not on a request.
    idle_.push_back(new_context());
}

ossl::evp_pkey_ctx_ptr sign_contexts::new_context() const {
    ossl::evp_pkey_ctx_ptr ctx{EVP_PKEY_CTX_new_from_pkey(nullptr, key_, nullptr)};
    if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1) throw openssl_error("EVP_PKEY_sign_init");
    if (EVP_PKEY_CTX_set_signature_md(ctx.get(), md_.get()) != 1) throw openssl_error("setting the signature digest");
    if (pss_ && !set_pss_parameters(ctx.get(), md_.get())) throw openssl_error("setting RSASSA-PSS parameters");
    return ctx;
}

result<bytes> sign_contexts::sign(std::span<const std::uint8_t> message) const {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (EVP_Digest(message.data(), message.size(), digest, &digest_len, md_.get(), nullptr) != 1)
        return error{errc::crypto, openssl_error("hashing for a signature").what()};
    ossl::evp_pkey_ctx_ptr ctx;
    {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
            ctx = std::move(idle_.back());
            idle_.pop_back();
        }
    }
    try {
        if (!ctx) ctx = new_context();
    } catch (const openssl_error& e) {
        return error{errc::crypto, e.what()};
    }
    bytes signature(max_signature_);
    std::size_t len = signature.size();
    const int rc = EVP_PKEY_sign(ctx.get(), signature.data(), &len, digest, digest_len);
    if (rc != 1) return error{errc::crypto, openssl_error("signing").what()};  // the context is dropped
    signature.resize(len);
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(ctx));
    return signature;
}

}  // namespace ocspkit::responder
