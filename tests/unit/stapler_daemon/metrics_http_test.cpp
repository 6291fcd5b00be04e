// The metrics listener's routing without sockets: /metrics, /health (GET and HEAD alike, 200 or 503 with
// the reason), 404 and 405. The sockets are covered by tests/integration/stapler/test_operations.py.
#include "stapler/daemon/metrics_http.hpp"

#include <gtest/gtest.h>

namespace ocspkit::stapler::daemon {
namespace {

const metrics_server::render_fn render = [] { return std::string("ocsp_stapler_ready 1\n"); };

metrics_server::health_fn health_of(bool ok, std::string reason) {
    return [ok, reason] { return std::pair<bool, std::string>{ok, reason}; };
}

TEST(metrics_http, metrics_text_for_get_and_head) {
    for (const char* method : {"GET", "HEAD"}) {
        const auto r = metrics_server::answer(method, "/metrics", render, health_of(true, "ok"));
        EXPECT_EQ(r.status, 200u) << method;
        EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
        EXPECT_EQ(r.body, "ocsp_stapler_ready 1\n");
    }
}

TEST(metrics_http, health_is_200_when_healthy_and_503_with_the_reason_otherwise) {
    for (const char* method : {"GET", "HEAD"}) {
        auto r = metrics_server::answer(method, "/health", render, health_of(true, "ok"));
        EXPECT_EQ(r.status, 200u) << method;
        EXPECT_EQ(r.body, "ok\n");
        r = metrics_server::answer(method, "/health?verbose", render,
                                   health_of(false, "www: hard policy and no usable response"));
        EXPECT_EQ(r.status, 503u) << method;
        EXPECT_EQ(r.body, "www: hard policy and no usable response\n");
    }
}

TEST(metrics_http, unknown_paths_and_methods) {
    EXPECT_EQ(metrics_server::answer("GET", "/", render, health_of(true, "ok")).status, 404u);
    EXPECT_EQ(metrics_server::answer("GET", "/healthz", render, health_of(true, "ok")).status, 404u);
    EXPECT_EQ(metrics_server::answer("POST", "/metrics", render, health_of(true, "ok")).status, 405u);
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
