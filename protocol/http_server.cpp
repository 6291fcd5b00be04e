#include "protocol/http_server.hpp"

#include <array>
#include <list>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ocspkit::protocol {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A connection's current deadline; the worker's sweeper cancels the socket's pending operation once
// it has passed.
struct http_server::connection {
    tcp::socket* socket = nullptr;
    steady::time_point deadline = steady::time_point::max();
    bool expired(steady::time_point now) const noexcept { return now >= deadline; }
};

struct http_server::worker {
    asio::io_context& io;
    std::list<connection> connections;  // touched only by this worker's thread
};

// What an exchange writes through: its connection, and a head buffer the connection reuses.
struct http_exchange::connection_context {
    http_server& server;
    tcp::socket& socket;
    http_server::connection& conn;
    std::string& head;
};

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Deadline precision: a timed-out operation is cancelled at most this much late.
constexpr auto sweep_interval = 100ms;

// Writes `head` then `body` in one gather write; false when the connection is gone.
asio::awaitable<bool> write_response(tcp::socket& socket, http_server::connection& conn,
                                     std::chrono::milliseconds timeout, const std::string& head,
                                     std::span<const std::uint8_t> body) {
    conn.deadline = steady::now() + timeout;
    boost::system::error_code ec;
    if (body.empty()) {
        std::tie(ec, std::ignore) = co_await asio::async_write(socket, asio::buffer(head), use_tuple);
    } else {
        const std::array<asio::const_buffer, 2> parts{asio::buffer(head), asio::buffer(body.data(), body.size())};
        std::tie(ec, std::ignore) = co_await asio::async_write(socket, parts, use_tuple);
    }
    conn.deadline = steady::time_point::max();
    co_return !ec;
}

// How reading a request ended: a complete request, a connection to close without answering (the peer
// went away, or sent nothing before its deadline), or a refusal to answer with `refusal` and close.
struct read_result {
    enum { complete, closed, refused } kind = complete;
    http::status refusal = http::status::bad_request;
};

constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

// Reads one request into `req` by `deadline` (bytes already in `buffer` first; a pipelined next request
// stays there). Answers "100 Continue" when the client waits for it before sending the body.
asio::awaitable<read_result> read_request(tcp::socket& socket, http_server::connection& conn,
                                          beast::flat_buffer& buffer, http_request& req, const http_limits& limits,
                                          steady::time_point deadline) {
    conn.deadline = deadline;
    http_request_parser parser(req, limits.max_header_bytes, limits.max_body_bytes);
    bool continue_sent = false;
    while (!parser.is_done()) {
        if (buffer.size() > 0) {
            beast::error_code perr;
            const auto used = parser.put(buffer.data(), perr);
            buffer.consume(used);
            if (perr && perr != http::error::need_more) {
                co_return read_result{read_result::refused,
                                      parser.refusal()                     ? *parser.refusal()
                                      : perr == http::error::body_limit    ? http::status::payload_too_large
                                      : perr == http::error::header_limit  ? http::status::request_header_fields_too_large
                                                                           : http::status::bad_request};
            }
            if (parser.is_done()) break;
            // After need_more, Beast must be given more bytes before it is called again: its chunk
            // parser asserts so (found by fuzz_http_request in the sanitizer build, which keeps asserts).
            if (used > 0 && buffer.size() > 0 && perr != http::error::need_more) continue;
        }
        // RFC 9110 §10.1.1: the client may wait for this before sending the body (it need not be sent
        // when the body is already arriving).
        if (parser.is_header_done() && req.expects_continue && !continue_sent) {
            continue_sent = true;
            auto [ec, n] = co_await asio::async_write(socket, asio::buffer(continue_line), use_tuple);
            if (ec) co_return read_result{read_result::closed};
        }
        auto [ec, n] = co_await socket.async_read_some(buffer.prepare(4096), use_tuple);
        if (ec) {
            // A client that sent part of a request before its deadline is told so; one that sent nothing
            // (a silent connection, or a keep-alive connection that stayed idle) is simply closed.
            const bool timed_out = ec == asio::error::operation_aborted && conn.expired(steady::now());
            co_return timed_out && parser.got_some() ? read_result{read_result::refused, http::status::request_timeout}
                                                     : read_result{read_result::closed};
        }
        buffer.commit(n);
    }
    co_return read_result{};
}

}  // namespace

asio::awaitable<bool> http_exchange::send(response_head head, std::span<const std::uint8_t> content) {
    head.keep_alive = head.keep_alive && !context_.server.draining_;
    context_.head.clear();
    append_response_head(context_.head, head, context_.server.clock_.now_seconds());
    sent_ = true;
    const bool written = co_await write_response(context_.socket, context_.conn, context_.server.limits_.request_timeout,
                                                 context_.head, content);
    keep_open_ = written && head.keep_alive;
    co_return written;
}

std::size_t http_exchange::open_connections() const noexcept { return context_.server.open_connections(); }

http_server::http_server(unsigned network_threads, std::vector<listen_address> listen, const http_limits& limits,
                         http_handler& handler, const clock_source& clock, std::shared_ptr<spdlog::logger> log)
    : listen_(std::move(listen)), limits_(limits), handler_(handler), clock_(clock),
      log_(log ? std::move(log) : spdlog::default_logger()) {
    const unsigned n = std::max(1u, network_threads);
    for (unsigned i = 0; i < n; ++i) {
        // Concurrency hint 1: each context is run by one thread, which lets Asio skip some signalling.
        contexts_.push_back(std::make_unique<asio::io_context>(1));
        workers_.push_back(std::make_unique<worker>(worker{*contexts_.back(), {}}));
    }
}

