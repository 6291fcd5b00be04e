// The HTTP client against an in-process server on 127.0.0.1 (port 0): methods, status and type checks,
// the body limit, the total deadline, refused connections, Cache-Control max-age.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <openssl/evp.h>

#include "stapler/daemon/fetcher.hpp"
#include "stapler/daemon/ocsp_request_builder.hpp"
#include "tests/support/loopback_server.hpp"
#include "tests/unit/stapler_daemon/net_test_support.hpp"

namespace ocspkit::stapler::daemon {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using bytes_t = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

constexpr std::size_t ten_mb = 10 * 1024 * 1024;

enum class behaviour { respond, silent, huge_content_length, huge_close_delimited };

// The fetcher's upstream: answers `response` in respond mode, hangs in silent mode, or streams a 10 MB
// body (with or without Content-Length) that the client must abandon at its limit.
struct fake_responder {
    explicit fake_responder(asio::io_context& ioc) : http(ioc, [this](const ocspkit::test::http_exchange&) { return reply(); }) {}

    std::string url(const std::string& path = "/ocsp") const { return http.url(path); }
    std::uint16_t port() const { return http.port(); }
    void set_mode(behaviour m) {
        mode = m;
        http.hold_unread = m == behaviour::silent;
    }

    behaviour mode = behaviour::respond;
    std::string response;  // the raw bytes sent in respond mode
    ocspkit::test::fake_http_server http;

private:
    ocspkit::test::http_reply reply() const {
        if (mode == behaviour::respond) return {response};
        std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nConnection: close\r\n";
        if (mode == behaviour::huge_content_length) head += "Content-Length: " + std::to_string(ten_mb) + "\r\n";
        return {head + "\r\n", ten_mb};
    }
};

std::string ok_response(const std::string& body, const std::string& extra_headers = "",
                        const std::string& content_type = "application/ocsp-response") {
    return ocspkit::test::http_ok(body, content_type, extra_headers);
}

bytes_t sample_der() { return bytes_t{0x30, 0x03, 0x0a, 0x01, 0x00, 0xfb, 0xff}; }  // any bytes; '+' '/' in base64

struct fetcher_test : testing::Test {
    asio::io_context ioc;
    fake_responder server{ioc};

    fetch_outcome run(fetch_request req) {
        auto out = test_net::run_to_end(ioc, fetch(std::move(req)));
        if (!out) return error{fetch_error::protocol, "test: no outcome"};
        return std::move(*out);
    }
    fetch_request request(bool use_get = true) {
        fetch_request r;
        r.url = server.url();
        r.ocsp_request_der = sample_der();
        r.use_get = use_get;
        r.timeout = 5s;
        return r;
    }
};

TEST_F(fetcher_test, get_200_with_body_and_max_age) {
    server.response = ok_response("RESPONSE", "Cache-Control: max-age=600, public, no-transform\r\n");
    auto out = run(request(true));
    ASSERT_TRUE(out.has_value()) << out.error_message();
    const auto& r = out.value();
    EXPECT_EQ(std::string(r.body.begin(), r.body.end()), "RESPONSE");
    EXPECT_EQ(r.http_status, 200u);
    EXPECT_TRUE(r.used_get);
    ASSERT_TRUE(r.max_age);
    EXPECT_EQ(*r.max_age, 600s);
    const auto seen = server.http.seen();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "GET");
    EXPECT_EQ(seen[0].host, "127.0.0.1:" + std::to_string(server.port()));
    // The target is the base path plus the url-encoded base64 of the DER, which decodes back to it.
    const std::string prefix = "/ocsp/";
    ASSERT_TRUE(seen[0].target.starts_with(prefix)) << seen[0].target;
    std::string b64 = seen[0].target.substr(prefix.size());
    for (auto [from, to] : {std::pair{"%2B", "+"}, std::pair{"%2F", "/"}, std::pair{"%3D", "="}}) {
        for (auto pos = b64.find(from); pos != std::string::npos; pos = b64.find(from)) b64.replace(pos, 3, to);
    }
    EXPECT_EQ(b64, base64_encode(sample_der()));
}

