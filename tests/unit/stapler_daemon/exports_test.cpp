// Export side effects: the HAProxy runtime API push (against a fake CLI socket), the reload command
// runner and the nginx reload debouncer. (The atomic file write is tested in tests/unit/common.)
#include <gtest/gtest.h>

#include <csignal>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/base64.hpp"
#include "stapler/daemon/command_runner.hpp"
#include "stapler/daemon/haproxy_runtime.hpp"
#include "stapler/daemon/nginx_reload.hpp"
#include "tests/support/loopback_server.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/unit/stapler_daemon/net_test_support.hpp"

namespace ocspkit::stapler::daemon {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using bytes_t = std::vector<std::uint8_t>;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// --- HAProxy runtime API ---

struct endpoint_case {
    const char* name;
    const char* text;
    bool ok;
    const char* unix_path;
    const char* host;
    std::uint16_t port;
};
// Named, so GoogleTest does not dump the struct's bytes (padding included) as the parameter.
void PrintTo(const endpoint_case& c, std::ostream* os) { *os << c.name; }

class haproxy_endpoint_parse : public testing::TestWithParam<endpoint_case> {};
TEST_P(haproxy_endpoint_parse, table) {
    const auto& c = GetParam();
    auto e = parse_haproxy_endpoint(c.text);
    ASSERT_EQ(bool(e), c.ok) << (e ? "parsed" : e.error_message());
    if (!c.ok) return;
    EXPECT_EQ(e->unix_path, c.unix_path);
    EXPECT_EQ(e->host, c.host);
    EXPECT_EQ(e->port, c.port);
}
INSTANTIATE_TEST_SUITE_P(
    table, haproxy_endpoint_parse,
    testing::Values(endpoint_case{"unix_path", "/run/haproxy/admin.sock", true, "/run/haproxy/admin.sock", "", 0},
                    endpoint_case{"unix_prefix", "unix:/run/h.sock", true, "/run/h.sock", "", 0},
                    endpoint_case{"relative_unix", "run/h.sock", true, "run/h.sock", "", 0},
                    endpoint_case{"ipv4", "127.0.0.1:9999", true, "", "127.0.0.1", 9999},
                    endpoint_case{"name", "localhost:1", true, "", "localhost", 1},
                    endpoint_case{"ipv6", "[::1]:9999", true, "", "::1", 9999},
                    endpoint_case{"empty", "", false, "", "", 0},
                    endpoint_case{"no_port", "localhost", false, "", "", 0},
                    endpoint_case{"bad_port", "localhost:99999", false, "", "", 0},
                    endpoint_case{"empty_port", "localhost:", false, "", "", 0},
                    endpoint_case{"no_host", ":80", false, "", "", 0},
                    endpoint_case{"v6_no_port", "[::1]", false, "", "", 0}),
    [](const auto& p) { return std::string(p.param.name); });

// A fake HAProxy CLI: reads one line, records it, answers `reply` and closes (non-interactive mode),
// or with `silent` keeps the connection open without answering.
template <class Protocol>
class fake_cli {
public:
    fake_cli(asio::io_context& ioc, typename Protocol::endpoint ep)
        : server_(ioc, ep, [this](typename Protocol::socket& s) { return session(s); }) {}
    typename Protocol::endpoint local_endpoint() const { return server_.local_endpoint(); }
    std::string reply = "OCSP Response updated!\n\n";
    bool silent = false;
    std::vector<std::string> lines;

private:
    asio::awaitable<void> session(typename Protocol::socket& socket) {
        std::string buffer;
        auto [ec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer), '\n', use_tuple);
        if (ec) co_return;
        lines.push_back(buffer.substr(0, n));
        if (silent) {
            server_.hold(std::move(socket));
            co_return;
        }
        co_await asio::async_write(socket, asio::buffer(reply), use_tuple);
    }

    test::loopback_server<Protocol> server_;
};
using unix_cli = fake_cli<asio::local::stream_protocol>;
using tcp_cli = fake_cli<asio::ip::tcp>;

struct haproxy_push : testing::Test {
    asio::io_context ioc;
    test::temp_dir dir;
    std::string path = (dir / "admin.sock").string();
    unix_cli cli{ioc, asio::local::stream_protocol::endpoint(path)};
    bytes_t der{0x30, 0x82, 0x01, 0x0a, 0xfb, 0xff, 0x00};

    status push(haproxy_endpoint ep, std::chrono::milliseconds timeout = 5s) {
        auto out = test_net::run_to_end(ioc, push_haproxy_ocsp(std::move(ep), der, timeout));
        if (!out) return error{errc::internal, "test: no outcome"};
        return std::move(*out);
    }
};

TEST_F(haproxy_push, success_over_unix_socket) {
    auto s = push({.unix_path = path});
    ASSERT_TRUE(s) << s.error_message();
    ASSERT_EQ(cli.lines.size(), 1u);
    EXPECT_EQ(cli.lines[0], "set ssl ocsp-response " + base64_encode(der) + "\n");
}

