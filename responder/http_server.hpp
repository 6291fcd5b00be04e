#pragma once
// HTTP/1.0 and 1.1 front end (Asio C++20 coroutines, Beast's parser): reads requests within limits and
// timeouts, asks the socket-free policy (http_policy.hpp) what to answer, and writes the answer.
// A failure ends one connection, never the server.
//
// Threading: one io_context per network thread, each run by exactly one thread, so a connection's
// handlers never need a strand or a lock. The first context also runs the acceptors, which hand new
// connections to the contexts in turn. Timeouts are deadlines swept by one timer per context rather
// than a timer per read and write.
#include <atomic>
#include <memory>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/clock.hpp"
#include "responder/metrics.hpp"
#include "responder/service.hpp"

namespace ocspkit::responder {

struct http_request;
struct http_response;

class http_server {
public:
    http_server(unsigned network_threads, ocsp_service& service, responder_metrics& metrics,
                const clock_source& clock);
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    // Binds every configured address; throws std::system_error naming the address on failure.
    void listen();
    // The context for signals and timers of the caller; it is also the first network thread's.
    boost::asio::io_context& control_context() { return *contexts_.front(); }
    // Runs every network thread (this one included) until stop().
    void run();
    // Thread-safe.
    void stop();
    // The ports actually bound (useful with port 0).
    std::vector<boost::asio::ip::tcp::endpoint> local_endpoints() const;
    // Stops accepting; requests being answered may finish. Returns the number still in flight.
    void stop_accepting();
    std::size_t in_flight() const noexcept { return in_flight_.load(); }
    std::size_t open_connections() const noexcept { return connections_.load(); }

    struct worker;  // one network thread's context and its connections' deadlines
    struct connection;

private:
    boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor);
    boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket, worker& w);
    // The answer to one request read whole: route() it, fetch what it asks for, format (http_policy.hpp).
    boost::asio::awaitable<http_response> respond(http_request& req);
    boost::asio::awaitable<void> sweep_deadlines(worker& w);

    std::vector<std::unique_ptr<worker>> workers_;
    std::size_t next_worker_ = 0;
    ocsp_service& service_;
    responder_metrics& metrics_;
    const clock_source& clock_;
    std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
    std::atomic<std::size_t> connections_{0};
    std::atomic<std::size_t> in_flight_{0};
    std::atomic<bool> draining_{false};
    // Last, so that it is destroyed first: the coroutines it still holds refer to the members above.
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
};

}  // namespace ocspkit::responder
