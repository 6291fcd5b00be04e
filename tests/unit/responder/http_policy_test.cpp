// The socket-free HTTP policy: routing, and every RFC 5019 caching rule and conditional request, with
// a fake clock (a fixed `now` per call) and cache entries made the way the service makes them.
#include <gtest/gtest.h>

#include <tuple>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fmt/format.h>

#include "protocol/cache_headers.hpp"
#include "responder/http_policy.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::responder {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;
using ocspkit::test::reference_time;

http_request request(http::verb method, std::string target, unsigned version = 11, bool keep_alive = true) {
    http_request r;
    r.method = method;
    r.method_text = std::string(http::to_string(method));
    r.target = std::move(target);
    r.version = version;
    r.keep_alive = keep_alive;
    return r;
}

// An entry as ocsp_service::compute makes it: RFC 5019 caching decided and the validator fields
// formatted once, when the answer is made.
struct entry_spec {
    ocsp_status status = ocsp_status::successful;
    bool has_nonce = false;
    cert_state state = cert_state::good;
};
std::shared_ptr<const cached_answer> entry(entry_spec spec = {}) {
    auto e = std::make_shared<cached_answer>();
    e->der = {0x30, 0x03, 0x0a, 0x01, 0x00};
    e->meta.status = spec.status;
    e->meta.has_nonce = spec.has_nonce;
    e->meta.cert_states = {spec.state};
    e->meta.this_update = reference_time - 1h;
    e->meta.next_update = reference_time + 24h;
    e->meta.cacheable = spec.status == ocsp_status::successful && !spec.has_nonce && spec.state != cert_state::unknown;
    e->etag = protocol::response_etag(e->der);
    if (auto validators = protocol::get_validator_fields(e->meta.http_validity(), e->der, reference_time, e->etag)) {
        e->cacheable_get = true;
        e->get_validators = std::move(*validators);
    }
    return e;
}

// The response as a client reads it: the head formatted at `now` and the content, parsed back by Beast.
http::response<http::string_body> on_the_wire(const http_response& r, sys_seconds now, bool head_request = false) {
    std::string wire;
    append_response_head(wire, r.head, now);
    const auto content = r.content();
    wire.append(content.begin(), content.end());
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.skip(head_request);
    beast::error_code ec;
    parser.put(boost::asio::buffer(wire), ec);
    EXPECT_FALSE(ec) << ec.message() << "\n" << wire;
    EXPECT_TRUE(parser.is_done()) << wire;
    return parser.release();
}

// --- routing ---

struct route_case {
    const char* name;
    http::verb method;
    const char* target;
    const char* ocsp_path;
    http_step::kind what;
    http::status status = http::status::ok;  // for kind::respond
};

void PrintTo(const route_case& c, std::ostream* os) { *os << c.name; }

class routing : public ::testing::TestWithParam<route_case> {};

TEST_P(routing, sends_each_request_where_it_belongs) {
    const auto& c = GetParam();
    const auto req = request(c.method, c.target);
    const auto step = route(req, c.ocsp_path);
    ASSERT_EQ(step.what, c.what);
    if (c.what == http_step::kind::respond) {
        EXPECT_EQ(step.response.head.status, c.status);
        const bool allow = step.response.head.extra_fields.find("Allow: GET, POST, HEAD\r\n") != std::string_view::npos;
        EXPECT_EQ(allow, c.status == http::status::method_not_allowed);
    }
}

