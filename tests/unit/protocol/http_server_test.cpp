// The shared HTTP server on a loopback socket with a recording handler: what the handler gets, what the
// client gets back, when connections stay open, and that a refusal or a failing handler ends one
// connection and never the server. (The RFC 9112 refusals themselves are tested request by request,
// through the responder, in tests/unit/responder/http_conformance_test.cpp.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/clock.hpp"
#include "protocol/http_server.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::protocol {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// Answers "<METHOD> <target> <body>" as text; a target of /close answers without keep-alive, /throw
// throws instead of answering. Records every request and refusal.
class recording_handler final : public http_handler {
public:
    asio::awaitable<void> serve(http_request& req, http_exchange& exchange) override {
        {
            std::lock_guard lock(mutex_);
            targets_.push_back(req.target);
        }
        if (req.target == "/throw") throw std::runtime_error("handler failed");
        reply_ = req.method_text + " " + req.target + " " + std::string(req.body.begin(), req.body.end());
        response_head head;
        head.version = req.version;
        head.keep_alive = req.keep_alive && req.target != "/close";
        head.content_type = "text/plain";
        head.content_length = reply_.size();
        head.cache_control = "no-cache";
        co_await exchange.send(head, {reinterpret_cast<const std::uint8_t*>(reply_.data()), reply_.size()});
    }
    void refused(http::status status, std::chrono::steady_clock::duration) override {
        std::lock_guard lock(mutex_);
        refusals_.push_back(status);
    }
    std::vector<std::string> targets() const {
        std::lock_guard lock(mutex_);
        return targets_;
    }
    std::vector<http::status> refusals() const {
        std::lock_guard lock(mutex_);
        return refusals_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> targets_;
    std::vector<http::status> refusals_;
    std::string reply_;  // one network thread: one reply in the making at a time
};

class http_server_test : public ::testing::Test {
protected:
    http_server_test() {
        server_.listen();
        port_ = server_.local_endpoints().front().port();
        thread_ = std::thread([this] { server_.run(); });
    }
    ~http_server_test() override {
        server_.stop();
        thread_.join();
    }

    // Sends `request` on a new connection and returns everything the server sent until it closed, or
    // until 5 s passed (then `closed` is false).
    struct transcript {
        std::string bytes;
        bool closed = false;
    };
    transcript exchange(std::string_view request) {
        asio::io_context io;
        tcp::socket socket(io);
        socket.connect({asio::ip::make_address("127.0.0.1"), port_});
        const timeval patience{5, 0};
        ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
        asio::write(socket, asio::buffer(request));
        transcript t;
        char chunk[4096];
        for (;;) {
            const auto n = ::recv(socket.native_handle(), chunk, sizeof chunk, 0);
            if (n <= 0) {
                t.closed = n == 0 || errno == ECONNRESET;
                break;
            }
            t.bytes.append(chunk, static_cast<std::size_t>(n));
        }
        return t;
    }

    static std::size_t count(std::string_view text, std::string_view what) {
        std::size_t n = 0;
        for (auto pos = text.find(what); pos != std::string_view::npos; pos = text.find(what, pos + 1)) ++n;
        return n;
    }

