// The HTTP front end's own wire code: the request parser that keeps only what the responder needs, and
// the hand-written response heads (checked by parsing them back with Beast's full parser).
#include <gtest/gtest.h>

#include <optional>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "protocol/http_request.hpp"
#include "protocol/http_response.hpp"

namespace ocspkit::protocol {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
constexpr sys_seconds rfc_example{std::chrono::seconds{784111777}};  // Sun, 06 Nov 1994 08:49:37 GMT

// Feeds `wire` to the parser in pieces of `step` bytes, as a socket would deliver it; returns the error.
beast::error_code parse(std::string_view wire, http_request& out, std::size_t step = 1 << 20,
                        std::size_t body_limit = 16384, std::size_t* consumed_total = nullptr) {
    http_request_parser parser(out, 8192, body_limit);
    std::string pending;
    std::size_t offset = 0, consumed = 0;
    beast::error_code ec;
    while (!parser.is_done()) {
        if (offset < wire.size()) {
            const auto n = std::min(step, wire.size() - offset);
            pending.append(wire.substr(offset, n));
            offset += n;
        } else if (pending.empty() || ec == http::error::need_more) {
            parser.put_eof(ec);
            break;
        }
        ec = {};
        const auto used = parser.put(boost::asio::buffer(pending), ec);
        pending.erase(0, used);
        consumed += used;
        if (ec && ec != http::error::need_more) break;
    }
    if (consumed_total) *consumed_total = consumed;
    return ec == http::error::need_more ? beast::error_code{} : ec;
}

TEST(http_request_parser, post_with_body_in_one_piece_and_byte_by_byte) {
    using namespace std::string_literals;
    const std::string wire =
        "POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: 5\r\n\r\nab\0de"s;
    for (std::size_t step : {std::size_t{1}, std::size_t{7}, wire.size()}) {
        SCOPED_TRACE(step);
        http_request req;
        ASSERT_FALSE(parse(std::string_view(wire.data(), wire.size()), req, step));
        EXPECT_EQ(req.method, http::verb::post);
        EXPECT_EQ(req.method_text, "POST");
        EXPECT_EQ(req.target, "/ocsp");
        EXPECT_EQ(req.version, 11u);
        EXPECT_TRUE(req.keep_alive);
        EXPECT_EQ(std::string(req.body.begin(), req.body.end()), std::string("ab\0de", 5));
    }
}

TEST(http_request_parser, keeps_conditional_headers_and_http10_keep_alive) {
    http_request req;
    ASSERT_FALSE(parse("GET /abc HTTP/1.0\r\nConnection: keep-alive\r\nIf-None-Match: \"x\"\r\n"
                       "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
                       req));
    EXPECT_EQ(req.version, 10u);
    EXPECT_TRUE(req.keep_alive);
    EXPECT_EQ(req.if_none_match.value_or(""), "\"x\"");
    EXPECT_EQ(req.if_modified_since.value_or(""), "Sun, 06 Nov 1994 08:49:37 GMT");

    http_request plain10;
    ASSERT_FALSE(parse("GET / HTTP/1.0\r\n\r\n", plain10));
    EXPECT_FALSE(plain10.keep_alive);
    EXPECT_FALSE(plain10.if_none_match);
}

TEST(http_request_parser, reuse_resets_every_field) {
    http_request req;
    ASSERT_FALSE(parse("POST / HTTP/1.1\r\nHost: x\r\nIf-None-Match: a\r\nContent-Length: 3\r\n\r\nabc", req));
    ASSERT_FALSE(parse("GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", req));
    EXPECT_EQ(req.target, "/next");
    EXPECT_TRUE(req.body.empty());
    EXPECT_FALSE(req.if_none_match);
    EXPECT_FALSE(req.keep_alive);
}

TEST(http_request_parser, chunked_body_is_assembled) {
    http_request req;
    ASSERT_FALSE(parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", req, 4));
    EXPECT_EQ(std::string(req.body.begin(), req.body.end()), "abcde");
}

TEST(http_request_parser, pipelined_requests_leave_the_second_unconsumed) {
    const std::string first = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
    const std::string wire = first + "GET /b HTTP/1.1\r\n\r\n";
    http_request req;
    http_request_parser parser(req, 8192, 16384);
    beast::error_code ec;
    const auto used = parser.put(boost::asio::buffer(wire), ec);
    ASSERT_FALSE(ec);
    EXPECT_TRUE(parser.is_done());
    EXPECT_EQ(used, first.size());
}

TEST(http_request_parser, limits_and_garbage_are_errors) {
    http_request req;
    EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n", req), http::error::body_limit);
    const std::string huge_header = "GET / HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n";
    EXPECT_EQ(parse(huge_header, req, 512), http::error::header_limit);
    EXPECT_TRUE(parse("HELLO\r\n\r\n", req));
    EXPECT_TRUE(parse("GET /\r\n\r\n", req));  // HTTP/0.9
    EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", req), http::error::partial_message);
}

// The checks added on top of Beast (RFC 9112 framing, Host, obs-fold, Expect) say which status refuses
// the request, however the bytes are split; the socket-level table is in http_conformance_test.cpp.
struct refusal_case {
    const char* name;
    const char* wire;
    std::optional<http::status> refusal;  // nullopt: accepted
};

TEST(http_request_parser, refusals_do_not_depend_on_how_the_bytes_arrive) {
    const refusal_case cases[] = {
        {"te gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\na", http::status::not_implemented},
        {"te chunked, identity", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", http::status::not_implemented},
        {"te chunked + cl", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\na", std::nullopt},
        {"te on 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", http::status::bad_request},
        {"no host", "GET / HTTP/1.1\r\n\r\n", http::status::bad_request},
        {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", http::status::bad_request},
        {"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", http::status::bad_request},
        {"obs-fold of an empty value", "GET / HTTP/1.1\r\nHost: x\r\nX:\r\n\tb\r\n\r\n", http::status::bad_request},
        {"obs-fold in a trailer", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: a\r\n b\r\n\r\n", http::status::bad_request},
        {"expect other", "GET / HTTP/1.1\r\nHost: x\r\nExpect: x\r\n\r\n", http::status::expectation_failed},
        {"1.0 without host", "GET / HTTP/1.0\r\n\r\n", std::nullopt},
        {"expect on 1.0", "GET / HTTP/1.0\r\nExpect: x\r\n\r\n", std::nullopt},
        {"host in a trailer", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHost: y\r\n\r\n", std::nullopt},
        {"tab in a value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\tb\r\n\r\n", std::nullopt},
    };
    for (const auto& c : cases) {
        for (std::size_t step : {std::size_t{1}, std::size_t{3}, std::size_t{1} << 20}) {
            SCOPED_TRACE(std::string(c.name) + " step " + std::to_string(step));
            http_request req;
            http_request_parser parser(req, 8192, 16384);
            const std::string_view wire = c.wire;
            std::string pending;
            beast::error_code ec;
            for (std::size_t offset = 0; offset < wire.size() && !parser.is_done();) {
                const auto n = std::min(step, wire.size() - offset);
                pending.append(wire.substr(offset, n));
                offset += n;
                ec = {};
                pending.erase(0, parser.put(boost::asio::buffer(pending), ec));
                if (ec && ec != http::error::need_more) break;
            }
            EXPECT_EQ(parser.refusal(), c.refusal);
            if (c.refusal || std::string_view(c.name) == "te chunked + cl") {
                EXPECT_FALSE(parser.is_done());  // Beast refuses the last one itself
                EXPECT_TRUE(ec && ec != http::error::need_more);
            } else {
                EXPECT_TRUE(parser.is_done()) << ec.message();
            }
        }
    }
}

TEST(http_request_parser, expects_continue_only_for_100_continue_on_http11) {
    http_request req;
    ASSERT_FALSE(parse("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\na", req));
    EXPECT_TRUE(req.expects_continue);
    ASSERT_FALSE(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\na", req));
    EXPECT_FALSE(req.expects_continue);
}

// Parses a head we wrote with Beast's complete parser.
http::response<http::string_body> parse_head(const std::string& head, const std::string& body) {
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    beast::error_code ec;
    const std::string wire = head + body;
    parser.put(boost::asio::buffer(wire), ec);
    EXPECT_FALSE(ec) << ec.message() << "\n" << head;
    EXPECT_TRUE(parser.is_done()) << head;
    return parser.release();
}

TEST(http_response_head, cacheable_answer) {
    response_head h;
    h.content_type = "application/ocsp-response";
    h.content_length = 4;
    h.max_age_cacheable = true;
    h.max_age = 3600;
    h.extra_fields = "ETag: \"ab\"\r\n";
    std::string out;
    append_response_head(out, h, rfc_example);
    const auto res = parse_head(out, "abcd");
    EXPECT_EQ(res.result(), http::status::ok);
    EXPECT_EQ(res.version(), 11u);
    EXPECT_EQ(res[http::field::date], "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(res[http::field::cache_control], "max-age=3600, public, no-transform, must-revalidate");
    EXPECT_EQ(res[http::field::etag], "\"ab\"");
    EXPECT_EQ(res[http::field::content_type], "application/ocsp-response");
    EXPECT_EQ(res.body(), "abcd");
    EXPECT_TRUE(res.keep_alive());

    // With a cap for shared caches, s-maxage follows max-age.
    h.s_maxage = 60;
    out.clear();
    append_response_head(out, h, rfc_example);
    EXPECT_EQ(parse_head(out, "abcd")[http::field::cache_control],
              "max-age=3600, s-maxage=60, public, no-transform, must-revalidate");
}

TEST(http_response_head, connection_fields_follow_version_and_keep_alive) {
    for (unsigned version : {10u, 11u}) {
        for (bool keep : {false, true}) {
            response_head h;
            h.version = version;
            h.keep_alive = keep;
            h.cache_control = "no-cache";
            std::string out;
            append_response_head(out, h, rfc_example);
            const auto res = parse_head(out, "");
            EXPECT_EQ(res.version(), version);
            EXPECT_EQ(res.keep_alive(), keep) << out;
            EXPECT_EQ(res[http::field::cache_control], "no-cache");
        }
    }
}

TEST(http_response_head, not_modified_has_no_content_fields) {
    response_head h;
    h.status = http::status::not_modified;
    h.content_type = "application/ocsp-response";
    h.content_length = 500;
    std::string out;
    append_response_head(out, h, rfc_example);
    EXPECT_TRUE(out.starts_with("HTTP/1.1 304 Not Modified\r\n")) << out;
    EXPECT_EQ(out.find("Content-Length"), std::string::npos) << out;
    EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

TEST(http_response_head, date_field_changes_with_the_second) {
    const std::string first(date_field(rfc_example));
    EXPECT_EQ(first, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
    EXPECT_EQ(date_field(rfc_example + std::chrono::seconds{1}), "Date: Sun, 06 Nov 1994 08:49:38 GMT\r\n");
}

}  // namespace
}  // namespace ocspkit::protocol
