#include "stapler/daemon/ocsp_request_builder.hpp"

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>

#include "common/openssl_error.hpp"
#include "common/ossl_ptr.hpp"

namespace ocspkit::stapler::daemon {

namespace {

error openssl_failure(std::string_view what) {
    std::string queue = drain_openssl_errors();
    std::string msg = "cannot build the OCSP request: " + std::string(what);
    if (!queue.empty()) msg += ": " + queue;
    return error{errc::crypto, std::move(msg)};
}

// RFC 8954 §2.1: "Nonce ::= OCTET STRING (SIZE(1..32))", and the extension's extnValue (itself an OCTET
// STRING) holds the DER of that Nonce. OpenSSL before 1.1 put the raw octets in extnValue; building the
// two layers here keeps the encoding explicit whatever OpenSSL does.
result<std::monostate> add_nonce(OCSP_REQUEST* req, const std::vector<std::uint8_t>& nonce) {
    ossl::asn1_octet_string_ptr inner{ASN1_OCTET_STRING_new()};
    if (!inner || ASN1_OCTET_STRING_set(inner.get(), nonce.data(), static_cast<int>(nonce.size())) != 1) {
        return openssl_failure("nonce OCTET STRING");
    }
    unsigned char* inner_der = nullptr;
    const int inner_len = i2d_ASN1_OCTET_STRING(inner.get(), &inner_der);
    if (inner_len <= 0) return openssl_failure("nonce DER");
    ossl::asn1_octet_string_ptr extn_value{ASN1_OCTET_STRING_new()};
    const bool set_ok = extn_value && ASN1_OCTET_STRING_set(extn_value.get(), inner_der, inner_len) == 1;
    OPENSSL_free(inner_der);
    if (!set_ok) return openssl_failure("nonce extnValue");

    ossl::x509_extension_ptr ext{X509_EXTENSION_create_by_NID(nullptr, NID_id_pkix_OCSP_Nonce, 0, extn_value.get())};
    if (!ext) return openssl_failure("nonce extension");
    if (OCSP_REQUEST_add_ext(req, ext.get(), -1) != 1) return openssl_failure("adding the nonce extension");
    return std::monostate{};
}

}  // namespace

result<built_request> build_ocsp_request(X509* leaf, X509* issuer, hash_alg hash, bool with_nonce) {
    if (leaf == nullptr) return error{errc::internal, "cannot build the OCSP request: no certificate"};
    return build_ocsp_request_for(issuer, X509_get0_serialNumber(leaf), hash, with_nonce);
}

result<built_request> build_ocsp_request_for(X509* issuer, const ASN1_INTEGER* serial, hash_alg hash,
                                             bool with_nonce) {
    if (issuer == nullptr || serial == nullptr)
        return error{errc::internal, "cannot build the OCSP request: no issuer or serial"};
    // CertID (RFC 6960 §4.1.1): hashes of the issuer's name and key under `hash`, the serial.
    ossl::ocsp_certid_ptr id{OCSP_cert_id_new(evp_md(hash), X509_get_subject_name(issuer),
                                              X509_get0_pubkey_bitstr(issuer), serial)};
    if (!id) return openssl_failure("CertID");
    ossl::ocsp_request_ptr req{OCSP_REQUEST_new()};
    if (!req) return openssl_failure("OCSP_REQUEST_new");
    if (OCSP_request_add0_id(req.get(), id.get()) == nullptr) return openssl_failure("adding the CertID");
    (void)id.release();  // owned by the request from here on

    built_request out;
    if (with_nonce) {
        std::vector<std::uint8_t> nonce(nonce_size);
        if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) return openssl_failure("RAND_bytes");
        auto added = add_nonce(req.get(), nonce);
        if (!added) return added.failure();
        out.nonce = std::move(nonce);
    }

    const int len = i2d_OCSP_REQUEST(req.get(), nullptr);
    if (len <= 0) return openssl_failure("DER length");
    out.der.resize(static_cast<std::size_t>(len));
    unsigned char* p = out.der.data();
    if (i2d_OCSP_REQUEST(req.get(), &p) != len) return openssl_failure("DER encoding");
    return out;
}

std::string get_url(std::string_view base_url, std::span<const std::uint8_t> der) {
    std::string url(base_url);
    if (url.empty() || url.back() != '/') url += '/';
    for (char c : base64_encode(der)) {
        switch (c) {
        case '+': url += "%2B"; break;
        case '/': url += "%2F"; break;
        case '=': url += "%3D"; break;
        default: url += c;
        }
    }
    return url;
}

bool get_fits(std::string_view base_url, std::span<const std::uint8_t> der) {
    if (base_url.find('?') != std::string_view::npos) return false;
    return get_url(base_url, der).size() <= max_get_url_size;
}

}  // namespace ocspkit::stapler::daemon
