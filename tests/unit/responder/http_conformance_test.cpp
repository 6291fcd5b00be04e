// The real server on a loopback socket held to RFC 9112 where a lenient reading would let a proxy in
// front and the responder disagree on where a request ends (request smuggling), or let idle clients
// hold connection slots: every refused shape gets its status and a closed connection, and nothing it
// carried is answered as a second request.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "common/clock.hpp"
#include "responder/config.hpp"
#include "responder/http_server.hpp"
#include "responder/metrics.hpp"
#include "responder/service.hpp"
#include "schema/cert_index.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::responder {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr auto request_timeout = 300ms;
constexpr auto idle_timeout = 3s;
// How long a test waits for the server before calling the connection open (far above the timeouts
// above, so it is reached only when the server fails to close).
constexpr auto patience = 5s;

// One responder (one CA signing for itself, an empty index) serving on an ephemeral loopback port.
class live_server {
public:
    live_server() {
        const auto ca = test::make_ca("HTTP conformance CA");
        test::write_pem(dir_ / "ca.pem", ca.cert.get());
        test::write_key(dir_ / "ca.key", ca.key.get());
        {
            auto index = schema::cert_index::open(dir_ / "index.db", sqlite::open_mode::read_write_create);
            index.add_issuer(ca.cert.get());
        }
        config_ = parse_config(fmt::format(R"(database = "{0}/index.db"
[server]
io_threads = 1
signing_threads = 1
request_timeout = "{1}ms"
idle_timeout = "{2}ms"
max_body_bytes = 1024
max_header_bytes = 2048
[log]
access_log = false
[[issuer]]
name = "test"
ca = "{0}/ca.pem"
signer_cert = "{0}/ca.pem"
signer_key = "{0}/ca.key"
)",
                                           dir_.path().string(), request_timeout.count(),
                                           std::chrono::milliseconds(idle_timeout).count()),
                               dir_ / "responder.toml");
        config_.server.listen = {{"127.0.0.1", 0}};
        service_ = std::make_unique<ocsp_service>(config_, clock_, metrics_);
        server_ = std::make_unique<http_server>(1, *service_, metrics_, clock_);
        server_->listen();
        port_ = server_->local_endpoints().front().port();
        thread_ = std::thread([this] { server_->run(); });
    }
    ~live_server() {
        server_->stop();
        thread_.join();
        server_.reset();
        service_->stop();
    }
    unsigned short port() const noexcept { return port_; }

private:
    test::temp_dir dir_;
    fake_clock clock_{test::reference_time};
    responder_metrics metrics_;
    responder_config config_;
    std::unique_ptr<ocsp_service> service_;
    std::unique_ptr<http_server> server_;
    unsigned short port_ = 0;
    std::thread thread_;
};

live_server& server() {
    static live_server s;
    return s;
}

// A client connection whose reads give up after `patience`.
struct client {
    asio::io_context io;
    tcp::socket socket{io};

