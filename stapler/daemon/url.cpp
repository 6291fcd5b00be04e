#include "stapler/daemon/url.hpp"

#include <memory>

#include <openssl/x509v3.h>

#include "common/ossl_ptr.hpp"

namespace ocspkit::stapler::daemon {

namespace {

struct openssl_string_stack_deleter {
    void operator()(STACK_OF(OPENSSL_STRING) * s) const noexcept { X509_email_free(s); }
};

}  // namespace

result<std::string> aia_ocsp_url(X509* leaf) {
    if (leaf == nullptr) return error{errc::internal, "no certificate"};
    // X509_get1_ocsp lists the URI accessLocations of id-ad-ocsp entries, in certificate order.
    std::unique_ptr<STACK_OF(OPENSSL_STRING), openssl_string_stack_deleter> urls{X509_get1_ocsp(leaf)};
    if (!urls || sk_OPENSSL_STRING_num(urls.get()) == 0) {
        return error{errc::not_found, "the certificate has no OCSP URL in Authority Information Access"};
    }
    std::string first_other;
    for (int i = 0; i < sk_OPENSSL_STRING_num(urls.get()); ++i) {
        const std::string_view u = sk_OPENSSL_STRING_value(urls.get(), i);
        if (parse_http_url(u)) return std::string(u);
        if (first_other.empty()) first_other = std::string(u);
    }
    return error{errc::unsupported,
                 "the certificate's OCSP URLs are not usable http:// URLs (first: '" + first_other + "')"};
}

}  // namespace ocspkit::stapler::daemon
