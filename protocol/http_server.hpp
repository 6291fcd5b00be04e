#pragma once
// HTTP/1.0 and 1.1 server (Asio C++20 coroutines, the parser of http_request.hpp) shared by the
// responder and the stapler's OCSP proxy: it accepts connections, reads requests within the limits and
// timeouts below, refuses what it cannot read, and hands every request read whole to an http_handler,
// which answers through its http_exchange. A failure ends one connection, never the server.
//
// Threading: one io_context per network thread, each run by exactly one thread, so a connection's
// handlers never need a strand or a lock. The first context also runs the acceptors, which hand new
// connections to the contexts in turn. Timeouts are deadlines swept by one timer per context rather
// than a timer per read and write. A handler's serve() runs on its connection's thread; it must move
// blocking work (signing, databases, disks) elsewhere and resume on that thread.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/status.hpp>
#include <spdlog/logger.h>

#include "common/clock.hpp"
#include "protocol/http_request.hpp"
#include "protocol/http_response.hpp"
#include "protocol/listen_address.hpp"

namespace ocspkit::protocol {

struct http_limits {
    std::size_t max_connections = 10000;  // connections above this are closed on accept
    std::size_t max_header_bytes = 8 * 1024;
    std::size_t max_body_bytes = 16 * 1024;
    // The whole request (head and body) must arrive within request_timeout of its first byte, and the
    // first request within request_timeout of the connection's start, so a connection that sends nothing
    // holds its slot no longer than a slow one. Keep-alive waits for a next request by idle_timeout.
    std::chrono::milliseconds request_timeout{10000};
    std::chrono::milliseconds idle_timeout{30000};
};

class http_server;

// One request's way back to its client.
class http_exchange {
public:
    // Writes `head` then `content` in one gather write (within request_timeout). While the server
    // drains, the head is changed to close the connection. False when the connection is gone.
    boost::asio::awaitable<bool> send(response_head head, std::span<const std::uint8_t> content);
    const boost::asio::ip::tcp::endpoint& remote() const noexcept { return remote_; }
    // Open connections to this server, this one included (for metrics).
    std::size_t open_connections() const noexcept;

private:
    friend class http_server;
    struct connection_context;
    http_exchange(connection_context& context, const boost::asio::ip::tcp::endpoint& remote)
        : context_(context), remote_(remote) {}

    connection_context& context_;
    const boost::asio::ip::tcp::endpoint& remote_;
    bool sent_ = false;
    bool keep_open_ = false;
};

class http_handler {
public:
    virtual ~http_handler() = default;
    // Answers one request read whole with exactly one exchange.send(). Exceptions end the connection.
    virtual boost::asio::awaitable<void> serve(http_request& req, http_exchange& exchange) = 0;
    // A request that could not be read (400, 408, 413, 417, 431, 501) has been refused with `status`
    // and its connection closed (after a request that could not be read, where the next one starts is
    // unknown: RFC 9112 §6.3, §9.6). `elapsed` runs from the end of reading.
    virtual void refused(boost::beast::http::status status, std::chrono::steady_clock::duration elapsed) = 0;
};

class http_server {
public:
    // `log` gets accept failures and connections ended by an exception (the default logger if null).
    http_server(unsigned network_threads, std::vector<listen_address> listen, const http_limits& limits,
                http_handler& handler, const clock_source& clock, std::shared_ptr<spdlog::logger> log = nullptr);
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    // Binds every address; throws std::system_error naming the address on failure.
    void listen();
    // The context for signals and timers of the caller; it is also the first network thread's.
    boost::asio::io_context& control_context() { return *contexts_.front(); }
    // Runs every network thread (this one included) until stop().
    void run();
    // Thread-safe.
    void stop();
    // The ports actually bound (useful with port 0).
    std::vector<boost::asio::ip::tcp::endpoint> local_endpoints() const;
    // Stops accepting; requests being answered may finish, then their connections close.
    void stop_accepting();
    // Requests read whole and not yet answered.
    std::size_t in_flight() const noexcept { return in_flight_.load(); }
    std::size_t open_connections() const noexcept { return connections_.load(); }

    struct worker;  // one network thread's context and its connections' deadlines
    struct connection;

private:
    friend class http_exchange;
    boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor);
    boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket, worker& w);
    boost::asio::awaitable<void> sweep_deadlines(worker& w);

    const std::vector<listen_address> listen_;
    const http_limits limits_;
    http_handler& handler_;
    const clock_source& clock_;
    const std::shared_ptr<spdlog::logger> log_;
    std::vector<std::unique_ptr<worker>> workers_;
    std::size_t next_worker_ = 0;
    std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
    std::atomic<std::size_t> connections_{0};
    std::atomic<std::size_t> in_flight_{0};
    std::atomic<bool> draining_{false};
    // Last, so that it is destroyed first: the coroutines it still holds refer to the members above.
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
};

}  // namespace ocspkit::protocol
