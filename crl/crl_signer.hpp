#pragma once
// Who signs a CRL: the CA certificate the CRL is issued under and a private key that signs for it, with
// the signature algorithm chosen by the project's one rule (common/signature_choice.hpp).
//
// Only the CA's own key. RFC 5280 §5 lets another entity issue a CA's CRLs only as an *indirect* CRL
// (issuingDistributionPoint indirectCRL, a certificateIssuer entry extension, and a cRLIssuer in every
// certificate's CRL distribution point); OpenSSL accepts that only with X509_V_FLAG_EXTENDED_CRL_SUPPORT,
// which nginx, Apache and `openssl verify -crl_check` do not set, so a delegated CRL signer would produce
// CRLs that those clients refuse (docs/responder.md, "CRLs"). The key is only an EVP_PKEY: a key held in
// a token (an engine's or a provider's EVP_PKEY) plugs in here unchanged.
#include <string>
#include <string_view>

#include "common/ossl_ptr.hpp"
#include "common/result.hpp"
#include "common/signature_choice.hpp"

namespace ocspkit::crl {

class crl_signer {
public:
    // Checks that `key` is the key of `ca` and that `ca` may sign CRLs: a CA certificate
    // (basicConstraints cA) whose keyUsage, when present, has cRLSign (RFC 5280 §4.2.1.3; OpenSSL
    // refuses the CRL otherwise). errc::config with a message naming `ca_label` / `key_label` (file
    // names, say) when not; errc::unsupported for a key type we do not sign with.
    static result<crl_signer> make(ossl::x509_ptr ca, ossl::evp_pkey_ptr key, bool want_pss,
                                   std::string_view ca_label, std::string_view key_label);

    X509* ca() const noexcept { return ca_.get(); }
    // A new signing context for one CRL. Thread-safe: the key is only read. Throws openssl_error.
    ossl::evp_md_ctx_ptr sign_context() const;
    // "ECDSA P-256 SHA-256 CA key of CN=..." for logs; no key material.
    const std::string& description() const noexcept { return description_; }

private:
    crl_signer() = default;
    ossl::x509_ptr ca_;
    ossl::evp_pkey_ptr key_;
    signature_choice choice_;
    std::string description_;
};

}  // namespace ocspkit::crl
