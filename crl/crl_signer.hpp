#pragma once
// Who signs a CRL: the CA certificate the CRL is issued under and a private key that signs for it, with
// the signature algorithm chosen by the project's one rule (common/signature_choice.hpp).
//
// Only the CA's own key. RFC 5280 §5 lets another entity issue a CA's CRLs only as an *indirect* CRL
// (issuingDistributionPoint indirectCRL, a certificateIssuer entry extension, and a cRLIssuer in every
// certificate's CRL distribution point); OpenSSL accepts that only with X509_V_FLAG_EXTENDED_CRL_SUPPORT,
// which nginx, Apache and `openssl verify -crl_check` do not set, so a delegated CRL signer would produce
// CRLs that those clients refuse (docs/responder.md, "CRLs"). The key is a file's EVP_PKEY, or a key in a
// PKCS#11 token reached through its helper processes (keys/token_key.hpp), which signs the CRL's digest.
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/ossl_ptr.hpp"
#include "common/result.hpp"
#include "common/signature_choice.hpp"
#include "keys/token_key.hpp"

namespace ocspkit::crl {

// Where a CRL signer's key is: a key file, or a pkcs11: URI (keys/pkcs11_uri.hpp) with its PIN file and
// the module settings. Shared by `ocspctl crl` and the responder's crl_key.
struct crl_key_source {
    std::string key;                   // a file's path or a pkcs11: URI
    std::filesystem::path pin_file;    // for a URI: its PIN (pin-source, or the separate option)
    keys::token_settings token;        // for a URI: module, sessions, timeout
    bool allow_group_readable = false;  // key file (and PIN file) mode 0640 accepted
};

class crl_signer {
public:
    // Checks that `key` is the key of `ca` and that `ca` may sign CRLs: a CA certificate
    // (basicConstraints cA) whose keyUsage, when present, has cRLSign (RFC 5280 §4.2.1.3; OpenSSL
    // refuses the CRL otherwise). errc::config with a message naming `ca_label` / `key_label` (file
    // names, say) when not; errc::unsupported for a key type we do not sign with.
    static result<crl_signer> make(ossl::x509_ptr ca, ossl::evp_pkey_ptr key, bool want_pss,
                                   std::string_view ca_label, std::string_view key_label);

    // The same checks for the CA's key in a token: the token's public key must be the CA's. Ed25519
    // keys in a token are not supported (errc::unsupported).
    static result<crl_signer> make_in_token(ossl::x509_ptr ca, std::shared_ptr<keys::token_key> token, bool want_pss,
                                            std::string_view ca_label);

    // The CA certificate from `ca_file` and the key from `source`, checked as make() and make_in_token()
    // do. errc::config naming the files, the token and the object when something does not load (never
    // the PIN).
    static result<crl_signer> load(const std::filesystem::path& ca_file, const crl_key_source& source, bool want_pss);
    // The same with the CA certificate at hand (`ca_label` names it in messages).
    static result<crl_signer> load(ossl::x509_ptr ca, std::string_view ca_label, const crl_key_source& source,
                                   bool want_pss);

    X509* ca() const noexcept { return ca_.get(); }
    // Signs `crl` (everything but the signature set) and returns its DER. Thread-safe: the key is only
    // read. errc::crypto with OpenSSL's error queue; for a token key also errc::unavailable or
    // errc::overloaded (token_key::sign_digest), and errc::crypto when the token's signature does not
    // verify with the CA's key.
    result<std::vector<std::uint8_t>> sign(X509_CRL* crl) const;
    // "ECDSA P-256 SHA-256 CA key of CN=..." for logs; no key material.
    const std::string& description() const noexcept { return description_; }

private:
    crl_signer() = default;
    result<std::vector<std::uint8_t>> sign_in_token(X509_CRL* crl) const;

    ossl::x509_ptr ca_;
    ossl::evp_pkey_ptr key_;  // the private key; for a token key, a stand-in of the same algorithm
    std::shared_ptr<keys::token_key> token_;
    signature_choice choice_;
    std::string description_;
};

}  // namespace ocspkit::crl
