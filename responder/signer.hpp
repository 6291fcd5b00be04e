#pragma once
// One issuer's signing identity: the key and certificate that sign its responses (the CA itself or a
// delegated responder certificate with id-kp-OCSPSigning issued by the CA, RFC 6960 §4.2.2.2).
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/ossl_ptr.hpp"
#include "common/cert_id.hpp"
#include "common/result.hpp"
#include "keys/pkcs11_uri.hpp"
#include "keys/token_key.hpp"
#include "responder/sign_contexts.hpp"

namespace ocspkit::responder {

enum class responder_id_form { by_key_hash, by_name };
enum class rsa_padding { pkcs1, pss };

struct signer_config {
    std::filesystem::path cert_file;  // the CA certificate, or the delegated signer certificate
    std::filesystem::path key_file;   // empty when the key is in a token
    // signer_key = "pkcs11:...": the key in a PKCS#11 token, the file holding its PIN (from the URI's
    // pin-source or pkcs11_pin_file, resolved) and the module settings ([pkcs11]).
    std::optional<keys::pkcs11_uri> token_key;
    std::filesystem::path pin_file;
    keys::token_settings token;
    std::filesystem::path issuer_ca_file;  // the CA whose certificates this signer answers for
    responder_id_form responder_id = responder_id_form::by_key_hash;
    rsa_padding padding = rsa_padding::pkcs1;
    bool allow_group_readable_key = false;
};

class signer {
public:
    // Loads and checks: key matches certificate; a delegated certificate must be issued (and signed)
    // by the CA and carry id-kp-OCSPSigning. Throws std::runtime_error with a clear message otherwise.
    // A key in a token is opened through its helpers (keys/token_key.hpp) and must make one signature
    // that verifies with the certificate's key before it is accepted.
    static std::shared_ptr<const signer> load(const signer_config& config);
    static std::shared_ptr<const signer> from_parts(ossl::x509_ptr signer_cert, ossl::evp_pkey_ptr key,
                                                    ossl::x509_ptr issuer_ca, responder_id_form id_form,
                                                    rsa_padding padding);

    X509* certificate() const noexcept { return cert_.get(); }
    X509* issuer_ca() const noexcept { return ca_.get(); }
    EVP_PKEY* key() const noexcept { return key_.get(); }  // only the public half for a token key
    // The token the key lives in, or nullptr for a key loaded from a file.
    const keys::token_key* token() const noexcept { return token_.get(); }
    bool is_delegated() const noexcept { return delegated_; }
    responder_id_form id_form() const noexcept { return id_form_; }
    rsa_padding padding() const noexcept { return padding_; }
    std::chrono::sys_seconds not_after() const noexcept { return not_after_; }
    std::string description() const;  // "ECDSA P-256 delegated signer CN=..." for logs, no key material

    // Signs `tbs_der` (the DER of ResponseData) and returns the signature value (the BIT STRING
    // contents). The matching signatureAlgorithm is signature_algorithm_der(). Thread-safe: every call
    // works on its own EVP_MD_CTX; the key is only read. errc::crypto when OpenSSL fails;
    // errc::unavailable (or errc::overloaded) when the key's token cannot sign now.
    result<bytes> sign(std::span<const std::uint8_t> tbs_der) const;
    // DER of the AlgorithmIdentifier that OpenSSL chose for this key, digest and padding (RSASSA-PSS
    // parameters included), fixed at load time.
    const bytes& signature_algorithm_der() const noexcept { return sig_alg_der_; }
    // What ResponderID (RFC 6960 §4.2.2.3) is made of, computed once: KeyHash is the SHA-1 of the
    // signer's subjectPublicKey BIT STRING contents; byName is the signer's subject Name.
    const bytes& key_hash() const noexcept { return key_hash_; }
    const bytes& subject_der() const noexcept { return subject_der_; }
    const bytes& certificate_der() const noexcept { return cert_der_; }
    const bytes& certificate_sha256() const noexcept { return cert_sha256_; }  // identifies the signer
    // The issuing CA's notBefore: the archiveCutoff we publish (see answer.cpp).
    std::chrono::sys_seconds ca_not_before() const noexcept { return ca_not_before_; }
    // nullptr for Ed25519 (PureEdDSA hashes internally, RFC 8410 §6).
    const EVP_MD* digest() const noexcept { return md_; }

private:
    signer() = default;
    static std::shared_ptr<const signer> from_parts_labelled(ossl::x509_ptr cert, ossl::evp_pkey_ptr key,
                                                             ossl::x509_ptr ca, responder_id_form id_form,
                                                             rsa_padding padding, const std::string& cert_label,
                                                             const std::string& key_label,
                                                             const std::string& ca_label,
                                                             std::shared_ptr<keys::token_key> token = nullptr);
    ossl::evp_md_ctx_ptr new_sign_ctx(EVP_PKEY* key) const;
    void check_token_signature() const;

    ossl::x509_ptr cert_;
    ossl::x509_ptr ca_;
    ossl::evp_pkey_ptr key_;
    std::shared_ptr<keys::token_key> token_;  // null for a file key
    std::unique_ptr<sign_contexts> contexts_;  // file keys with a digest (not Ed25519)
    bool rsa_ = false;
    bool delegated_ = false;
    responder_id_form id_form_ = responder_id_form::by_key_hash;
    rsa_padding padding_ = rsa_padding::pkcs1;
    std::chrono::sys_seconds not_after_{};
    std::chrono::sys_seconds ca_not_before_{};
    const EVP_MD* md_ = nullptr;
    std::string key_description_;  // "ECDSA P-256", "RSA-2048 PSS", ...
    bytes sig_alg_der_;
    bytes key_hash_;
    bytes subject_der_;
    bytes cert_der_;
    bytes cert_sha256_;
};

}  // namespace ocspkit::responder