INSTANTIATE_TEST_SUITE_P(
    http_policy, routing,
    ::testing::Values(
        route_case{"health_get", http::verb::get, "/health", "/", http_step::kind::report_health},
        route_case{"health_head", http::verb::head, "/health", "/", http_step::kind::report_health},
        route_case{"health_post", http::verb::post, "/health", "/", http_step::kind::respond, http::status::method_not_allowed},
        route_case{"metrics_get", http::verb::get, "/metrics", "/ocsp", http_step::kind::report_metrics},
        route_case{"metrics_delete", http::verb::delete_, "/metrics", "/", http_step::kind::respond, http::status::method_not_allowed},
        route_case{"ocsp_post_root", http::verb::post, "/", "/", http_step::kind::answer_ocsp},
        route_case{"ocsp_get_root", http::verb::get, "/MAMKAQE=", "/", http_step::kind::answer_ocsp},
        route_case{"ocsp_head", http::verb::head, "/MAMKAQE=", "/", http_step::kind::answer_ocsp},
        route_case{"ocsp_put", http::verb::put, "/", "/", http_step::kind::respond, http::status::method_not_allowed},
        route_case{"ocsp_post_under_path", http::verb::post, "/ocsp", "/ocsp", http_step::kind::answer_ocsp},
        route_case{"ocsp_get_under_path", http::verb::get, "/ocsp/MAMKAQE=", "/ocsp", http_step::kind::answer_ocsp},
        route_case{"outside_path", http::verb::get, "/other/MAMKAQE=", "/ocsp", http_step::kind::respond, http::status::not_found},
        route_case{"path_prefix_is_not_the_path", http::verb::post, "/ocspx", "/ocsp", http_step::kind::respond, http::status::not_found},
        route_case{"asterisk", http::verb::options, "*", "/", http_step::kind::respond, http::status::method_not_allowed}),
    [](const auto& test_info) { return std::string(test_info.param.name); });

TEST(http_policy, ocsp_get_decodes_the_path_and_post_takes_the_body) {
    const auto get = request(http::verb::get, "/ocsp/MAMKAQE=");
    const auto get_step = route(get, "/ocsp");
    const std::vector<std::uint8_t> der{0x30, 0x03, 0x0a, 0x01, 0x01};
    EXPECT_TRUE(get_step.from_get_path);
    EXPECT_EQ(std::vector<std::uint8_t>(get_step.ocsp_request(get).begin(), get_step.ocsp_request(get).end()), der);

    // A path that does not decode leaves nothing to look up: the service answers malformedRequest.
    const auto bad = request(http::verb::get, "/ocsp/@@@");
    const auto bad_step = route(bad, "/ocsp");
    EXPECT_EQ(bad_step.what, http_step::kind::answer_ocsp);
    EXPECT_TRUE(bad_step.ocsp_request(bad).empty());

    auto post = request(http::verb::post, "/ocsp");
    post.body = der;
    const auto post_step = route(post, "/ocsp");
    EXPECT_FALSE(post_step.from_get_path);
    EXPECT_EQ(post_step.ocsp_request(post).data(), post.body.data());  // a view, not a copy
}

// --- RFC 5019 caching ---

TEST(http_policy, cacheable_get_answer_carries_max_age_until_next_update_and_the_validators) {
    const auto e = entry();
    for (const auto& [now, max_age] : {std::pair{reference_time, 86400}, std::pair{reference_time + 23h, 3600},
                                       std::pair{reference_time + 24h, 0}, std::pair{reference_time + 48h, 0}}) {
        SCOPED_TRACE(max_age);
        const auto r = ocsp_response(request(http::verb::get, "/x"), e, now);
        const auto res = on_the_wire(r, now);
        EXPECT_EQ(res.result(), http::status::ok);
        EXPECT_EQ(res[http::field::cache_control],
                  fmt::format("max-age={}, public, no-transform, must-revalidate", max_age));
        EXPECT_EQ(res[http::field::date], protocol::imf_fixdate(now));
        EXPECT_EQ(res[http::field::last_modified], protocol::imf_fixdate(reference_time - 1h));
        EXPECT_EQ(res[http::field::expires], protocol::imf_fixdate(reference_time + 24h));
        EXPECT_EQ(res[http::field::etag], e->etag);
        EXPECT_EQ(res[http::field::content_type], "application/ocsp-response");
        EXPECT_EQ(res.body(), std::string(e->der.begin(), e->der.end()));
    }
}

TEST(http_policy, s_maxage_cap_bounds_what_shared_caches_keep) {
    const auto e = entry();
    // The cap, or max-age when that is shorter; clients keep max-age either way.
    for (const auto& [now, cap, expected] :
         {std::tuple{reference_time, 300s, "max-age=86400, s-maxage=300"},
          std::tuple{reference_time + 24h - 100s, 300s, "max-age=100, s-maxage=100"},
          std::tuple{reference_time, 0s, "max-age=86400, s-maxage=0"},
          std::tuple{reference_time + 48h, 300s, "max-age=0, s-maxage=0"}}) {
        SCOPED_TRACE(expected);
        const auto res = on_the_wire(ocsp_response(request(http::verb::get, "/x"), e, now, cap), now);
        EXPECT_EQ(res[http::field::cache_control], std::string(expected) + ", public, no-transform, must-revalidate");
        EXPECT_EQ(res[http::field::etag], e->etag);
    }
}

