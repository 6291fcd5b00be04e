#include "responder/signer.hpp"

#include <stdexcept>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include "common/asn1_time.hpp"
#include "common/openssl_error.hpp"
#include "common/pem.hpp"
#include "keys/pkcs11_uri.hpp"
#include "common/signature_choice.hpp"

namespace ocspkit::responder {

namespace {

// Names used in error messages: file paths from load(), roles from from_parts().
struct labels {
    std::string cert;
    std::string key;
    std::string ca;
};

[[noreturn]] void refuse(const std::string& message) {
    // The queue may hold the causes of a failed check; they belong in the message, not in the next
    // unrelated failure's.
    const std::string queue = drain_openssl_errors();
    throw std::runtime_error(queue.empty() ? message : message + " (" + queue + ")");
}

bytes der_of_name(const X509_NAME* name) {
    unsigned char* out = nullptr;
    const int len = i2d_X509_NAME(name, &out);
    if (len <= 0) throw openssl_error("encoding the signer's subject name");
    bytes der(out, out + len);
    OPENSSL_free(out);
    return der;
}

// The algorithm rule is shared with CRL signing (common/signature_choice.hpp); a refusal names the key.
signature_choice choose_algorithm(EVP_PKEY* key, rsa_padding padding, const labels& l) {
    auto choice = choose_signature(key, padding == rsa_padding::pss);
    if (!choice) refuse(fmt::format("{}: {}", l.key, choice.error_message()));
    return std::move(choice).value();
}

// RFC 6960 §4.2.2.2: a delegated responder's certificate is issued directly by the CA and carries
// id-kp-OCSPSigning. Clients check exactly this, so a signer that fails it would sign responses that
// every client refuses; we refuse it at start-up instead.
void check_delegated(X509* cert, X509* ca, const labels& l) {
    if (const int rc = X509_check_issued(ca, cert); rc != X509_V_OK)
        refuse(fmt::format("{} is not issued by the CA in {}: {}", l.cert, l.ca, X509_verify_cert_error_string(rc)));
    EVP_PKEY* ca_key = X509_get0_pubkey(ca);
    if (ca_key == nullptr || X509_verify(cert, ca_key) != 1)
        refuse(fmt::format("the signature on {} does not verify with the key of the CA in {}", l.cert, l.ca));
    const std::uint32_t flags = X509_get_extension_flags(cert);
    if ((flags & EXFLAG_INVALID) != 0) refuse(fmt::format("{} has invalid extensions", l.cert));
    if ((flags & EXFLAG_XKUSAGE) == 0 || (X509_get_extended_key_usage(cert) & XKU_OCSP_SIGN) == 0)
        refuse(fmt::format("{} lacks extendedKeyUsage id-kp-OCSPSigning (RFC 6960 §4.2.2.2)", l.cert));
    if ((flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE) == 0)
        refuse(fmt::format("{} has a keyUsage without digitalSignature", l.cert));
}

bool same_entity(X509* a, X509* b) {
    if (X509_cmp(a, b) == 0) return true;
    // A re-issued CA certificate (same name, same key) is the CA: its signatures verify with the CA
    // certificate clients already hold, and the CertID hashes are the same.
    return X509_NAME_cmp(X509_get_subject_name(a), X509_get_subject_name(b)) == 0 &&
           EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)) == 1;
}

}  // namespace

std::shared_ptr<const signer> signer::load(const signer_config& config) {
    if (config.token_key) {
        // The PIN is read here, handed to the token's helpers, and never logged or kept elsewhere.
        auto pin = keys::read_pin_file(config.pin_file, config.allow_group_readable_key);
        if (!pin) throw load_error(fmt::format("PKCS#11 {}: {}", config.token_key->describe(), pin.error_message()));
        auto token = keys::token_key::open(*config.token_key, std::move(*pin), config.token);
        auto cert = load_certificate(config.cert_file);
        auto ca = load_certificate(config.issuer_ca_file);
        const std::string key_label = token->describe();
        auto public_key = ossl::up_ref(token->public_key());
        return from_parts_labelled(std::move(cert), std::move(public_key), std::move(ca), config.responder_id,
                                   config.padding, config.cert_file.string(), key_label,
                                   config.issuer_ca_file.string(), std::move(token));
    }
    const key_file_policy policy{.allow_group_readable = config.allow_group_readable_key};
    // load_* throw load_error naming the file.
    auto cert = load_certificate(config.cert_file);
    auto key = load_private_key(config.key_file, policy);
    auto ca = load_certificate(config.issuer_ca_file);
    return from_parts_labelled(std::move(cert), std::move(key), std::move(ca), config.responder_id, config.padding,
                               config.cert_file.string(), config.key_file.string(),
                               config.issuer_ca_file.string());
}