    client() {
        socket.connect({asio::ip::make_address("127.0.0.1"), server().port()});
        const timeval tv{static_cast<time_t>(std::chrono::seconds(patience).count()), 0};
        ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    void send(std::string_view bytes) { asio::write(socket, asio::buffer(bytes)); }

    // Everything the server sends until it closes; `closed` is false when it was still open at `patience`.
    struct transcript {
        std::string bytes;
        bool closed = false;
        steady::duration waited{};
    };
    transcript read_to_end() {
        transcript t;
        const auto start = steady::now();
        char chunk[4096];
        for (;;) {
            const auto n = ::recv(socket.native_handle(), chunk, sizeof chunk, 0);
            if (n > 0) {
                t.bytes.append(chunk, static_cast<std::size_t>(n));
                continue;
            }
            t.closed = n == 0 || errno == ECONNRESET;
            break;
        }
        t.waited = steady::now() - start;
        return t;
    }
    // Reads exactly `n` octets (or what arrives before the server closes or `patience` passes).
    std::string read_exactly(std::size_t n) {
        std::string out;
        char chunk[512];
        while (out.size() < n) {
            const auto got = ::recv(socket.native_handle(), chunk, std::min(sizeof chunk, n - out.size()), 0);
            if (got <= 0) break;
            out.append(chunk, static_cast<std::size_t>(got));
        }
        return out;
    }
};

// The status codes of every response in `wire`, in order (each head read for its Content-Length, so
// that a body is never taken for a response); -1 for bytes that do not start a response.
std::vector<int> statuses(std::string_view wire) {
    std::vector<int> out;
    while (!wire.empty()) {
        const auto head_end = wire.find("\r\n\r\n");
        if (!wire.starts_with("HTTP/1.") || wire.size() < 12 || head_end == std::string_view::npos) {
            out.push_back(-1);
            break;
        }
        const int status = std::stoi(std::string(wire.substr(9, 3)));
        out.push_back(status);
        const std::string_view head = wire.substr(0, head_end + 2);
        std::size_t length = 0;
        if (const auto at = head.find("\r\nContent-Length: "); at != std::string_view::npos)
            length = std::stoul(std::string(head.substr(at + 18, head.find("\r\n", at + 2) - at - 18)));
        wire.remove_prefix(std::min(wire.size(), head_end + 4 + length));
    }
    return out;
}

struct refusal_case {
    std::string name;
    std::string request;
    int status;
};

std::ostream& operator<<(std::ostream& os, const refusal_case& c) { return os << c.name; }

// What follows every request in the table: if the server took the refused request's bytes for a
// complete request and kept reading, this would be answered too.
constexpr std::string_view smuggled = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

class refused_request : public ::testing::TestWithParam<refusal_case> {};

TEST_P(refused_request, gets_its_status_once_and_the_connection_is_closed) {
    const auto& c = GetParam();
    client cl;
    cl.send(c.request + std::string(smuggled));
    const auto t = cl.read_to_end();
    EXPECT_TRUE(t.closed) << "still open after " << patience.count() << "s:\n" << t.bytes;
    EXPECT_EQ(statuses(t.bytes), std::vector<int>{c.status}) << t.bytes;
    EXPECT_NE(t.bytes.find("\r\nConnection: close\r\n"), std::string::npos) << t.bytes;
}

// A POST head up to (not including) the blank line; callers add their framing fields.
std::string post(std::string_view fields, std::string_view version = "1.1") {
    return fmt::format("POST / HTTP/{}\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n{}", version, fields);
}

INSTANTIATE_TEST_SUITE_P(
    rfc9112, refused_request,
    ::testing::Values(
        // §6.1: a coding we do not implement, whatever else frames the body.
        refusal_case{"te_gzip_before_content_length", post("Transfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello"), 501},
        refusal_case{"te_xchunked_before_content_length", post("Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\nhello"), 501},
        refusal_case{"te_chunked_then_identity", post("Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), 501},
        refusal_case{"te_identity", post("Transfer-Encoding: identity\r\n\r\n"), 501},
        refusal_case{"te_gzip_then_chunked", post("Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), 501},
        refusal_case{"te_gzip_field_then_chunked_field", post("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), 501},
        refusal_case{"te_chunked_field_twice", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400},
        refusal_case{"te_chunked_with_trailing_comma", post("Transfer-Encoding: chunked,\r\n\r\n0\r\n\r\n"), 501},
        // §6.3: chunked and Content-Length together, in either order.
        refusal_case{"te_chunked_then_content_length", post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"), 400},
        refusal_case{"content_length_then_te_chunked", post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400},
        refusal_case{"content_length_then_te_gzip", post("Content-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\nhello"), 400},
        // §6.1: Transfer-Encoding is HTTP/1.1; an HTTP/1.0 message with it is faulty.
        refusal_case{"te_chunked_on_http10", post("Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "1.0"), 400},
        // §3.2: Host on HTTP/1.1, exactly once.
        refusal_case{"http11_without_host", "GET /metrics HTTP/1.1\r\n\r\n", 400},
        refusal_case{"two_hosts", "GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        refusal_case{"two_hosts_on_http10", "GET /metrics HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        // §5.2: obs-fold.
        refusal_case{"obs_fold_space", "GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400},
        refusal_case{"obs_fold_tab_after_empty_value", "GET /metrics HTTP/1.1\r\nHost: x\r\nX-A:\r\n\tb\r\n\r\n", 400},
        refusal_case{"obs_fold_of_content_length", post("Content-Length:\r\n 5\r\n\r\nhello"), 400},
        refusal_case{"obs_fold_of_last_field", "GET /metrics HTTP/1.1\r\nX-A: a\r\n b\r\nHost: x\r\n\r\n", 400},
        refusal_case{"space_before_first_field", "GET /metrics HTTP/1.1\r\n Host: x\r\n\r\n", 400},
        // RFC 9110 §10.1.1: the only expectation is 100-continue.
        refusal_case{"expect_other", post("Expect: 200-ok\r\nContent-Length: 5\r\n\r\nhello"), 417},
        // Limits, chunked bodies counted like Content-Length ones.
        refusal_case{"content_length_over_limit", post("Content-Length: 1025\r\n\r\n"), 413},
        refusal_case{"chunked_over_limit", post("Transfer-Encoding: chunked\r\n\r\n400\r\n" + std::string(1024, 'a') + "\r\n1\r\na\r\n0\r\n\r\n"), 413},
        refusal_case{"header_over_limit", "GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: " + std::string(3000, 'a') + "\r\n\r\n", 431},
        refusal_case{"bad_chunk_size", post("Transfer-Encoding: chunked\r\n\r\nzz\r\n"), 400},
        refusal_case{"bare_lf_line_end", "GET /metrics HTTP/1.1\nHost: x\n\n", 400}),
    [](const auto& test_info) { return test_info.param.name; });

TEST(http_conformance, chunked_body_is_read_whole_and_the_connection_goes_on) {
    client cl;
    // A chunked POST (the OCSP layer answers its garbage body with malformedRequest, status 200), then a
    // second request on the same connection that must be answered as such.
    cl.send(post("Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n") +
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto t = cl.read_to_end();
    EXPECT_TRUE(t.closed);
    EXPECT_EQ(statuses(t.bytes), (std::vector<int>{200, 200})) << t.bytes;
    EXPECT_NE(t.bytes.find("application/ocsp-response"), std::string::npos) << t.bytes;
}

TEST(http_conformance, http10_may_omit_host) {
    client cl;
    cl.send("GET /metrics HTTP/1.0\r\n\r\n");
    const auto t = cl.read_to_end();
    EXPECT_TRUE(t.closed);
    EXPECT_EQ(statuses(t.bytes), std::vector<int>{200}) << t.bytes;
}

TEST(http_conformance, expect_100_continue_gets_100_before_the_body_is_sent) {
    client cl;
    cl.send(post("Expect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\n"));
    const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
    EXPECT_EQ(cl.read_exactly(interim.size()), interim);
    cl.send("abc");
    const auto t = cl.read_to_end();
    EXPECT_TRUE(t.closed);
    EXPECT_EQ(statuses(t.bytes), std::vector<int>{200}) << t.bytes;
}

TEST(http_conformance, expect_100_continue_with_the_body_already_sent_gets_only_the_answer) {
    client cl;
    cl.send(post("Expect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"));
    const auto t = cl.read_to_end();
    EXPECT_EQ(statuses(t.bytes), std::vector<int>{200}) << t.bytes;
}

TEST(http_conformance, expect_on_http10_is_ignored) {
    client cl;
    cl.send("GET /metrics HTTP/1.0\r\nExpect: 200-ok\r\n\r\n");
    EXPECT_EQ(statuses(cl.read_to_end().bytes), std::vector<int>{200});
}

TEST(http_conformance, a_silent_connection_is_closed_after_request_timeout_not_idle_timeout) {
    client cl;
    const auto t = cl.read_to_end();
    EXPECT_TRUE(t.closed);
    EXPECT_EQ(t.bytes, "");  // nothing was asked, nothing is answered
    EXPECT_GE(t.waited, request_timeout - 50ms);
    EXPECT_LT(t.waited, idle_timeout);
}

TEST(http_conformance, a_first_request_trickling_in_is_bound_by_request_timeout_from_the_connection_start) {
    client cl;
    cl.send("GET /metrics HTTP/1.1\r\n");
    const auto t = cl.read_to_end();
    EXPECT_TRUE(t.closed);
    EXPECT_EQ(statuses(t.bytes), std::vector<int>{408}) << t.bytes;
    EXPECT_LT(t.waited, idle_timeout);
}

TEST(http_conformance, keep_alive_waits_use_idle_timeout) {
    client cl;
    cl.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    // The answer, then silence: the connection outlives request_timeout and is closed by idle_timeout.
    const auto start = steady::now();
    const auto t = cl.read_to_end();
    EXPECT_TRUE(t.closed);
    EXPECT_EQ(statuses(t.bytes), std::vector<int>{200}) << t.bytes;
    EXPECT_GE(steady::now() - start, idle_timeout - 100ms);
}

}  // namespace
}  // namespace ocspkit::responder
