#pragma once
// The responder's HTTP front end: the shared server of protocol/http_server.hpp (reading, limits,
// timeouts, refusals, keep-alive) answering through the responder's handler, which routes with the
// socket-free policy of http_policy.hpp, answers OCSP requests from the response cache or the signing
// pool, and counts metrics and writes the access log.
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/clock.hpp"
#include "protocol/http_server.hpp"
#include "responder/metrics.hpp"
#include "responder/service.hpp"

namespace ocspkit::responder {

class http_server {
public:
    http_server(unsigned network_threads, ocsp_service& service, responder_metrics& metrics,
                const clock_source& clock);
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    // Binds every configured address; throws std::system_error naming the address on failure.
    void listen() { server_->listen(); }
    // The context for signals and timers of the caller; it is also the first network thread's.
    boost::asio::io_context& control_context() { return server_->control_context(); }
    // Runs every network thread (this one included) until stop().
    void run() { server_->run(); }
    // Thread-safe.
    void stop() { server_->stop(); }
    // The ports actually bound (useful with port 0).
    std::vector<boost::asio::ip::tcp::endpoint> local_endpoints() const { return server_->local_endpoints(); }
    // Stops accepting; requests being answered may finish. in_flight() says how many still are.
    void stop_accepting() { server_->stop_accepting(); }
    std::size_t in_flight() const noexcept { return server_->in_flight(); }
    std::size_t open_connections() const noexcept { return server_->open_connections(); }

private:
    class ocsp_handler;
    std::unique_ptr<ocsp_handler> handler_;
    // After the handler, so that it is destroyed first: its coroutines call the handler.
    std::unique_ptr<protocol::http_server> server_;
};

}  // namespace ocspkit::responder
