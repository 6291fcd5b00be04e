// The AIA OCSP URL of a leaf (the URL parser itself: tests/unit/common/http_url_test.cpp).
#include <gtest/gtest.h>

#include "stapler/daemon/url.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler::daemon {
namespace {

TEST(aia_ocsp_url, http_location) {
    auto ca = test::make_ca("AIA CA");
    auto leaf = test::make_cert(ca, "leaf", test::key_type::ec_p256, {.ocsp_url = "http://ocsp.example.com/ca"});
    auto url = aia_ocsp_url(leaf.cert.get());
    ASSERT_TRUE(url) << url.error_message();
    EXPECT_EQ(*url, "http://ocsp.example.com/ca");
}

TEST(aia_ocsp_url, skips_https_and_takes_first_http) {
    auto ca = test::make_ca("AIA CA");
    // The helper puts the string after "OCSP;URI:" into the extension config, so a list makes two entries.
    auto leaf = test::make_cert(ca, "leaf", test::key_type::ec_p256,
                                {.ocsp_url = "https://secure.example.com/,OCSP;URI:http://a.example.com/,"
                                             "OCSP;URI:http://b.example.com/"});
    auto url = aia_ocsp_url(leaf.cert.get());
    ASSERT_TRUE(url) << url.error_message();
    EXPECT_EQ(*url, "http://a.example.com/");
}

TEST(aia_ocsp_url, https_only_is_an_error) {
    auto ca = test::make_ca("AIA CA");
    auto leaf = test::make_cert(ca, "leaf", test::key_type::ec_p256, {.ocsp_url = "https://secure.example.com/"});
    auto url = aia_ocsp_url(leaf.cert.get());
    ASSERT_FALSE(url);
    EXPECT_NE(url.error_message().find("https://secure.example.com/"), std::string::npos) << url.error_message();
}

TEST(aia_ocsp_url, missing_is_an_error) {
    auto ca = test::make_ca("AIA CA");
    auto leaf = test::make_cert(ca, "leaf");
    auto url = aia_ocsp_url(leaf.cert.get());
    ASSERT_FALSE(url);
    EXPECT_NE(url.error_message().find("no OCSP URL"), std::string::npos) << url.error_message();
    EXPECT_FALSE(aia_ocsp_url(nullptr));
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