http_server::~http_server() {
    stop();
    // Destroy what still waits on the contexts while the workers and counters it refers to exist.
    acceptors_.clear();
    contexts_.clear();
}

void http_server::listen() {
    auto& first = control_context();
    for (const auto& addr : listen_) {
        boost::system::error_code ec;
        auto ip = asio::ip::make_address(addr.host, ec);
        if (ec) throw std::system_error(ec, fmt::format("listen address '{}'", addr.host));
        tcp::endpoint endpoint(ip, addr.port);
        auto acceptor = std::make_unique<tcp::acceptor>(first);
        acceptor->open(endpoint.protocol());
        acceptor->set_option(asio::socket_base::reuse_address(true));
        if (endpoint.address().is_v6()) acceptor->set_option(asio::ip::v6_only(true));
        acceptor->bind(endpoint, ec);
        if (ec) throw std::system_error(ec, fmt::format("cannot listen on {}:{}", addr.host, addr.port));
        acceptor->listen(asio::socket_base::max_listen_connections);
        acceptors_.push_back(std::move(acceptor));
    }
    for (auto& a : acceptors_) asio::co_spawn(first, accept_loop(*a), asio::detached);
    for (auto& w : workers_) asio::co_spawn(w->io, sweep_deadlines(*w), asio::detached);
}

std::vector<tcp::endpoint> http_server::local_endpoints() const {
    std::vector<tcp::endpoint> out;
    for (const auto& a : acceptors_) out.push_back(a->local_endpoint());
    return out;
}

void http_server::run() {
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < contexts_.size(); ++i) threads.emplace_back([ctx = contexts_[i].get()] {
        auto guard = asio::make_work_guard(*ctx);  // idle until the first connection arrives
        ctx->run();
    });
    contexts_.front()->run();
    for (auto& t : threads) t.join();
}

void http_server::stop() {
    for (auto& c : contexts_) c->stop();
}

void http_server::stop_accepting() {
    draining_ = true;
    asio::post(control_context(), [this] {
        for (auto& a : acceptors_) {
            boost::system::error_code ignored;
            a->close(ignored);
        }
    });
}

asio::awaitable<void> http_server::sweep_deadlines(worker& w) {
    asio::steady_timer timer(w.io);
    for (;;) {
        timer.expires_after(sweep_interval);
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (ec) co_return;
        const auto now = steady::now();
        for (auto& c : w.connections) {
            // Cancelling again on every sweep also catches an operation started after the deadline.
            if (c.expired(now)) {
                boost::system::error_code ignored;
                c.socket->cancel(ignored);
            }
        }
    }
}

asio::awaitable<void> http_server::accept_loop(tcp::acceptor& acceptor) {
    for (;;) {
        worker& w = *workers_[next_worker_++ % workers_.size()];
        auto [ec, socket] = co_await acceptor.async_accept(w.io, use_tuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            // Out of descriptors or a transient error: back off briefly instead of spinning.
            log_->warn("accept failed: {}", ec.message());
            asio::steady_timer t(acceptor.get_executor(), 50ms);
            co_await t.async_wait(use_tuple);
            continue;
        }
        if (connections_.load() >= limits_.max_connections) {
            boost::system::error_code ignored;
            socket.close(ignored);
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        asio::co_spawn(w.io, session(std::move(socket), w), asio::detached);
    }
}

asio::awaitable<void> http_server::session(tcp::socket socket, worker& w) {
    connections_.fetch_add(1);
    auto self = w.connections.emplace(w.connections.end(), connection{&socket});
    struct registration {
        http_server& server;
        worker& w;
        std::list<connection>::iterator position;
        ~registration() {
            w.connections.erase(position);
            server.connections_.fetch_sub(1);
        }
    } registered{*this, w, self};
    connection& conn = *self;

    boost::system::error_code ignored;
    const auto remote = socket.remote_endpoint(ignored);
    beast::flat_buffer buffer;
    http_request req;
    std::string head;
    head.reserve(512);
    http_exchange::connection_context context{*this, socket, conn, head};

    const auto accepted = steady::now();
    bool first_request = true;
    try {
        for (;;) {
            if (draining_) break;
            // The first request must arrive within request_timeout of the connection's start, so a
            // connection that sends nothing holds its slot no longer than a slow one. Later requests
            // may be preceded by an idle_timeout keep-alive wait for their first byte.
            steady::time_point deadline = accepted + limits_.request_timeout;
            if (!first_request) {
                if (buffer.size() == 0) {
                    conn.deadline = steady::now() + limits_.idle_timeout;
                    auto [ec, n] = co_await socket.async_read_some(buffer.prepare(4096), use_tuple);
                    if (ec) break;
                    buffer.commit(n);
                }
                deadline = steady::now() + limits_.request_timeout;
            }
            first_request = false;
            const read_result read = co_await read_request(socket, conn, buffer, req, limits_, deadline);
            conn.deadline = steady::time_point::max();
            const auto started = steady::now();
            if (read.kind == read_result::closed) break;
            if (read.kind == read_result::refused) {
                head.clear();
                append_refusal(head, read.refusal, clock_.now_seconds());
                co_await write_response(socket, conn, limits_.request_timeout, head, {});
                handler_.refused(read.refusal, steady::now() - started);
                break;
            }

            in_flight_.fetch_add(1);
            struct in_flight_count {
                std::atomic<std::size_t>& n;
                ~in_flight_count() { n.fetch_sub(1); }
            } busy{in_flight_};

            http_exchange exchange(context, remote);
            co_await handler_.serve(req, exchange);
            if (!exchange.sent_ || !exchange.keep_open_) break;
        }
    } catch (const std::exception& e) {
        log_->warn("connection from {} ended: {}", remote.address().to_string(), e.what());
    }
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
}

}  // namespace ocspkit::protocol