std::shared_ptr<const signer> signer::from_parts(ossl::x509_ptr signer_cert, ossl::evp_pkey_ptr key,
                                                 ossl::x509_ptr issuer_ca, responder_id_form id_form,
                                                 rsa_padding padding) {
    return from_parts_labelled(std::move(signer_cert), std::move(key), std::move(issuer_ca), id_form, padding,
                               "the signer certificate", "the signer key", "the issuer CA certificate");
}

std::shared_ptr<const signer> signer::from_parts_labelled(ossl::x509_ptr cert, ossl::evp_pkey_ptr key,
                                                          ossl::x509_ptr ca, responder_id_form id_form,
                                                          rsa_padding padding, const std::string& cert_label,
                                                          const std::string& key_label,
                                                          const std::string& ca_label,
                                                          std::shared_ptr<keys::token_key> token) {
    if (!cert || !key || !ca) throw std::invalid_argument("signer::from_parts: null certificate or key");
    const labels l{cert_label, key_label, ca_label};

    auto s = std::shared_ptr<signer>(new signer());
    // For a token key `key` is the public half the token reported; the comparison is of public parts
    // either way.
    if (X509_check_private_key(cert.get(), key.get()) != 1)
        refuse(fmt::format("the key in {} does not match the certificate in {}", l.key, l.cert));
    s->delegated_ = !same_entity(cert.get(), ca.get());
    if (s->delegated_) check_delegated(cert.get(), ca.get(), l);

    const auto choice = choose_algorithm(key.get(), padding, l);
    if (token && choice.md == nullptr) refuse(fmt::format("{}: Ed25519 keys in a token are not supported", l.key));
    s->rsa_ = EVP_PKEY_is_a(key.get(), "RSA") == 1 || EVP_PKEY_is_a(key.get(), "RSA-PSS") == 1;
    s->token_ = std::move(token);
    s->md_ = choice.md;
    s->padding_ = choice.pss ? rsa_padding::pss : rsa_padding::pkcs1;
    s->key_description_ = choice.description;
    s->id_form_ = id_form;

    const auto not_after = from_asn1_time(X509_get0_notAfter(cert.get()));
    const auto ca_not_before = from_asn1_time(X509_get0_notBefore(ca.get()));
    if (!not_after || !ca_not_before) refuse(fmt::format("{} or {}: unreadable validity", l.cert, l.ca));
    s->not_after_ = *not_after;
    s->ca_not_before_ = *ca_not_before;

    s->key_hash_ = issuer_key_hash(cert.get(), hash_alg::sha1);
    s->subject_der_ = der_of_name(X509_get_subject_name(cert.get()));
    s->cert_der_ = der_of(cert.get());
    s->cert_sha256_.resize(SHA256_DIGEST_LENGTH);
    SHA256(s->cert_der_.data(), s->cert_der_.size(), s->cert_sha256_.data());
    s->cert_ = std::move(cert);
    s->ca_ = std::move(ca);
    s->key_ = std::move(key);

    // Let OpenSSL pick the signatureAlgorithm encoding (RSASSA-PSS-params in particular, RFC 4055 §3.1)
    // by signing a throw-away BasicOCSPResponse with a context made exactly as sign() makes them. This
    // also proves, once at start-up, that the key can sign with these settings.
    if (s->token_) {
        // OCSP_basic_sign_ctx would refuse the stand-in key (it does not match the certificate), so the
        // stand-in signs an empty Name instead: the AlgorithmIdentifier comes out the same.
        const ossl::evp_pkey_ptr stand_in = stand_in_key_like(s->key_.get());
        auto ctx = s->new_sign_ctx(stand_in.get());
        ossl::x509_name_ptr name{X509_NAME_new()};
        ossl::x509_algor_ptr alg{X509_ALGOR_new()};
        ossl::asn1_bit_string_ptr sig{ASN1_BIT_STRING_new()};
        if (!name || !alg || !sig ||
            ASN1_item_sign_ctx(ASN1_ITEM_rptr(X509_NAME), alg.get(), nullptr, sig.get(), name.get(), ctx.get()) <= 0)
            throw openssl_error("choosing the signature algorithm");
        unsigned char* out = nullptr;
        const int len = i2d_X509_ALGOR(alg.get(), &out);
        if (len <= 0) throw openssl_error("encoding the signature algorithm");
        s->sig_alg_der_.assign(out, out + len);
        OPENSSL_free(out);
    } else {
        ossl::ocsp_basicresp_ptr probe{OCSP_BASICRESP_new()};
        if (!probe) throw openssl_error("allocating a BasicOCSPResponse");
        auto ctx = s->new_sign_ctx(s->key_.get());
        if (OCSP_basic_sign_ctx(probe.get(), s->cert_.get(), ctx.get(), nullptr,
                                OCSP_NOCERTS | OCSP_NOTIME | OCSP_RESPID_KEY) != 1)
            refuse(fmt::format("{}: test signature failed", l.key));
        unsigned char* out = nullptr;
        const int len = i2d_X509_ALGOR(OCSP_resp_get0_tbs_sigalg(probe.get()), &out);
        if (len <= 0) throw openssl_error("encoding the signature algorithm");
        s->sig_alg_der_.assign(out, out + len);
        OPENSSL_free(out);
    }
    if (s->token_) s->check_token_signature();
    else if (s->md_ != nullptr) s->contexts_ = std::make_unique<sign_contexts>(s->key_.get(), s->md_, choice.pss);
    return s;
}

