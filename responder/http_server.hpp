#pragma once
// HTTP/1.0 and 1.1 front end (Boost.Beast, C++20 coroutines): reads requests within limits and
// timeouts, routes OCSP GET/POST, /health and /metrics, and writes answers with RFC 5019 headers.
// A failure ends one connection, never the server.
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

class http_server {
public:
    http_server(boost::asio::io_context& io, ocsp_service& service, responder_metrics& metrics,
                const clock_source& clock);

    // Binds every configured address; throws std::system_error naming the address on failure.
    void listen();
    // The ports actually bound (useful with port 0).
    std::vector<boost::asio::ip::tcp::endpoint> local_endpoints() const;
    // Stops accepting; requests being answered may finish. Returns the number still in flight.
    void stop_accepting();
    std::size_t in_flight() const noexcept { return in_flight_.load(); }
    std::size_t open_connections() const noexcept { return connections_.load(); }

private:
    boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor);
    boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);

    boost::asio::io_context& io_;
    ocsp_service& service_;
    responder_metrics& metrics_;
    const clock_source& clock_;
    std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
    std::atomic<std::size_t> connections_{0};
    std::atomic<std::size_t> in_flight_{0};
    std::atomic<bool> draining_{false};
};

}  // namespace ocspkit::responder
