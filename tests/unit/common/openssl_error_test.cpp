// openssl_error takes the error queue at the failure site, so its text describes this failure only.
#include "common/openssl_error.hpp"

#include <regex>
#include <string>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "common/ossl_ptr.hpp"

namespace ocspkit {
namespace {

TEST(openssl_error, carries_and_drains_the_queue_of_a_failed_parse) {
    ERR_clear_error();
    const unsigned char garbage[] = {0x30, 0x03, 0x02, 0x01};  // a SEQUENCE whose length overruns the data
    const unsigned char* p = garbage;
    const ossl::x509_ptr cert{d2i_X509(nullptr, &p, sizeof garbage)};
    ASSERT_FALSE(cert);

    const openssl_error e("parsing the test certificate");
    ASSERT_FALSE(e.queue_text().empty());
    EXPECT_EQ(std::string(e.what()), "parsing the test certificate: " + e.queue_text());
    // Every entry reads "library:reason:file:line".
    EXPECT_TRUE(std::regex_search(e.queue_text(), std::regex{R"(^asn1 encoding routines:[^:;]+:[^:;]+:[0-9]+)"}))
        << e.queue_text();
    EXPECT_EQ(ERR_peek_error(), 0UL) << "the queue must be empty afterwards";
}

TEST(openssl_error, joins_entries_and_keeps_their_data) {
    ERR_clear_error();
    const int first_line = __LINE__ + 1;
    ERR_raise(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE);
    const int second_line = __LINE__ + 1;
    ERR_raise_data(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH, "while %s", "testing");

    EXPECT_EQ(drain_openssl_errors(),
              "x509 certificate routines:cert already in hash table:" + std::string(__FILE__) + ":" +
                  std::to_string(first_line) + "; x509 certificate routines:key values mismatch:" +
                  std::string(__FILE__) + ":" + std::to_string(second_line) + " (while testing)");
    EXPECT_EQ(drain_openssl_errors(), "");
}

TEST(openssl_error, empty_queue_leaves_the_context_alone) {
    ERR_clear_error();
    const openssl_error e("nothing queued");
    EXPECT_EQ(std::string(e.what()), "nothing queued");
    EXPECT_EQ(e.queue_text(), "");
}

}  // namespace
}  // namespace ocspkit