struct uncacheable_case {
    const char* name;
    entry_spec spec;
    http::verb method;
};

void PrintTo(const uncacheable_case& c, std::ostream* os) { *os << c.name; }

class uncacheable : public ::testing::TestWithParam<uncacheable_case> {};

TEST_P(uncacheable, answer_is_no_cache_without_validators_and_never_304) {
    const auto& c = GetParam();
    auto req = request(c.method, "/x");
    req.if_none_match = "*";
    const auto e = entry(c.spec);
    const auto r = ocsp_response(req, e, reference_time);
    const auto res = on_the_wire(r, reference_time);
    EXPECT_EQ(res.result(), http::status::ok);
    EXPECT_EQ(res[http::field::cache_control], "no-cache");
    EXPECT_EQ(res.count(http::field::etag), 0u);
    EXPECT_EQ(res.count(http::field::last_modified), 0u);
    EXPECT_EQ(res.count(http::field::expires), 0u);
    EXPECT_EQ(res.body(), std::string(e->der.begin(), e->der.end()));
    // A cap for shared caches never makes an uncacheable answer cacheable.
    EXPECT_EQ(on_the_wire(ocsp_response(req, e, reference_time, 60s), reference_time)[http::field::cache_control],
              "no-cache");
}

INSTANTIATE_TEST_SUITE_P(
    http_policy, uncacheable,
    ::testing::Values(uncacheable_case{"post", {}, http::verb::post},
                      uncacheable_case{"nonce", {.has_nonce = true}, http::verb::get},
                      uncacheable_case{"unknown", {.state = cert_state::unknown}, http::verb::get},
                      uncacheable_case{"malformed", {.status = ocsp_status::malformed_request}, http::verb::get},
                      uncacheable_case{"try_later", {.status = ocsp_status::try_later}, http::verb::get},
                      uncacheable_case{"unauthorized", {.status = ocsp_status::unauthorized}, http::verb::get},
                      uncacheable_case{"internal_error", {.status = ocsp_status::internal_error}, http::verb::get}),
    [](const auto& test_info) { return std::string(test_info.param.name); });

TEST(http_policy, revoked_answers_are_cached_like_good_ones) {
    const auto r = ocsp_response(request(http::verb::get, "/x"), entry({.state = cert_state::revoked}), reference_time);
    EXPECT_TRUE(r.head.max_age_cacheable);
}

TEST(http_policy, head_gets_the_get_head_without_content) {
    const auto e = entry();
    const auto get = ocsp_response(request(http::verb::get, "/x"), e, reference_time);
    const auto head = ocsp_response(request(http::verb::head, "/x"), e, reference_time);
    EXPECT_TRUE(head.content().empty());
    std::string get_wire, head_wire;
    append_response_head(get_wire, get.head, reference_time);
    append_response_head(head_wire, head.head, reference_time);
    EXPECT_EQ(head_wire, get_wire);
    EXPECT_EQ(on_the_wire(head, reference_time, true)[http::field::content_length], std::to_string(e->der.size()));

    const auto health = health_response(request(http::verb::head, "/health"), true, "database: ok\n");
    EXPECT_TRUE(health.content().empty());
    EXPECT_EQ(health.head.content_length, std::string("database: ok\n").size());
}

// --- conditional requests (RFC 9110 §13.1) ---

struct conditional_case {
    const char* name;
    std::optional<std::string> if_none_match;
    std::optional<std::string> if_modified_since;
    bool expect_304;
};

void PrintTo(const conditional_case& c, std::ostream* os) { *os << c.name; }

class conditional : public ::testing::TestWithParam<conditional_case> {};

