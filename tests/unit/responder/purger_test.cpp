// The purger against fake caches on loopback: what it sends, how it retries, gives up, bounds its
// queue and counts.
#include <gtest/gtest.h>

#include <thread>

#include <fmt/format.h>

#include "responder/purge_urls.hpp"
#include "responder/purger.hpp"
#include "tests/support/loopback_server.hpp"
#include "tests/unit/responder/responder_test_util.hpp"

namespace ocspkit::responder {
namespace {

using namespace test_util;
using namespace std::chrono_literals;
using ocspkit::test::fake_http_server;
using ocspkit::test::http_exchange;
using ocspkit::test::http_reply;

std::string status_line(unsigned code, std::string_view reason) {
    return fmt::format("HTTP/1.1 {} {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", code, reason);
}

// Fake caches run on their own io_context thread; the purger runs on its own.
class purger_test : public ::testing::Test {
protected:
    ~purger_test() override {
        io_.stop();
        if (thread_.joinable()) thread_.join();
    }
    fake_http_server& cache(fake_http_server::answer_fn answer) {
        caches_.push_back(std::make_unique<fake_http_server>(io_, std::move(answer)));
        return *caches_.back();
    }
    void start() {
        thread_ = std::thread([this] { io_.run(); });
    }
    // Waits for a condition the purger's thread makes true; false after 10 s.
    template <class Condition>
    static bool eventually(Condition done) {
        for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
            if (done()) return true;
            std::this_thread::sleep_for(5ms);
        }
        return done();
    }
    static http_cache_config config_for(std::vector<std::string> urls) {
        http_cache_config c;
        for (const auto& url : urls) c.purge.push_back(parse_purge_url(url).value());
        c.purge_timeout = 500ms;
        return c;
    }

