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
    EXPECT_TRUE(plain.http_cache.purge.empty());
    const auto zero = parse_config(config_text("[http_cache]\ns_maxage = 0"), "/etc/ocspkit/responder.toml");
    EXPECT_EQ(zero.http_cache.s_maxage, std::chrono::seconds{0});

    const auto c = parse_config(config_text(R"([http_cache]
s_maxage = "90s"
purge_timeout = "750ms"
purge_attempts = 5
purge_queue = 100
[[http_cache.purge]]
url = "http://127.0.0.1:6081"
[[http_cache.purge]]
url = "HTTP://[::1]:8081/purge/"
host = "ocsp.example"
[[http_cache.purge]]
url = "http://cache.internal"
)"),
                                "/etc/ocspkit/responder.toml");
    EXPECT_EQ(c.http_cache.s_maxage, std::chrono::seconds{90});
    EXPECT_EQ(c.http_cache.purge_timeout, 750ms);
    EXPECT_EQ(c.http_cache.purge_attempts, 5u);
    EXPECT_EQ(c.http_cache.purge_queue, 100u);
    ASSERT_EQ(c.http_cache.purge.size(), 3u);
    const auto& v4 = c.http_cache.purge[0];
    EXPECT_EQ(v4.host, "127.0.0.1");
    EXPECT_EQ(v4.port, 6081);
    EXPECT_EQ(v4.path_prefix, "");
    EXPECT_EQ(v4.host_header, "127.0.0.1:6081");
    const auto& v6 = c.http_cache.purge[1];
    EXPECT_EQ(v6.host, "::1");
    EXPECT_EQ(v6.port, 8081);
    EXPECT_EQ(v6.path_prefix, "/purge");
    EXPECT_EQ(v6.host_header, "ocsp.example");
    const auto& named = c.http_cache.purge[2];
    EXPECT_EQ(named.host, "cache.internal");
    EXPECT_EQ(named.port, 80);
    EXPECT_EQ(named.host_header, "cache.internal");
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
        bad_config_case{"not_a_table", "http_cache = 5", "2: key 'http_cache': must be a table [http_cache]"},
        bad_config_case{"attempts_out_of_range", "[http_cache]\npurge_attempts = 0",
                        "3: key 'http_cache.purge_attempts': must be between 1 and 10"},
        bad_config_case{"purge_not_tables", "[http_cache]\npurge = \"http://a\"",
                        "3: key 'http_cache.purge': must be [[http_cache.purge]] tables, each with a url"},
        bad_config_case{"https", "[[http_cache.purge]]\nurl = \"https://cache:443\"",
                        "3: key 'http_cache.purge[0].url': https is not supported: OCSP (RFC 6960 Appendix A.1) and "
                        "cache purges use plain http:// URLs: 'https://cache:443'"},
        bad_config_case{"bad_port", "[[http_cache.purge]]\nurl = \"http://cache:0\"",
                        "3: key 'http_cache.purge[0].url': bad port in URL: 'http://cache:0'"},
        bad_config_case{"no_host", "[[http_cache.purge]]\nurl = \"http://:6081\"",
                        "3: key 'http_cache.purge[0].url': URL has no host: 'http://:6081'"},
        bad_config_case{"userinfo", "[[http_cache.purge]]\nurl = \"http://u@cache\"",
                        "3: key 'http_cache.purge[0].url': URL has userinfo: 'http://u@cache'"},
        bad_config_case{"query", "[[http_cache.purge]]\nurl = \"http://cache/purge?x\"",
                        "3: key 'http_cache.purge[0].url': has a query; a purge URL is http://HOST[:PORT][/PREFIX]: "
                        "'http://cache/purge?x'"},
        bad_config_case{"twice", "[[http_cache.purge]]\nurl = \"http://a\"\n[[http_cache.purge]]\nurl = \"http://a\"",
                        "5: key 'http_cache.purge[1].url': is listed twice"},
        bad_config_case{"unknown_target_key", "[[http_cache.purge]]\nurl = \"http://a\"\nport = 1",
                        "4: key 'http_cache.purge[0].port': unknown key"}),
    [](const auto& test_info) { return std::string(test_info.param.name); });

}  // namespace
}  // namespace ocspkit::responder