TEST_F(fetcher_test, post_when_asked) {
    server.response = ok_response("R");
    auto out = run(request(false));
    ASSERT_TRUE(out.has_value()) << out.error_message();
    EXPECT_FALSE(out.value().used_get);
    EXPECT_FALSE(out.value().max_age);
    const auto seen = server.http.seen();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].target, "/ocsp");
    EXPECT_EQ(seen[0].content_type, "application/ocsp-request");
    const auto der = sample_der();
    EXPECT_EQ(seen[0].body, std::string(der.begin(), der.end()));
}

TEST_F(fetcher_test, post_when_get_url_would_exceed_255_bytes) {
    server.response = ok_response("R");
    auto req = request(true);
    req.url = server.url("/" + std::string(240, 'p'));
    auto out = run(std::move(req));
    ASSERT_TRUE(out.has_value()) << out.error_message();
    const auto seen = server.http.seen();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "POST");
}

TEST_F(fetcher_test, content_type_parameters_and_case_are_accepted) {
    server.response = ok_response("R", "", "Application/OCSP-Response; charset=binary");
    auto out = run(request());
    EXPECT_TRUE(out.has_value()) << out.error_message();
}

TEST_F(fetcher_test, status_500_is_http_status) {
    server.response = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\noops";
    auto out = run(request());
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(fetch_error_of(out), fetch_error::http_status);
    EXPECT_NE(out.failure().message.find("500"), std::string::npos) << out.failure().message;
}

TEST_F(fetcher_test, wrong_content_type) {
    server.response = ok_response("<html></html>", "", "text/html");
    auto out = run(request());
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(fetch_error_of(out), fetch_error::content_type);
    EXPECT_NE(out.failure().message.find("text/html"), std::string::npos) << out.failure().message;
}

TEST_F(fetcher_test, missing_content_type) {
    server.response = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nR";
    auto out = run(request());
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(fetch_error_of(out), fetch_error::content_type);
}

TEST_F(fetcher_test, body_just_at_the_limit_is_fine) {
    server.response = ok_response(std::string(100, 'b'));
    auto req = request();
    req.max_body = 100;
    auto out = run(std::move(req));
    ASSERT_TRUE(out.has_value()) << out.error_message();
    EXPECT_EQ(out.value().body.size(), 100u);
}

TEST_F(fetcher_test, ten_mb_with_content_length_is_too_large_at_once) {
    server.set_mode(behaviour::huge_content_length);
    const auto start = std::chrono::steady_clock::now();
    auto out = run(request());
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(fetch_error_of(out), fetch_error::too_large) << out.failure().message;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

TEST_F(fetcher_test, ten_mb_streamed_without_length_is_abandoned) {
    server.set_mode(behaviour::huge_close_delimited);
    const auto start = std::chrono::steady_clock::now();
    auto out = run(request());
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(fetch_error_of(out), fetch_error::too_large) << out.failure().message;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
    EXPECT_LT(server.http.streamed(), ten_mb) << "the client read the whole body";
}

TEST_F(fetcher_test, silent_server_times_out) {
    server.set_mode(behaviour::silent);
    auto req = request();
    req.timeout = 300ms;
    const auto start = std::chrono::steady_clock::now();
    auto out = run(std::move(req));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(fetch_error_of(out), fetch_error::timeout) << out.failure().message;
    EXPECT_GE(elapsed, 250ms);
    EXPECT_LT(elapsed, 5s);
}

TEST_F(fetcher_test, garbage_reply_is_protocol) {
    server.response = "SSH-2.0-OpenSSH\r\n\r\n";
    auto out = run(request());
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(fetch_error_of(out), fetch_error::protocol) << out.failure().message;
}

TEST_F(fetcher_test, truncated_body_is_protocol) {
    server.response = "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: 50\r\n\r\nshort";
    auto out = run(request());
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(fetch_error_of(out), fetch_error::protocol) << out.failure().message;
}

TEST_F(fetcher_test, refused_is_connect_failed) {
    std::uint16_t port = 0;
    {
        tcp::acceptor closed(ioc, {asio::ip::make_address("127.0.0.1"), 0});
        port = closed.local_endpoint().port();
    }
    auto req = request();
    req.url = "http://127.0.0.1:" + std::to_string(port) + "/";
    auto out = run(std::move(req));
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(fetch_error_of(out), fetch_error::connect_failed) << out.failure().message;
}

TEST_F(fetcher_test, https_is_bad_url) {
    auto req = request();
    req.url = "https://127.0.0.1/";
    auto out = run(std::move(req));
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(fetch_error_of(out), fetch_error::bad_url);
    EXPECT_TRUE(server.http.seen().empty());
}

TEST_F(fetcher_test, host_name_is_resolved) {
    server.response = ok_response("R");
    auto req = request();
    req.url = "http://localhost:" + std::to_string(server.port()) + "/ocsp";
    auto out = run(std::move(req));
    // localhost may resolve to ::1 first; the connect walks the list until 127.0.0.1 answers.
    ASSERT_TRUE(out.has_value()) << out.error_message();
    const auto seen = server.http.seen();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].host, "localhost:" + std::to_string(server.port()));
}