void signer::check_token_signature() const {
    // One real signature through the token, verified here with the certificate's key: the token
    // signs, and with the digest and padding that signature_algorithm_der() announces.
    static constexpr std::uint8_t probe[] = "ocspkit token signature check";
    auto sig = sign(std::span<const std::uint8_t>(probe, sizeof probe));
    if (!sig) refuse(fmt::format("{}: test signature failed: {}", token_->describe(), sig.error_message()));
    ossl::evp_md_ctx_ptr ctx{EVP_MD_CTX_new()};
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, md_, nullptr, X509_get0_pubkey(cert_.get())) != 1)
        throw openssl_error("EVP_DigestVerifyInit");
    if (padding_ == rsa_padding::pss && !set_pss_parameters(pctx, md_))
        throw openssl_error("setting RSASSA-PSS parameters");
    if (EVP_DigestVerify(ctx.get(), sig->data(), sig->size(), probe, sizeof probe) != 1)
        refuse(fmt::format("{}: its test signature does not verify with the key of the certificate", token_->describe()));
}

ossl::evp_md_ctx_ptr signer::new_sign_ctx(EVP_PKEY* key) const {
    return new_sign_context(key, signature_choice{md_, padding_ == rsa_padding::pss, {}});
}

result<bytes> signer::sign(std::span<const std::uint8_t> tbs_der) const {
    if (token_) {
        // The token signs a digest made here: only the digest crosses to its helper process.
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int digest_len = 0;
        if (EVP_Digest(tbs_der.data(), tbs_der.size(), digest, &digest_len, md_, nullptr) != 1)
            return error{errc::crypto, openssl_error("hashing an OCSP response").what()};
        const auto padding = !rsa_ ? keys::sign_padding::none
                             : padding_ == rsa_padding::pss ? keys::sign_padding::pss
                                                            : keys::sign_padding::pkcs1;
        auto sig = token_->sign_digest(md_, padding, std::span<const std::uint8_t>(digest, digest_len));
        if (!sig) return std::move(sig).failure();
        return bytes(sig->begin(), sig->end());
    }
    if (contexts_) return contexts_->sign(tbs_der);
    try {
        auto ctx = new_sign_ctx(key_.get());
        std::size_t len = static_cast<std::size_t>(EVP_PKEY_get_size(key_.get()));
        bytes sig(len);
        // One-shot EVP_DigestSign: the only form Ed25519 (PureEdDSA) supports.
        if (EVP_DigestSign(ctx.get(), sig.data(), &len, tbs_der.data(), tbs_der.size()) != 1)
            throw openssl_error("signing an OCSP response");
        sig.resize(len);
        return sig;
    } catch (const openssl_error& e) {
        return error{errc::crypto, e.what()};
    }
}

std::string signer::description() const {
    const std::string subject = cert_ ? subject_rfc2253(cert_.get()) : std::string{};
    return fmt::format("{} {} signer {}{}", key_description_, delegated_ ? "delegated" : "CA", subject,
                       token_ ? ", key in " + token_->describe() : std::string{});
}

}  // namespace ocspkit::responder
