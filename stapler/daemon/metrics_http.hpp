#pragma once
// GET /metrics (Prometheus text format 0.0.4) on [stapler] metrics_listen. One request per connection,
// a 10 s deadline and an 8 KiB header limit per session: it is a scrape endpoint, not a web server.
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <spdlog/logger.h>

namespace ocspkit::stapler::daemon {

class metrics_server {
public:
    using render_fn = std::function<std::string()>;
    metrics_server(boost::asio::io_context& io, render_fn render, std::shared_ptr<spdlog::logger> log);
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
    std::shared_ptr<spdlog::logger> log_;
    boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace ocspkit::stapler::daemon