    boost::asio::io_context io_;
    std::vector<std::unique_ptr<fake_http_server>> caches_;
    std::thread thread_;
    responder_metrics metrics_;
};

TEST_F(purger_test, every_target_gets_a_purge_per_path_with_its_prefix_and_host) {
    auto& varnish = cache([](const http_exchange&) { return http_reply{status_line(200, "Purged")}; });
    auto& nginx = cache([](const http_exchange&) { return http_reply{status_line(404, "Not Found")}; });
    start();
    auto config = config_for({varnish.url("/"), nginx.url("/purge")});
    config.purge[1].host_header = "ocsp.example";
    purger p(config, "/ocsp", metrics_);
    p.purge({"/ocsp/MEkw+/a=", "/ocsp/MGsw"});
    auto& varnish_counters = metrics_.purge_target(config.purge[0].url);
    auto& nginx_counters = metrics_.purge_target(config.purge[1].url);
    ASSERT_TRUE(eventually([&] { return varnish_counters.sent == 2 && nginx_counters.sent == 2; }));
    const auto to_varnish = varnish.seen();
    ASSERT_EQ(to_varnish.size(), 2u);
    EXPECT_EQ(to_varnish[0].method, "PURGE");
    EXPECT_EQ(to_varnish[0].target, "/ocsp/MEkw+/a=");
    EXPECT_EQ(to_varnish[1].target, "/ocsp/MGsw");
    EXPECT_EQ(to_varnish[0].host, fmt::format("127.0.0.1:{}", varnish.port()));
    const auto to_nginx = nginx.seen();
    ASSERT_EQ(to_nginx.size(), 2u);
    EXPECT_EQ(to_nginx[0].target, "/purge/ocsp/MEkw+/a=");
    EXPECT_EQ(to_nginx[0].host, "ocsp.example");
    EXPECT_EQ(varnish_counters.failed + nginx_counters.failed, 0u);
    const auto text = metrics_.render({});
    EXPECT_NE(text.find(fmt::format("ocsp_purges_sent_total{{target=\"{}\"}} 2", config.purge[0].url)), std::string::npos)
        << text;
    EXPECT_NE(text.find(fmt::format("ocsp_purges_failed_total{{target=\"{}\"}} 0", config.purge[1].url)),
              std::string::npos)
        << text;
}

TEST_F(purger_test, changed_certificates_are_purged_under_both_hash_algorithms) {
    auto& varnish = cache([](const http_exchange&) { return http_reply{status_line(200, "Purged")}; });
    start();
    const auto config = config_for({varnish.url()});
    purger p(config, "/", metrics_);
    const issuer_set issuers({make_profile(main_ca(), ca_signer(main_ca()), 7)});
    const std::vector<schema::changed_cert> changes{{7, serial("1001"), 1}, {8, serial("1002"), 2}};
    p.purge_changed(issuers, changes);
    ASSERT_TRUE(eventually([&] { return metrics_.purge_target(config.purge[0].url).sent == 2; }));
    std::vector<std::string> targets;
    for (const auto& e : varnish.seen()) targets.push_back(e.target);
    // Issuer 8 is not served here: nothing of it can be cached.
    EXPECT_EQ(targets, purge_paths("/", issuers.profiles()[0].hashes, serial("1001")));
}

TEST_F(purger_test, a_server_error_is_tried_again_a_refusal_is_not) {
    int calls = 0;
    auto& flaky = cache([&calls](const http_exchange&) {
        return http_reply{++calls == 1 ? status_line(503, "Busy") : status_line(200, "Purged")};
    });
    auto& refusing = cache([](const http_exchange&) { return http_reply{status_line(405, "Not allowed")}; });
    start();
    const auto config = config_for({flaky.url(), refusing.url()});
    purger p(config, "/", metrics_);
    p.purge({"/MEkw"});
    auto& flaky_counters = metrics_.purge_target(config.purge[0].url);
    auto& refusing_counters = metrics_.purge_target(config.purge[1].url);
    ASSERT_TRUE(eventually([&] { return flaky_counters.sent == 1 && refusing_counters.failed == 1; }));
    EXPECT_EQ(flaky.seen().size(), 2u);
    EXPECT_EQ(flaky_counters.failed, 0u);
    EXPECT_EQ(refusing.seen().size(), 1u);
    EXPECT_EQ(refusing_counters.sent, 0u);
}

TEST_F(purger_test, a_target_that_is_down_fails_after_every_attempt_and_the_others_go_on) {
    auto& up = cache([](const http_exchange&) { return http_reply{status_line(200, "Purged")}; });
    auto& down = cache([](const http_exchange&) { return http_reply{status_line(200, "Purged")}; });
    const std::string down_url = down.url();
    down.close();
    start();
    auto config = config_for({down_url, up.url()});
    config.purge_attempts = 3;
    purger p(config, "/", metrics_);
    p.purge({"/a", "/b"});
    auto& down_counters = metrics_.purge_target(config.purge[0].url);
    ASSERT_TRUE(eventually([&] { return down_counters.failed == 2; }));
    EXPECT_EQ(down_counters.sent, 0u);
    EXPECT_EQ(metrics_.purge_target(config.purge[1].url).sent, 2u);
}

TEST_F(purger_test, a_hanging_target_times_out_and_its_queue_stays_bounded) {
    auto& hanging = cache([](const http_exchange&) { return http_reply{status_line(200, "Purged")}; });
    hanging.hold_unread = true;
    start();
    auto config = config_for({hanging.url()});
    config.purge_attempts = 1;
    config.purge_queue = 2;
    config.purge_timeout = 200ms;
    purger p(config, "/", metrics_);
    // One batch: the first two are queued, the rest dropped before the first is even sent.
    p.purge({"/a", "/b", "/c", "/d"});
    auto& counters = metrics_.purge_target(config.purge[0].url);
    ASSERT_TRUE(eventually([&] { return counters.failed == 2; }));
    EXPECT_EQ(counters.dropped, 2u);
    EXPECT_EQ(counters.sent, 0u);
}

TEST_F(purger_test, stop_abandons_what_is_under_way_promptly) {
    auto& hanging = cache([](const http_exchange&) { return http_reply{status_line(200, "Purged")}; });
    hanging.hold_unread = true;
    start();
    auto config = config_for({hanging.url()});
    config.purge_timeout = 60s;
    purger p(config, "/", metrics_);
    p.purge({"/a"});
    ASSERT_TRUE(eventually([&] { return hanging.held() == 1; }));  // the PURGE is under way
    const auto started = std::chrono::steady_clock::now();
    p.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    p.stop();  // idempotent
}

TEST(purger, without_targets_nothing_runs) {
    responder_metrics metrics;
    purger p(http_cache_config{}, "/", metrics);
    p.purge({"/a"});
    p.stop();
    EXPECT_EQ(metrics.render({}).find("ocsp_purges"), std::string::npos);
}

}  // namespace
}  // namespace ocspkit::responder
