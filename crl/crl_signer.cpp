#include "crl/crl_signer.hpp"

#include <openssl/x509v3.h>

#include <fmt/format.h>

#include "common/openssl_error.hpp"
#include "common/pem.hpp"

namespace ocspkit::crl {

result<crl_signer> crl_signer::make(ossl::x509_ptr ca, ossl::evp_pkey_ptr key, bool want_pss,
                                    std::string_view ca_label, std::string_view key_label) {
    if (!ca || !key) return error{errc::internal, "crl_signer::make: no certificate or key"};
    if (X509_check_private_key(ca.get(), key.get()) != 1) {
        drain_openssl_errors();  // the mismatch is the whole story
        return error{errc::config, fmt::format("the key in {} is not the key of the CA certificate in {} (a CRL is "
                                               "signed with the CA's own key)",
                                               key_label, ca_label)};
    }
    const std::uint32_t flags = X509_get_extension_flags(ca.get());
    if ((flags & EXFLAG_INVALID) != 0) return error{errc::config, fmt::format("{} has invalid extensions", ca_label)};
    if ((flags & EXFLAG_CA) == 0)
        return error{errc::config, fmt::format("{} is not a CA certificate (basicConstraints cA)", ca_label)};
    if ((flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(ca.get()) & KU_CRL_SIGN) == 0)
        return error{errc::config,
                     fmt::format("{} has a keyUsage without cRLSign: clients refuse CRLs it signs (RFC 5280 §4.2.1.3)",
                                 ca_label)};
    auto choice = choose_signature(key.get(), want_pss);
    if (!choice) return error{choice.code(), fmt::format("{}: {}", key_label, choice.error_message())};

    crl_signer s;
    s.choice_ = std::move(choice).value();
    s.description_ = fmt::format("{} CA key of {}", s.choice_.description, subject_rfc2253(ca.get()));
    s.ca_ = std::move(ca);
    s.key_ = std::move(key);
    return result<crl_signer>{std::move(s)};
}

ossl::evp_md_ctx_ptr crl_signer::sign_context() const { return new_sign_context(key_.get(), choice_); }

}  // namespace ocspkit::crl