TEST_P(conditional, gets_304_exactly_when_the_validators_match) {
    const auto& c = GetParam();
    const auto e = entry();
    for (const auto method : {http::verb::get, http::verb::head}) {
        auto req = request(method, "/x");
        auto replace_etag = [&](std::optional<std::string> v) {
            if (v) {
                const auto at = v->find("ETAG");
                if (at != std::string::npos) v->replace(at, 4, e->etag.substr(1, e->etag.size() - 2));
            }
            return v;
        };
        req.if_none_match = replace_etag(c.if_none_match);
        req.if_modified_since = c.if_modified_since;
        const auto r = ocsp_response(req, e, reference_time);
        EXPECT_EQ(r.head.status == http::status::not_modified, c.expect_304);
        EXPECT_EQ(is_not_modified(req, *e), c.expect_304);
        if (c.expect_304) {
            EXPECT_TRUE(r.content().empty());
            std::string wire;
            append_response_head(wire, r.head, reference_time);
            EXPECT_EQ(wire.find("Content-Length"), std::string::npos) << wire;
            EXPECT_NE(wire.find("ETag: " + e->etag), std::string::npos) << wire;  // RFC 9110 §15.4.5
        }
    }
}

// thisUpdate is reference_time - 1h: Sun... 2025-12-31 23:00:00 GMT.
INSTANTIATE_TEST_SUITE_P(
    http_policy, conditional,
    ::testing::Values(
        conditional_case{"inm_matches", "\"ETAG\"", std::nullopt, true},
        conditional_case{"inm_weak_matches", "W/\"ETAG\"", std::nullopt, true},
        conditional_case{"inm_in_list", "\"a\", \"ETAG\"", std::nullopt, true},
        conditional_case{"inm_star", "*", std::nullopt, true},
        conditional_case{"inm_other", "\"other\"", std::nullopt, false},
        conditional_case{"inm_garbage", "ETAG", std::nullopt, false},
        conditional_case{"ims_at_this_update", std::nullopt, "Wed, 31 Dec 2025 23:00:00 GMT", true},
        conditional_case{"ims_after", std::nullopt, "Thu, 01 Jan 2026 00:00:00 GMT", true},
        conditional_case{"ims_before", std::nullopt, "Wed, 31 Dec 2025 22:59:59 GMT", false},
        conditional_case{"ims_rfc850", std::nullopt, "Wednesday, 31-Dec-25 23:00:00 GMT", true},
        conditional_case{"ims_invalid", std::nullopt, "yesterday", false},
        conditional_case{"inm_wins_over_ims", "\"other\"", "Thu, 01 Jan 2026 00:00:00 GMT", false}),
    [](const auto& test_info) { return std::string(test_info.param.name); });

TEST(http_policy, conditional_post_is_answered_in_full) {
    auto req = request(http::verb::post, "/");
    req.if_none_match = "*";
    EXPECT_EQ(ocsp_response(req, entry(), reference_time).head.status, http::status::ok);
}

// --- the rest ---

TEST(http_policy, health_and_metrics_are_never_cached) {
    const auto ok = on_the_wire(health_response(request(http::verb::get, "/health"), true, "all ok\n"), reference_time);
    EXPECT_EQ(ok.result(), http::status::ok);
    EXPECT_EQ(ok[http::field::cache_control], "no-cache");
    EXPECT_EQ(ok.body(), "all ok\n");
    const auto bad = on_the_wire(health_response(request(http::verb::get, "/health"), false, "db: FAIL\n"), reference_time);
    EXPECT_EQ(bad.result(), http::status::service_unavailable);
    const auto metrics = on_the_wire(metrics_response(request(http::verb::get, "/metrics"), "m 1\n"), reference_time);
    EXPECT_EQ(metrics[http::field::content_type], "text/plain; version=0.0.4");
    EXPECT_EQ(metrics[http::field::cache_control], "no-cache");
}

TEST(http_policy, answers_keep_the_version_and_the_clients_keep_alive) {
    for (const unsigned version : {10u, 11u}) {
        for (const bool keep : {false, true}) {
            const auto r = ocsp_response(request(http::verb::get, "/x", version, keep), entry(), reference_time);
            const auto res = on_the_wire(r, reference_time);
            EXPECT_EQ(res.version(), version);
            EXPECT_EQ(res.keep_alive(), keep);
        }
    }
}

TEST(http_policy, not_found_and_method_not_allowed_say_so) {
    const auto nf = route(request(http::verb::get, "/elsewhere"), "/ocsp");
    EXPECT_EQ(on_the_wire(nf.response, reference_time).body(), "Not Found\n");
    const auto na = on_the_wire(route(request(http::verb::put, "/ocsp"), "/ocsp").response, reference_time);
    EXPECT_EQ(na[http::field::allow], "GET, POST, HEAD");
}

}  // namespace
}  // namespace ocspkit::responder