TEST_F(haproxy_push, refusal_carries_the_reply) {
    cli.reply = "Error: no certificate found for this OCSP response.\n\n";
    auto s = push({.unix_path = path});
    ASSERT_FALSE(s);
    EXPECT_NE(s.error_message().find("no certificate found"), std::string::npos) << s.error_message();
}

TEST_F(haproxy_push, silent_haproxy_times_out) {
    cli.silent = true;
    const auto start = std::chrono::steady_clock::now();
    auto s = push({.unix_path = path}, 300ms);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error_message().find("did not answer"), std::string::npos) << s.error_message();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(haproxy_push, missing_socket_is_an_error) {
    auto s = push({.unix_path = (dir / "nothing.sock").string()});
    ASSERT_FALSE(s);
    EXPECT_NE(s.error_message().find("cannot connect"), std::string::npos) << s.error_message();
}

TEST_F(haproxy_push, success_over_tcp) {
    tcp_cli tcp{ioc, {asio::ip::make_address("127.0.0.1"), 0}};
    auto ep = parse_haproxy_endpoint("127.0.0.1:" + std::to_string(tcp.local_endpoint().port()));
    ASSERT_TRUE(ep) << ep.error_message();
    auto s = push(*ep);
    ASSERT_TRUE(s) << s.error_message();
    ASSERT_EQ(tcp.lines.size(), 1u);
    EXPECT_TRUE(tcp.lines[0].starts_with("set ssl ocsp-response "));
}

// --- reload command ---

struct command_test : testing::Test {
    asio::io_context ioc;
    result<command_status> run(std::vector<std::string> argv, std::chrono::milliseconds timeout = 10s) {
        auto out = test_net::run_to_end(ioc, run_command(std::move(argv), timeout));
        if (!out) return error{errc::internal, "test: no outcome"};
        return std::move(*out);
    }
};

TEST_F(command_test, true_succeeds) {
    auto r = run({"true"});
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_TRUE(r->success());
    EXPECT_EQ(r->exit_code, 0);
}

TEST_F(command_test, false_and_exit_codes) {
    auto r = run({"false"});
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_FALSE(r->success());
    EXPECT_TRUE(r->exited);
    EXPECT_EQ(r->exit_code, 1);
    // argv goes through untouched: no shell interprets the second word, sh -c gets it whole.
    auto r3 = run({"sh", "-c", "exit 3"});
    ASSERT_TRUE(r3) << r3.error_message();
    EXPECT_EQ(r3->exit_code, 3);
}

TEST_F(command_test, argument_with_spaces_is_one_argument) {
    test::temp_dir dir;
    const auto file = dir / "a b; echo injected";
    auto r = run({"touch", file.string()});
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_TRUE(r->success());
    EXPECT_TRUE(fs::exists(file));
}

TEST_F(command_test, sleep_is_killed_at_the_timeout) {
    const auto start = std::chrono::steady_clock::now();
    auto r = run({"sleep", "30"}, 200ms);
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_TRUE(r->timed_out);
    EXPECT_FALSE(r->exited);
    EXPECT_EQ(r->signal, SIGKILL);
    EXPECT_FALSE(r->success());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST_F(command_test, cannot_start) {
    auto missing = run({"/nonexistent/ocsp-stapler-reload"});
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error_message().find("/nonexistent/ocsp-stapler-reload"), std::string::npos);
    EXPECT_FALSE(run({}));
}

// --- debouncer ---

TEST(reload_debouncer, first_request_runs_at_once) {
    using tp = reload_debouncer::clock::time_point;
    reload_debouncer d;
    const tp t0{std::chrono::seconds{1000}};
    EXPECT_FALSE(d.due());
    EXPECT_FALSE(d.should_run(t0));
    d.request(t0);
    ASSERT_TRUE(d.due());
    EXPECT_EQ(*d.due(), t0);
    EXPECT_TRUE(d.should_run(t0));
    d.ran(t0);
    EXPECT_FALSE(d.pending());
    EXPECT_FALSE(d.should_run(t0 + 10s));
}

// Requests within a second of the last run wait for the second to pass and coalesce into one reload.
TEST(reload_debouncer, at_most_once_per_second) {
    using tp = reload_debouncer::clock::time_point;
    reload_debouncer d;
    const tp t0{std::chrono::seconds{1000}};
    d.request(t0);
    d.ran(t0);
    d.request(t0 + 100ms);
    d.request(t0 + 300ms);
    ASSERT_TRUE(d.due());
    EXPECT_EQ(*d.due(), t0 + 1s);
    EXPECT_FALSE(d.should_run(t0 + 999ms));
    EXPECT_TRUE(d.should_run(t0 + 1s));
    d.ran(t0 + 1s);
    EXPECT_FALSE(d.pending());
    // Long after the last run a request is due immediately.
    d.request(t0 + 5s);
    EXPECT_EQ(*d.due(), t0 + 5s);
}

TEST(reload_debouncer, custom_interval) {
    using tp = reload_debouncer::clock::time_point;
    reload_debouncer d{250ms};
    const tp t0{std::chrono::seconds{1}};
    d.request(t0);
    d.ran(t0);
    d.request(t0 + 10ms);
    EXPECT_EQ(*d.due(), t0 + 250ms);
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
