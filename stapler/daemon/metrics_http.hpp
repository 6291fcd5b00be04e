#pragma once
// On [stapler] metrics_listen: GET /metrics (Prometheus text format 0.0.4) and GET /health (200 "ok", or
// 503 with one line per problem: stapler_daemon::health()); HEAD answers both with the same status and
// headers. One request per connection, a 10 s deadline and an 8 KiB header limit per session: it is a
// scrape endpoint, not a web server.
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <spdlog/logger.h>

namespace ocspkit::stapler::daemon {

// What one request gets, decided without sockets.
struct scrape_reply {
    unsigned status = 200;
    std::string content_type;  // empty: none
    std::string body;          // HEAD: sent as Content-Length only
};

class metrics_server {
public:
    using render_fn = std::function<std::string()>;
    using health_fn = std::function<std::pair<bool, std::string>()>;  // (healthy, reason)
    metrics_server(boost::asio::io_context& io, render_fn render, health_fn health, std::shared_ptr<spdlog::logger> log);

    // `method` "GET" or "HEAD" (others get 405), `target` the request target (a query string is ignored).
    static scrape_reply answer(std::string_view method, std::string_view target, const render_fn& render,
                               const health_fn& health);
    // "127.0.0.1:9180" or "[::1]:9180"; port 0 picks one. Throws std::runtime_error.
    void listen(const std::string& address);
    unsigned short port() const;
    void start();
    void close();

private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);

    boost::asio::io_context& io_;
    render_fn render_;
    health_fn health_;
    std::shared_ptr<spdlog::logger> log_;
    boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace ocspkit::stapler::daemon
