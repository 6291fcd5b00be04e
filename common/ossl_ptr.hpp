#pragma once
// Owners for every OpenSSL handle the project touches. Business code never calls *_free itself.
#include <memory>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace ocspkit::ossl {

template <auto free_fn>
struct deleter {
    template <class T>
    void operator()(T* p) const noexcept { free_fn(p); }
};

using x509_ptr = std::unique_ptr<X509, deleter<X509_free>>;
using x509_name_ptr = std::unique_ptr<X509_NAME, deleter<X509_NAME_free>>;
using x509_store_ptr = std::unique_ptr<X509_STORE, deleter<X509_STORE_free>>;
using x509_store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, deleter<X509_STORE_CTX_free>>;
using x509_extension_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION_free>>;
using evp_pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY_free>>;
using evp_pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, deleter<EVP_PKEY_CTX_free>>;
using evp_md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, deleter<EVP_MD_CTX_free>>;
using evp_md_ptr = std::unique_ptr<EVP_MD, deleter<EVP_MD_free>>;  // fetched with EVP_MD_fetch
using bio_ptr = std::unique_ptr<BIO, deleter<BIO_free_all>>;
using bignum_ptr = std::unique_ptr<BIGNUM, deleter<BN_free>>;
using asn1_integer_ptr = std::unique_ptr<ASN1_INTEGER, deleter<ASN1_INTEGER_free>>;
using asn1_time_ptr = std::unique_ptr<ASN1_TIME, deleter<ASN1_TIME_free>>;
using asn1_generalizedtime_ptr = std::unique_ptr<ASN1_GENERALIZEDTIME, deleter<ASN1_GENERALIZEDTIME_free>>;
using asn1_octet_string_ptr = std::unique_ptr<ASN1_OCTET_STRING, deleter<ASN1_OCTET_STRING_free>>;
using asn1_object_ptr = std::unique_ptr<ASN1_OBJECT, deleter<ASN1_OBJECT_free>>;
using asn1_bit_string_ptr = std::unique_ptr<ASN1_BIT_STRING, deleter<ASN1_BIT_STRING_free>>;
using x509_algor_ptr = std::unique_ptr<X509_ALGOR, deleter<X509_ALGOR_free>>;
using ocsp_request_ptr = std::unique_ptr<OCSP_REQUEST, deleter<OCSP_REQUEST_free>>;
using ocsp_response_ptr = std::unique_ptr<OCSP_RESPONSE, deleter<OCSP_RESPONSE_free>>;
using ocsp_basicresp_ptr = std::unique_ptr<OCSP_BASICRESP, deleter<OCSP_BASICRESP_free>>;
using ocsp_certid_ptr = std::unique_ptr<OCSP_CERTID, deleter<OCSP_CERTID_free>>;
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, deleter<SSL_CTX_free>>;
using ssl_ptr = std::unique_ptr<SSL, deleter<SSL_free>>;
using x509_crl_ptr = std::unique_ptr<X509_CRL, deleter<X509_CRL_free>>;
using x509_revoked_ptr = std::unique_ptr<X509_REVOKED, deleter<X509_REVOKED_free>>;
using asn1_enumerated_ptr = std::unique_ptr<ASN1_ENUMERATED, deleter<ASN1_ENUMERATED_free>>;
using authority_keyid_ptr = std::unique_ptr<AUTHORITY_KEYID, deleter<AUTHORITY_KEYID_free>>;

// STACK_OF(X509) that owns its certificates.
struct x509_stack_deleter {
    void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_pop_free(s, X509_free); }
};
using x509_stack_ptr = std::unique_ptr<STACK_OF(X509), x509_stack_deleter>;

// Takes an extra reference so that a borrowed X509* can be held by an owner.
inline x509_ptr up_ref(X509* cert) {
    X509_up_ref(cert);
    return x509_ptr{cert};
}
inline evp_pkey_ptr up_ref(EVP_PKEY* key) {
    EVP_PKEY_up_ref(key);
    return evp_pkey_ptr{key};
}

}  // namespace ocspkit::ossl
