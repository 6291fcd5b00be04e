// http:// URLs of our plain-HTTP peers (responders, HTTP caches): what is split out, what is refused.
#include <gtest/gtest.h>

#include "common/http_url.hpp"

namespace ocspkit {
namespace {

struct good_url {
    const char* name;
    const char* url;
    const char* host;
    std::uint16_t port;
    const char* target;
    const char* host_header;
};

// Named, so GoogleTest does not dump the struct's bytes (padding included) as the parameter.
void PrintTo(const good_url& c, std::ostream* os) { *os << c.name; }

class url_parse_ok : public testing::TestWithParam<good_url> {};

TEST_P(url_parse_ok, splits) {
    const auto& c = GetParam();
    auto u = parse_http_url(c.url);
    ASSERT_TRUE(u) << u.error_message();
    EXPECT_EQ(u->host, c.host);
    EXPECT_EQ(u->port, c.port);
    EXPECT_EQ(u->target, c.target);
    EXPECT_EQ(u->host_header(), c.host_header);
}

INSTANTIATE_TEST_SUITE_P(
    table, url_parse_ok,
    testing::Values(good_url{"bare_host", "http://ocsp.example.com", "ocsp.example.com", 80, "/", "ocsp.example.com"},
                    good_url{"root", "http://ocsp.example.com/", "ocsp.example.com", 80, "/", "ocsp.example.com"},
                    good_url{"port_path", "http://127.0.0.1:8080/ocsp/ca1", "127.0.0.1", 8080, "/ocsp/ca1",
                             "127.0.0.1:8080"},
                    good_url{"explicit_80", "http://h:80/x", "h", 80, "/x", "h"},
                    good_url{"upper_scheme", "HTTP://Ocsp.Example.COM/a", "Ocsp.Example.COM", 80, "/a",
                             "Ocsp.Example.COM"},
                    good_url{"ipv6", "http://[::1]:8888/ocsp", "::1", 8888, "/ocsp", "[::1]:8888"},
                    good_url{"ipv6_no_port", "http://[2001:db8::5]/", "2001:db8::5", 80, "/", "[2001:db8::5]"},
                    good_url{"query_no_path", "http://h?x=1", "h", 80, "/?x=1", "h"},
                    good_url{"query", "http://h:1/p?x=1", "h", 1, "/p?x=1", "h:1"}),
    [](const auto& p) { return std::string(p.param.name); });

struct bad_url {
    const char* name;
    const char* url;
    const char* message_part;
};

// Named, so GoogleTest does not dump the struct's bytes (padding included) as the parameter.
void PrintTo(const bad_url& c, std::ostream* os) { *os << c.name; }

class url_parse_error : public testing::TestWithParam<bad_url> {};

TEST_P(url_parse_error, names_the_problem) {
    const auto& c = GetParam();
    auto u = parse_http_url(c.url);
    ASSERT_FALSE(u) << "parsed " << c.url;
    EXPECT_NE(u.error_message().find(c.message_part), std::string::npos) << u.error_message();
    // https is well-formed, only outside RFC 6960's transport; everything else in the table is malformed.
    EXPECT_EQ(u.code(), std::string_view(c.name).starts_with("https") ? errc::unsupported : errc::malformed);
}

INSTANTIATE_TEST_SUITE_P(
    table, url_parse_error,
    testing::Values(bad_url{"empty", "", "empty URL"},
                    bad_url{"https", "https://ocsp.example.com/", "https is not supported"},
                    bad_url{"https_upper", "HTTPS://ocsp.example.com/", "https is not supported"},
                    bad_url{"ftp", "ftp://h/", "not an http:// URL"},
                    bad_url{"garbage", "not a url", "not an http:// URL"},
                    bad_url{"no_host", "http://", "no host"},
                    bad_url{"only_port", "http://:8080/", "no host"},
                    bad_url{"empty_port", "http://h:/", "empty port"},
                    bad_url{"port_zero", "http://h:0/", "bad port"},
                    bad_url{"port_too_big", "http://h:65536/", "bad port"},
                    bad_url{"port_letters", "http://h:80a/", "bad port"},
                    bad_url{"userinfo", "http://user:pw@h/", "userinfo"},
                    bad_url{"fragment", "http://h/p#frag", "fragment"},
                    bad_url{"space_in_path", "http://h/a b", "spaces or control"},
                    bad_url{"space_in_host", "http://a b/", "bad host name"},
                    bad_url{"unterminated_v6", "http://[::1/", "unterminated IPv6"},
                    bad_url{"bad_v6", "http://[zz::1]/", "bad IPv6"},
                    bad_url{"junk_after_v6", "http://[::1]x/", "junk after IPv6"}),
    [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace ocspkit