TEST(fetch_error_names, are_the_metric_labels) {
    EXPECT_EQ(to_string(fetch_error::bad_url), "bad_url");
    EXPECT_EQ(to_string(fetch_error::connect_failed), "connect_failed");
    EXPECT_EQ(to_string(fetch_error::timeout), "timeout");
    EXPECT_EQ(to_string(fetch_error::http_status), "http_status");
    EXPECT_EQ(to_string(fetch_error::content_type), "content_type");
    EXPECT_EQ(to_string(fetch_error::too_large), "too_large");
    EXPECT_EQ(to_string(fetch_error::protocol), "protocol");
}

struct max_age_case {
    const char* name;
    const char* header;
    std::optional<long> seconds;
};
// Named, so GoogleTest does not dump the struct's bytes (padding included) as the parameter.
void PrintTo(const max_age_case& c, std::ostream* os) { *os << c.name; }

class max_age : public testing::TestWithParam<max_age_case> {};
TEST_P(max_age, parses) {
    const auto got = parse_max_age(GetParam().header);
    if (!GetParam().seconds) {
        EXPECT_FALSE(got) << got->count();
    } else {
        ASSERT_TRUE(got);
        EXPECT_EQ(got->count(), *GetParam().seconds);
    }
}
INSTANTIATE_TEST_SUITE_P(
    table, max_age,
    testing::Values(max_age_case{"empty", "", std::nullopt}, max_age_case{"plain", "max-age=300", 300},
                    max_age_case{"zero", "max-age=0", 0},
                    max_age_case{"case_and_spaces", "public ,  MAX-AGE=120 , must-revalidate", 120},
                    max_age_case{"quoted", "max-age=\"45\"", 45},
                    max_age_case{"no_cache_alone", "no-cache", std::nullopt},
                    max_age_case{"no_cache_ignored", "no-cache, no-store, max-age=30", 30},
                    max_age_case{"s_maxage_is_not_max_age", "s-maxage=100", std::nullopt},
                    max_age_case{"quoted_lookalike", "no-cache=\"max-age=5, x\", private", std::nullopt},
                    max_age_case{"quoted_lookalike_then_real", "no-cache=\"max-age=5\", max-age=70", 70},
                    max_age_case{"negative", "max-age=-5", std::nullopt},
                    max_age_case{"junk_value", "max-age=12abc", std::nullopt},
                    max_age_case{"no_value", "max-age", std::nullopt},
                    max_age_case{"empty_value", "max-age=", std::nullopt},
                    max_age_case{"smallest_of_two", "max-age=100, max-age=50", 50},
                    max_age_case{"huge_is_capped", "max-age=99999999999999999999", 2147483648L}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(content_type_check, media_type_only) {
    EXPECT_TRUE(is_ocsp_response_content_type("application/ocsp-response"));
    EXPECT_TRUE(is_ocsp_response_content_type("APPLICATION/OCSP-RESPONSE"));
    EXPECT_TRUE(is_ocsp_response_content_type(" application/ocsp-response ; charset=x"));
    EXPECT_FALSE(is_ocsp_response_content_type(""));
    EXPECT_FALSE(is_ocsp_response_content_type("application/ocsp-request"));
    EXPECT_FALSE(is_ocsp_response_content_type("application/ocsp-responsex"));
    EXPECT_FALSE(is_ocsp_response_content_type("text/html; application/ocsp-response"));
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
