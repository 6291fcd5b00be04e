// iequals / istarts_with: ASCII letters fold, nothing else does, lengths must match.
#include "common/ascii.hpp"

#include <clocale>
#include <string>

#include <gtest/gtest.h>

namespace ocspkit {
namespace {

static_assert(iequals("Content-Type", "content-type"));
static_assert(!iequals("max-age", "max-agE "));
static_assert(istarts_with("HTTP://host", "http://"));

TEST(ascii, iequals_folds_ascii_letters_only) {
    EXPECT_TRUE(iequals("", ""));
    EXPECT_TRUE(iequals("application/OCSP-response", "Application/ocsp-Response"));
    EXPECT_TRUE(iequals("keyTime", "KEYTIME"));
    EXPECT_FALSE(iequals("keyTime", "keyTim"));  // a prefix is not equal
    EXPECT_FALSE(iequals("keyTim", "keyTime"));
    EXPECT_FALSE(iequals("a", "b"));
    // '@' and '`' sit right before 'A' and 'a'; '[' and '{' right after 'Z' and 'z'.
    EXPECT_FALSE(iequals("@", "`"));
    EXPECT_FALSE(iequals("[", "{"));
    // Bytes outside ASCII compare exactly, whatever the locale says about them.
    EXPECT_FALSE(iequals("\xc9", "\xe9"));  // É and é in Latin-1
    EXPECT_TRUE(iequals("\xe9", "\xe9"));
    EXPECT_FALSE(iequals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(ascii, istarts_with_compares_the_prefix_only) {
    EXPECT_TRUE(istarts_with("https://ocsp.example", "HTTPS://"));
    EXPECT_TRUE(istarts_with("anything", ""));
    EXPECT_FALSE(istarts_with("http", "http://"));
    EXPECT_FALSE(istarts_with("ftp://x", "http://"));
}

TEST(ascii, a_latin1_locale_changes_nothing) {
    // std::tolower() would fold 0xC9 to 0xE9 in a Latin-1 locale; protocol tokens must not.
    const char* old = std::setlocale(LC_CTYPE, nullptr);
    const std::string saved = old != nullptr ? old : "C";
    if (std::setlocale(LC_CTYPE, "en_US.ISO-8859-1") == nullptr && std::setlocale(LC_CTYPE, "C.UTF-8") == nullptr) {
        GTEST_SKIP() << "no other locale installed";
    }
    EXPECT_FALSE(iequals("\xc9", "\xe9"));
    EXPECT_TRUE(iequals("ABC", "abc"));
    std::setlocale(LC_CTYPE, saved.c_str());
}

}  // namespace
}  // namespace ocspkit
