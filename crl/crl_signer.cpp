#include "crl/crl_signer.hpp"

#include <openssl/x509v3.h>

#include <fmt/format.h>

#include "common/openssl_error.hpp"
#include "common/pem.hpp"
#include "keys/pkcs11_uri.hpp"

namespace ocspkit::crl {

namespace {

// The checks both kinds of key share: `key` (private, or the token's public half) is the CA's, and the
// CA may sign CRLs.
result<signature_choice> check_ca_and_key(X509* ca, EVP_PKEY* key, bool want_pss, std::string_view ca_label,
                                          std::string_view key_label) {
    if (X509_check_private_key(ca, key) != 1) {
        drain_openssl_errors();  // the mismatch is the whole story
        return error{errc::config, fmt::format("the key in {} is not the key of the CA certificate in {} (a CRL is "
                                               "signed with the CA's own key)",
                                               key_label, ca_label)};
    }
    const std::uint32_t flags = X509_get_extension_flags(ca);
    if ((flags & EXFLAG_INVALID) != 0) return error{errc::config, fmt::format("{} has invalid extensions", ca_label)};
    if ((flags & EXFLAG_CA) == 0)
        return error{errc::config, fmt::format("{} is not a CA certificate (basicConstraints cA)", ca_label)};
    if ((flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(ca) & KU_CRL_SIGN) == 0)
        return error{errc::config,
                     fmt::format("{} has a keyUsage without cRLSign: clients refuse CRLs it signs (RFC 5280 §4.2.1.3)",
                                 ca_label)};
    auto choice = choose_signature(key, want_pss);
    if (!choice) return error{choice.code(), fmt::format("{}: {}", key_label, choice.error_message())};
    return choice;
}

// DER tag and length octets (X.690 §8.1.3, definite form).
void append_header(std::vector<std::uint8_t>& out, std::uint8_t tag, std::size_t length) {
    out.push_back(tag);
    if (length < 0x80) {
        out.push_back(static_cast<std::uint8_t>(length));
        return;
    }
    std::uint8_t octets[sizeof(std::size_t)];
    std::size_t n = 0;
    for (std::size_t v = length; v != 0; v >>= 8) octets[n++] = static_cast<std::uint8_t>(v & 0xff);
    out.push_back(static_cast<std::uint8_t>(0x80 | n));
    while (n > 0) out.push_back(octets[--n]);
}

std::vector<std::uint8_t> crl_der(X509_CRL* crl) {
    unsigned char* der = nullptr;
    const int len = i2d_X509_CRL(crl, &der);
    if (len <= 0) throw openssl_error("encoding the CRL");
    std::vector<std::uint8_t> out(der, der + len);
    OPENSSL_free(der);
    return out;
}

}  // namespace

result<crl_signer> crl_signer::make(ossl::x509_ptr ca, ossl::evp_pkey_ptr key, bool want_pss,
                                    std::string_view ca_label, std::string_view key_label) {
    if (!ca || !key) return error{errc::internal, "crl_signer::make: no certificate or key"};
    auto choice = check_ca_and_key(ca.get(), key.get(), want_pss, ca_label, key_label);
    if (!choice) return std::move(choice).failure();
    crl_signer s;
    s.choice_ = std::move(choice).value();
    s.description_ = fmt::format("{} CA key of {}", s.choice_.description, subject_rfc2253(ca.get()));
    s.ca_ = std::move(ca);
    s.key_ = std::move(key);
    return result<crl_signer>{std::move(s)};
}

result<crl_signer> crl_signer::make_in_token(ossl::x509_ptr ca, std::shared_ptr<keys::token_key> token, bool want_pss,
                                             std::string_view ca_label) {
    if (!ca || !token) return error{errc::internal, "crl_signer::make_in_token: no certificate or token"};
    const std::string key_label = token->describe();
    auto choice = check_ca_and_key(ca.get(), token->public_key(), want_pss, ca_label, key_label);
    if (!choice) return std::move(choice).failure();
    if (choice->md == nullptr) return error{errc::unsupported, key_label + ": Ed25519 keys in a token are not supported"};
    crl_signer s;
    s.choice_ = std::move(choice).value();
    s.description_ = fmt::format("{} CA key of {} in {}", s.choice_.description, subject_rfc2253(ca.get()), key_label);
    s.key_ = stand_in_key_like(token->public_key());
    s.ca_ = std::move(ca);
    s.token_ = std::move(token);
    return result<crl_signer>{std::move(s)};
}

result<crl_signer> crl_signer::load(const std::filesystem::path& ca_file, const crl_key_source& source, bool want_pss) {
    try {
        return load(load_certificate(ca_file), ca_file.string(), source, want_pss);
    } catch (const load_error& e) {
        return error{errc::config, e.what()};
    }
}

result<crl_signer> crl_signer::load(ossl::x509_ptr ca, std::string_view ca_label, const crl_key_source& source,
                                    bool want_pss) {
    try {
        if (keys::is_pkcs11_uri(source.key)) {
            auto uri = keys::parse_pkcs11_uri(source.key);
            if (!uri) return error{errc::config, uri.error_message()};
            const auto pin_file = uri->pin_file ? *uri->pin_file : source.pin_file;
            if (pin_file.empty())
                return error{errc::config, fmt::format("PKCS#11 {}: no PIN file (pin-source=file:... in the URI, or "
                                                       "the PIN file option)",
                                                       uri->describe())};
            if (source.token.module.empty())
                return error{errc::config, fmt::format("PKCS#11 {}: no PKCS#11 module given", uri->describe())};
            auto pin = keys::read_pin_file(pin_file, source.allow_group_readable);
            if (!pin) return error{errc::config, fmt::format("PKCS#11 {}: {}", uri->describe(), pin.error_message())};
            // The token's key through its helper processes (this program started again with --pkcs11-helper).
            auto token = keys::token_key::open(*uri, std::move(*pin), source.token);
            return make_in_token(std::move(ca), std::move(token), want_pss, ca_label);
        }
        auto key = load_private_key(source.key, key_file_policy{.allow_group_readable = source.allow_group_readable});
        return make(std::move(ca), std::move(key), want_pss, ca_label, source.key);
    } catch (const load_error& e) {
        return error{errc::config, e.what()};
    }
}

result<std::vector<std::uint8_t>> crl_signer::sign(X509_CRL* crl) const {
    if (token_) return sign_in_token(crl);
    try {
        auto ctx = new_sign_context(key_.get(), choice_);
        if (X509_CRL_sign_ctx(crl, ctx.get()) <= 0) throw openssl_error("signing the CRL");
        return crl_der(crl);
    } catch (const openssl_error& e) {
        return error{errc::crypto, e.what()};
    }
}

result<std::vector<std::uint8_t>> crl_signer::sign_in_token(X509_CRL* crl) const {
    try {
        // Signing with the stand-in key writes the AlgorithmIdentifier into tbsCertList and the outer
        // CertificateList as OpenSSL would for the token's key; the TBS is then signed by the token and
        // the CertificateList assembled around its signature.
        auto ctx = new_sign_context(key_.get(), choice_);
        if (X509_CRL_sign_ctx(crl, ctx.get()) <= 0) throw openssl_error("preparing the CRL for the token's signature");
        unsigned char* tbs = nullptr;
        const int tbs_len = i2d_re_X509_CRL_tbs(crl, &tbs);
        if (tbs_len <= 0) throw openssl_error("encoding tbsCertList");
        const std::vector<std::uint8_t> tbs_der(tbs, tbs + tbs_len);
        OPENSSL_free(tbs);
        const ASN1_BIT_STRING* stand_in_signature = nullptr;
        const X509_ALGOR* algorithm = nullptr;
        X509_CRL_get0_signature(crl, &stand_in_signature, &algorithm);
        unsigned char* alg = nullptr;
        const int alg_len = i2d_X509_ALGOR(algorithm, &alg);
        if (alg_len <= 0) throw openssl_error("encoding the signature algorithm");
        const std::vector<std::uint8_t> alg_der(alg, alg + alg_len);
        OPENSSL_free(alg);

        // Only the digest crosses to the token's helper process.
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int digest_len = 0;
        if (EVP_Digest(tbs_der.data(), tbs_der.size(), digest, &digest_len, choice_.md, nullptr) != 1)
            throw openssl_error("hashing the CRL");
        const auto padding = EVP_PKEY_is_a(key_.get(), "EC") == 1 ? keys::sign_padding::none
                             : choice_.pss                         ? keys::sign_padding::pss
                                                                   : keys::sign_padding::pkcs1;
        auto signature = token_->sign_digest(choice_.md, padding, std::span<const std::uint8_t>(digest, digest_len));
        if (!signature) return std::move(signature).failure();

        std::vector<std::uint8_t> bits;
        append_header(bits, 0x03, signature->size() + 1);
        bits.push_back(0);  // no unused bits
        bits.insert(bits.end(), signature->begin(), signature->end());
        std::vector<std::uint8_t> out;
        append_header(out, 0x30, tbs_der.size() + alg_der.size() + bits.size());
        out.insert(out.end(), tbs_der.begin(), tbs_der.end());
        out.insert(out.end(), alg_der.begin(), alg_der.end());
        out.insert(out.end(), bits.begin(), bits.end());

        // A token that signed with another key (or garbled the signature) is caught here, not by clients.
        const unsigned char* p = out.data();
        ossl::x509_crl_ptr check{d2i_X509_CRL(nullptr, &p, static_cast<long>(out.size()))};
        if (!check || X509_CRL_verify(check.get(), X509_get0_pubkey(ca_.get())) != 1)
            throw openssl_error(fmt::format("the CRL signed by {} does not verify with the CA's key", token_->describe()));
        return out;
    } catch (const openssl_error& e) {
        return error{errc::crypto, e.what()};
    }
}


}  // namespace ocspkit::crl
