#pragma once
// The one fake server of the unit tests that talk to a peer: an accept loop on a loopback TCP port (port
// 0, so tests never collide) or a unix socket, run by the test's io_context, each connection handed to
// a session coroutine. fake_http_server puts a recording HTTP/1.1 server on top of it (the stapler's
// fetcher and daemon tests); the HAProxy runtime-API tests give it their own line protocol.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

namespace ocspkit::test {

template <class Protocol>
class loopback_server {
public:
    using socket_type = typename Protocol::socket;
    // Runs once per accepted connection; the socket lives until the session returns, or until the server
    // is destroyed when the session hands it to hold().
    using session_fn = std::function<boost::asio::awaitable<void>(socket_type&)>;

    loopback_server(boost::asio::io_context& io, typename Protocol::endpoint endpoint, session_fn session)
        : io_(io), acceptor_(io, endpoint), session_(std::move(session)) {
        auto loop = accept_loop();
        boost::asio::co_spawn(io_, std::move(loop), boost::asio::detached);
    }
    loopback_server(const loopback_server&) = delete;
    loopback_server& operator=(const loopback_server&) = delete;

    typename Protocol::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
    // Stops accepting: later connections are refused. Sessions under way go on.
    void close() {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
    }
    // Keeps a connection open, unanswered, for as long as the server lives (a peer that hangs).
    void hold(socket_type socket) { held_.push_back(std::move(socket)); }

private:
    boost::asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
            if (ec) co_return;
            auto s = run_session(std::move(socket));
            boost::asio::co_spawn(io_, std::move(s), boost::asio::detached);
        }
    }
    boost::asio::awaitable<void> run_session(socket_type socket) { co_await session_(socket); }

    boost::asio::io_context& io_;
    typename Protocol::acceptor acceptor_;
    session_fn session_;
    std::list<socket_type> held_;
};

// One HTTP request as the fake server read it.
struct http_exchange {
    std::string method;
    std::string target;
    std::string host;
    std::string content_type;
    std::string body;
};

// What the fake server does with a request: write `bytes` as they are (a whole response, or only a
// head), then `then_stream` more bytes of filler (a body that never seems to end), then shut down its
// sending side.
struct http_reply {
    std::string bytes;
    std::size_t then_stream = 0;
};

// "HTTP/1.1 200" with the body and its length; extra_headers end in CRLF each.
inline std::string http_ok(std::string_view body, std::string_view content_type = "application/ocsp-response",
                           std::string_view extra_headers = "") {
    std::string out = "HTTP/1.1 200 OK\r\nContent-Type: ";
    out.append(content_type).append("\r\nContent-Length: ").append(std::to_string(body.size())).append("\r\n");
    out.append(extra_headers).append("Connection: close\r\n\r\n").append(body);
    return out;
}

// Records every request and answers it with what `answer` returns (on the io thread). With
// `hold_unread`, connections are accepted and never read nor answered: an upstream that hangs.
class fake_http_server {
public:
    using answer_fn = std::function<http_reply(const http_exchange&)>;

    fake_http_server(boost::asio::io_context& io, answer_fn answer)
        : answer_(std::move(answer)),
          server_(io, {boost::asio::ip::make_address("127.0.0.1"), 0},
                  [this](boost::asio::ip::tcp::socket& s) { return session(s); }) {}

    std::uint16_t port() const { return server_.local_endpoint().port(); }
    std::string url(std::string_view path = "/") const {
        return "http://127.0.0.1:" + std::to_string(port()) + std::string(path);
    }
    void close() { server_.close(); }

    // Safe from any thread.
    std::vector<http_exchange> seen() const {
        std::lock_guard lock(mutex_);
        return seen_;
    }
    std::size_t streamed() const {
        std::lock_guard lock(mutex_);
        return streamed_;
    }
    // Connections accepted and held unread (with `hold_unread`).
    std::size_t held() const {
        std::lock_guard lock(mutex_);
        return held_count_;
    }
    bool hold_unread = false;  // set before the connections it is for

private:
    boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket& socket) {
        namespace http = boost::beast::http;
        constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
        if (hold_unread) {
            server_.hold(std::move(socket));
            std::lock_guard lock(mutex_);
            ++held_count_;
            co_return;
        }
        boost::beast::flat_buffer buffer;
        http::request<http::string_body> req;
        auto [ec, n] = co_await http::async_read(socket, buffer, req, use_tuple);
        if (ec) co_return;
        http_exchange seen{std::string(req.method_string()), std::string(req.target()),
                           std::string(req[http::field::host]), std::string(req[http::field::content_type]),
                           req.body()};
        {
            std::lock_guard lock(mutex_);
            seen_.push_back(seen);
        }
        const http_reply reply = answer_(seen);
        auto [wec, w] = co_await boost::asio::async_write(socket, boost::asio::buffer(reply.bytes), use_tuple);
        const std::string filler(64 * 1024, 'x');
        for (std::size_t sent = 0; !wec && sent < reply.then_stream;) {
            const auto chunk = std::min(filler.size(), reply.then_stream - sent);
            std::tie(wec, w) = co_await boost::asio::async_write(socket, boost::asio::buffer(filler, chunk), use_tuple);
            sent += w;
            std::lock_guard lock(mutex_);
            streamed_ += w;
        }
        boost::system::error_code ignored;  // a client that went away is what some tests want
        socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    }

    answer_fn answer_;
    mutable std::mutex mutex_;
    std::vector<http_exchange> seen_;
    std::size_t streamed_ = 0;
    std::size_t held_count_ = 0;
    loopback_server<boost::asio::ip::tcp> server_;  // last: its sessions use the members above
};

}  // namespace ocspkit::test
