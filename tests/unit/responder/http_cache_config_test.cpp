// The [http_cache] section of the responder's configuration: defaults, every key, and each error with
// its file, line and key.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "responder/config.hpp"

namespace ocspkit::responder {
namespace {

using namespace std::chrono_literals;

std::string config_text(std::string_view http_cache) {
    return fmt::format("database = \"/nonexistent/index.db\"\n{}\n[[issuer]]\nca = \"ca.pem\"\nsigner_key = \"ca.key\"\n",
                       http_cache);
}

TEST(http_cache_config, defaults_and_a_full_section) {
    const auto plain = parse_config(config_text(""), "/etc/ocspkit/responder.toml");
    EXPECT_FALSE(plain.http_cache.s_maxage);

    const auto c = parse_config(config_text("[http_cache]\ns_maxage = \"90s\""), "/etc/ocspkit/responder.toml");
    EXPECT_EQ(c.http_cache.s_maxage, std::chrono::seconds{90});
    const auto zero = parse_config(config_text("[http_cache]\ns_maxage = 0"), "/etc/ocspkit/responder.toml");
    EXPECT_EQ(zero.http_cache.s_maxage, std::chrono::seconds{0});
}

struct bad_config_case {
    const char* name;
    const char* section;
    const char* expected;  // the whole message after the file name
};
void PrintTo(const bad_config_case& c, std::ostream* os) { *os << c.name; }

class bad_http_cache : public ::testing::TestWithParam<bad_config_case> {};

TEST_P(bad_http_cache, names_file_line_key_and_reason) {
    try {
        (void)parse_config(config_text(GetParam().section), "/etc/r.toml");
        FAIL() << "accepted";
    } catch (const config_error& e) {
        EXPECT_EQ(std::string(e.what()), std::string("/etc/r.toml:") + GetParam().expected);
    }
}

INSTANTIATE_TEST_SUITE_P(
    http_cache_config, bad_http_cache,
    ::testing::Values(
        bad_config_case{"unknown_key", "[http_cache]\nsmaxage = 5", "3: key 'http_cache.smaxage': unknown key"},
        bad_config_case{"s_maxage_not_a_duration", "[http_cache]\ns_maxage = \"soon\"",
                        "3: key 'http_cache.s_maxage': must be a duration such as \"500ms\", \"30s\", \"15m\", \"24h\" "
                        "or \"7d\""},
        bad_config_case{"s_maxage_too_long", "[http_cache]\ns_maxage = \"400d\"",
                        "3: key 'http_cache.s_maxage': must be between 0s and 366d"},
        bad_config_case{"not_a_table", "http_cache = 5", "2: key 'http_cache': must be a table [http_cache]"}),
    [](const auto& test_info) { return std::string(test_info.param.name); });

}  // namespace
}  // namespace ocspkit::responder
