#include "stapler/daemon/metrics_http.hpp"

#include <charconv>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "stapler/daemon/daemon_tracked.hpp"

namespace ocspkit::stapler::daemon {
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

metrics_server::metrics_server(asio::io_context& io, render_fn render, health_fn health,
                               std::shared_ptr<spdlog::logger> log)
    : io_(io), render_(std::move(render)), health_(std::move(health)), log_(std::move(log)), acceptor_(io) {}

scrape_reply metrics_server::answer(std::string_view method, std::string_view target, const render_fn& render,
                                    const health_fn& health) {
    if (method != "GET" && method != "HEAD") return {405, "text/plain; charset=utf-8", "only GET and HEAD\n"};
    const std::string_view path = target.substr(0, target.find('?'));
    if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", render()};
    if (path == "/health") {
        // A load balancer or systemd-style probe needs only the status; the body says why for a human.
        auto [ok, reason] = health();
        return {ok ? 200u : 503u, "text/plain; charset=utf-8", reason + "\n"};
    }
    return {404, "text/plain; charset=utf-8", "not found: try /metrics or /health\n"};
}

void metrics_server::listen(const std::string& address) {
    std::string host;
    std::string_view port_text;
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error(fmt::format("metrics_listen '{}': not host:port", address));
    host = address.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    port_text = std::string_view(address).substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    boost::system::error_code bec;
    auto ip = asio::ip::make_address(host, bec);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535 || bec)
        throw std::runtime_error(fmt::format("metrics_listen '{}': needs a numeric IP address and a port", address));
    const tcp::endpoint ep(ip, static_cast<unsigned short>(port));
    acceptor_.open(ep.protocol(), bec);
    if (!bec) acceptor_.set_option(asio::socket_base::reuse_address(true), bec);
    if (!bec) acceptor_.bind(ep, bec);
    if (!bec) acceptor_.listen(64, bec);
    if (bec) throw std::runtime_error(fmt::format("metrics_listen '{}': {}", address, bec.message()));
    log_->info("metrics on http://{0}:{1}/metrics, health on http://{0}:{1}/health", address.substr(0, colon),
               acceptor_.local_endpoint().port());
}

unsigned short metrics_server::port() const { return acceptor_.local_endpoint().port(); }

void metrics_server::start() { asio::co_spawn(io_, accept_loop(), log_exceptions(log_, "metrics")); }

void metrics_server::close() {
    boost::system::error_code ec;
    acceptor_.close(ec);
}

asio::awaitable<void> metrics_server::accept_loop() {
    while (acceptor_.is_open()) {
        auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
            continue;
        }
        asio::co_spawn(io_, session(std::move(socket)), log_exceptions(log_, "metrics session"));
    }
}

asio::awaitable<void> metrics_server::session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(10s);
    beast::flat_buffer buffer(8192);
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8192);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    const auto& req = parser.get();
    auto reply = answer(std::string_view(req.method_string().data(), req.method_string().size()),
                        std::string_view(req.target().data(), req.target().size()), render_, health_);
    http::response<http::string_body> res;
    res.version(11);
    res.keep_alive(false);
    res.result(reply.status);
    if (reply.status == 405) res.set(http::field::allow, "GET, HEAD");
    if (!reply.content_type.empty()) res.set(http::field::content_type, reply.content_type);
    res.body() = std::move(reply.body);
    res.prepare_payload();  // HEAD: the Content-Length of the GET body, then no body
    if (req.method() == http::verb::head) res.body().clear();
    co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace ocspkit::stapler::daemon