    recording_handler handler_;
    fake_clock clock_{test::reference_time};
    http_server server_{1, {{"127.0.0.1", 0}}, http_limits{.request_timeout = 2s, .idle_timeout = 2s}, handler_,
                        clock_};
    unsigned short port_ = 0;
    std::thread thread_;
};

TEST_F(http_server_test, the_handler_gets_requests_read_whole_and_keep_alive_serves_the_next) {
    const auto t = exchange(
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /close HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(t.closed) << "the handler's last answer closes the connection";
    EXPECT_EQ(handler_.targets(), (std::vector<std::string>{"/a", "/b", "/close"}));
    EXPECT_NE(t.bytes.find("\r\n\r\nPOST /a hello"), std::string::npos) << t.bytes;
    EXPECT_NE(t.bytes.find("\r\n\r\nGET /b "), std::string::npos) << t.bytes;
    EXPECT_EQ(count(t.bytes, "HTTP/1.1 200 OK\r\n"), 3U) << t.bytes;
    EXPECT_EQ(count(t.bytes, "Connection: close\r\n"), 1U) << t.bytes;
    EXPECT_NE(t.bytes.find("Date: Thu, 01 Jan 2026"), std::string::npos) << "the head is dated by the server's clock";
}

TEST_F(http_server_test, a_request_that_cannot_be_read_is_refused_without_reaching_the_handler) {
    const auto t = exchange("GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    EXPECT_TRUE(t.closed);
    EXPECT_TRUE(t.bytes.starts_with("HTTP/1.1 501 Not Implemented\r\n")) << t.bytes;
    EXPECT_NE(t.bytes.find("Connection: close\r\n"), std::string::npos) << t.bytes;
    EXPECT_TRUE(handler_.targets().empty()) << "nothing after a refusal is read as a request";
    EXPECT_EQ(handler_.refusals(), std::vector<http::status>{http::status::not_implemented});
}

TEST_F(http_server_test, a_failing_handler_ends_its_connection_and_the_server_goes_on) {
    const auto failed = exchange("GET /throw HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(failed.closed);
    EXPECT_TRUE(failed.bytes.empty()) << failed.bytes;
    const auto next = exchange("GET /close HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(next.bytes.starts_with("HTTP/1.1 200 OK\r\n")) << next.bytes;
}

TEST_F(http_server_test, while_draining_answers_close_their_connection) {
    server_.stop_accepting();
    // The acceptor closes on the server's thread; a connection made before that is still served, one
    // made after is refused by the kernel. Either way nothing keeps a connection open.
    try {
        const auto t = exchange("GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n");
        EXPECT_TRUE(t.closed);
        EXPECT_LE(count(t.bytes, "HTTP/1.1 200 OK\r\n"), 1U) << t.bytes;
        if (!t.bytes.empty()) {
            EXPECT_NE(t.bytes.find("Connection: close\r\n"), std::string::npos) << t.bytes;
        }
    } catch (const boost::system::system_error&) {
        SUCCEED() << "refused: the acceptor closed first";
    }
}

TEST(append_refusal, says_the_status_and_closes_the_connection) {
    for (const auto status : {http::status::bad_request, http::status::request_timeout, http::status::not_implemented,
                              http::status::expectation_failed, http::status::payload_too_large,
                              http::status::request_header_fields_too_large}) {
        std::string wire;
        append_refusal(wire, status, test::reference_time);
        http::response_parser<http::string_body> parser;
        parser.eager(true);
        boost::beast::error_code ec;
        parser.put(asio::buffer(wire), ec);
        ASSERT_FALSE(ec) << ec.message() << "\n" << wire;
        ASSERT_TRUE(parser.is_done()) << wire;
        const auto& res = parser.get();
        EXPECT_EQ(res.result(), status);
        EXPECT_EQ(res.version(), 11U);
        EXPECT_FALSE(res.keep_alive());
        EXPECT_EQ(res.body(), std::string(http::obsolete_reason(status)) + "\n");
    }
}

TEST(listen_address, parses_numeric_hosts_and_ports) {
    const auto v4 = parse_listen_address("127.0.0.1:8080");
    ASSERT_TRUE(v4) << v4.error_message();
    EXPECT_EQ(v4->host, "127.0.0.1");
    EXPECT_EQ(v4->port, 8080);
    const auto v6 = parse_listen_address("[::1]:0");
    ASSERT_TRUE(v6) << v6.error_message();
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, 0);
}

TEST(listen_address, refuses_what_a_listener_cannot_bind_and_says_why) {
    for (const std::string_view bad : {"", "8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:80x",
                                       "::1:8080", "[::1]8080", "[::1", ":8080", "localhost:8080", "[nope]:80"}) {
        const auto r = parse_listen_address(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.code(), make_error_code(errc::malformed)) << bad;
        EXPECT_FALSE(r.failure().message.empty()) << bad;
    }
}

}  // namespace
}  // namespace ocspkit::protocol
