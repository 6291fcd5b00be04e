// The control protocol end to end over a real unix socket, with a daemon whose only responder refuses
// connections: start-up completes, the hard-fail certificate is published as "not servable", and the
// `status` / `refresh` clients report it with their exit codes. Plus the JSON shapes.
#include "stapler/daemon/control.hpp"

#include <fstream>
#include <functional>
#include <future>
#include <sstream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include "common/clock.hpp"
#include "stapler/daemon/daemon_tracked.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler::daemon {
namespace {

using namespace std::chrono_literals;
using ocspkit::test::reference_time;

TEST(control_json, status_has_every_field_with_rfc3339_times_or_null) {
    status_snapshot s;
    s.ready = true;
    status_row row;
    row.name = "www";
    row.chain = "/etc/ssl/www.pem";
    row.status = "good";
    row.action = "staple";
    row.this_update = reference_time;
    row.next_update = reference_time + 24h;
    row.fetch_failures = 2;
    row.last_error = "timeout: no answer";
    row.policy = "soft";
    s.certificates.push_back(row);
    auto v = boost::json::parse(status_json(s)).as_object();
    EXPECT_TRUE(v.at("ready").as_bool());
    const auto& c = v.at("certificates").as_array().at(0).as_object();
    for (const char* key : {"name", "chain", "status", "action", "this_update", "next_update", "next_refresh",
                            "last_error", "fetch_failures", "policy"})
        EXPECT_TRUE(c.contains(key)) << key;
    EXPECT_EQ(c.at("this_update").as_string(), "2026-01-01T00:00:00Z");
    EXPECT_EQ(c.at("next_update").as_string(), "2026-01-02T00:00:00Z");
    EXPECT_TRUE(c.at("next_refresh").is_null());
    EXPECT_EQ(c.at("fetch_failures").as_int64(), 2);
    EXPECT_EQ(c.at("last_error").as_string(), "timeout: no answer");
}

TEST(control_json, status_follows_the_shared_json_conventions) {
    status_snapshot s;
    s.ready = false;
    status_row row;
    row.name = "www";
    row.serial = "0A1B";
    row.status = "revoked";
    row.action = "staple";
    row.policy = "hard";
    row.must_staple = true;
    row.revocation_time = reference_time - 1h;
    row.revocation_reason = 1;
    row.last_error = "nginx_file: cannot write: cannot create /x/www.der.tmp.1: No such file or directory";
    row.exports.push_back({export_kind::nginx_file, "/x/www.der", "failed", "cannot write: ...", std::nullopt, 3});
    row.exports.push_back({export_kind::haproxy_api, "/run/haproxy.sock", "ok", "", reference_time, 0});
    s.certificates.push_back(row);
    row.name = "other";
    row.revocation_reason = 6;
    s.certificates.push_back(row);
    row.revocation_reason = 7;  // unassigned in RFC 5280
    s.certificates.push_back(row);
    auto v = boost::json::parse(status_json(s)).as_object();
    EXPECT_FALSE(v.at("ready").as_bool());
    const auto& c = v.at("certificates").as_array().at(0).as_object();
    for (const char* key : {"serial", "must_staple", "produced_at", "revocation_time", "revocation_reason",
                            "last_fetch", "exports"})
        EXPECT_TRUE(c.contains(key)) << key;
    EXPECT_EQ(c.at("serial").as_string(), "0A1B");
    EXPECT_TRUE(c.at("must_staple").as_bool());
    EXPECT_EQ(c.at("revocation_time").as_string(), "2025-12-31T23:00:00Z");
    EXPECT_EQ(c.at("revocation_reason").as_string(), "keyCompromise");
    EXPECT_TRUE(c.at("produced_at").is_null());
    EXPECT_EQ(c.at("last_error").as_string(), row.last_error);
    const auto& exports = c.at("exports").as_array();
    ASSERT_EQ(exports.size(), 2u);
    const auto& nginx = exports.at(0).as_object();
    EXPECT_EQ(nginx.at("kind").as_string(), "nginx_file");
    EXPECT_EQ(nginx.at("target").as_string(), "/x/www.der");
    EXPECT_EQ(nginx.at("state").as_string(), "failed");
    EXPECT_EQ(nginx.at("last_error").as_string(), "cannot write: ...");
    EXPECT_TRUE(nginx.at("written_at").is_null());
    EXPECT_EQ(nginx.at("failures").as_int64(), 3);
    const auto& api = exports.at(1).as_object();
    EXPECT_EQ(api.at("kind").as_string(), "haproxy_api");
    EXPECT_TRUE(api.at("last_error").is_null());
    EXPECT_EQ(api.at("written_at").as_string(), "2026-01-01T00:00:00Z");
    const auto& certs = v.at("certificates").as_array();
    EXPECT_EQ(certs.at(1).at("revocation_reason").as_string(), "certificateHold");
    EXPECT_EQ(certs.at(2).at("revocation_reason").as_string(), "reason7");
}

TEST(control_json, refresh_results_and_errors) {
    std::vector<fetch_report> reports{{"a", true, "revoked", "", ""},
                                      {"b", false, "", "timeout", "10s passed"},
                                      {"c", false, "", "stale", "fetched revoked ... is older than ...", true}};
    auto v = boost::json::parse(refresh_json(true, reports)).as_object();
    const auto& r = v.at("results").as_array();
    EXPECT_EQ(r.at(0).at("status").as_string(), "revoked");
    EXPECT_TRUE(r.at(0).at("reason").is_null());
    EXPECT_FALSE(r.at(0).at("not_published").as_bool());
    EXPECT_FALSE(r.at(1).at("ok").as_bool());
    EXPECT_EQ(r.at(1).at("reason").as_string(), "timeout");
    EXPECT_FALSE(r.at(1).at("not_published").as_bool());
    EXPECT_FALSE(r.at(2).at("ok").as_bool());
    EXPECT_EQ(r.at(2).at("reason").as_string(), "stale");
    EXPECT_TRUE(r.at(2).at("not_published").as_bool());
    EXPECT_EQ(boost::json::parse(error_json("no \"x\"")).at("error").as_string(), "no \"x\"");
}

// Runs `io` on its own thread; stop() (or the destructor, however the test ends) runs `on_stop` on the io
// thread, stops it and joins. A failed ASSERT then reports one failure instead of destroying a joinable
// std::thread, which would abort the whole test binary.
class io_thread {
public:
    io_thread(asio::io_context& io, std::function<void()> on_stop)
        : io_(io), on_stop_(std::move(on_stop)), thread_([this] { io_.run(); }) {}
    ~io_thread() { stop(); }
    io_thread(const io_thread&) = delete;
    io_thread& operator=(const io_thread&) = delete;
    void stop() {
        if (!thread_.joinable()) return;
        asio::post(io_, [this] {
            on_stop_();
            io_.stop();
        });
        thread_.join();
    }

private:
    asio::io_context& io_;
    std::function<void()> on_stop_;
    std::thread thread_;
};

// Waits for the daemon's on_ready callback to fulfil `ready`.
::testing::AssertionResult becomes_ready(std::future<void>& ready, std::chrono::milliseconds limit) {
    if (ready.wait_for(limit) == std::future_status::ready) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "the daemon did not become ready within " << limit.count() << " ms";
}

TEST(control_socket, status_and_refresh_against_a_running_daemon) {
    ocspkit::test::temp_dir dir;
    auto ca = ocspkit::test::make_ca("Control Test CA");
    ocspkit::test::cert_options o;
    o.ocsp_url = "http://127.0.0.1:1/";  // nothing listens on port 1: connect_failed at once
    auto leaf = ocspkit::test::make_cert(ca, "control.example", ocspkit::test::key_type::ec_p256, o);
    ocspkit::test::write_pem(dir / "www.pem", leaf.cert.get());
    ocspkit::test::append_pem(dir / "www.pem", ca.cert.get());
    std::ofstream(dir / "stapler.toml") << "[stapler]\nstate_dir = \"state\"\nshm_path = \"staples\"\n"
                                           "shm_capacity = 16\ncontrol_socket = \"control.sock\"\n"
                                           "startup_timeout = \"5s\"\n[defaults]\npolicy = \"hard\"\n"
                                           "[[certificate]]\nchain = \"www.pem\"\n";
    auto config = load_config(dir / "stapler.toml");
    auto inv = build_inventory(config);
    const auto key = inv.certificates.at(0).key;

    auto log = std::make_shared<spdlog::logger>("control_test", std::make_shared<spdlog::sinks::null_sink_mt>());
    system_clock_source clock;
    asio::io_context io(1);
    stapler_daemon daemon(io, config, std::move(inv), clock, log);
    daemon.open();
    control_server control(io, daemon, config.control_socket, log);
    control.open();
    control.start();
    std::promise<void> on_ready;
    auto ready = on_ready.get_future();
    asio::co_spawn(io, daemon.start([&] { on_ready.set_value(); }), log_exceptions(log, "start"));
    io_thread runner(io, [&] {
        daemon.stop();
        control.close();
    });
    // startup_timeout (5 s) bounds the start-up fetch; connect_failed comes long before that.
    ASSERT_TRUE(becomes_ready(ready, 10s));

    std::ostringstream out, err;
    EXPECT_EQ(status_command(config.control_socket, true, out, err), 0) << err.str();
    auto v = boost::json::parse(out.str()).as_object();
    EXPECT_TRUE(v.at("ready").as_bool());
    const auto& c = v.at("certificates").as_array().at(0).as_object();
    EXPECT_EQ(c.at("name").as_string(), "www");
    EXPECT_EQ(c.at("status").as_string(), "none");
    EXPECT_EQ(c.at("action").as_string(), "not_servable");
    EXPECT_EQ(c.at("policy").as_string(), "hard");
    EXPECT_GE(c.at("fetch_failures").as_int64(), 1);
    EXPECT_EQ(std::string(c.at("last_error").as_string()).rfind("connect_failed", 0), 0u) << c;

    // Readers learn that the certificate cannot be served.
    std::error_code ec;
    auto reader = shm_reader::open((dir / "staples").c_str(), ec);
    ASSERT_TRUE(reader) << ec.message();
    std::vector<std::uint8_t> buffer(4096);
    lookup_result found;
    EXPECT_FALSE(reader->lookup(key, buffer, clock.now_seconds(), found));
    EXPECT_EQ(found.action, staple_action::not_servable);

    std::ostringstream table, err2;
    EXPECT_EQ(status_command(config.control_socket, false, table, err2), 0);
    EXPECT_NE(table.str().find("www "), std::string::npos) << table.str();
    EXPECT_NE(table.str().find("not_servable"), std::string::npos) << table.str();

    std::ostringstream r1, e1;
    EXPECT_EQ(refresh_command(config.control_socket, std::string("www"), r1, e1), 4);
    EXPECT_EQ(r1.str().rfind("www: failed connect_failed", 0), 0u) << r1.str();
    std::ostringstream r2, e2;
    EXPECT_EQ(refresh_command(config.control_socket, std::string("nope"), r2, e2), 4);
    EXPECT_NE(e2.str().find("no certificate named 'nope'"), std::string::npos) << e2.str();

    runner.stop();
    std::ostringstream r3, e3;
    EXPECT_EQ(status_command(config.control_socket, false, r3, e3), 1);
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
