#include "responder/http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "responder/cache_headers.hpp"
#include "responder/get_path.hpp"

namespace ocspkit::responder {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::shared_ptr<spdlog::logger> log_main() {
    auto l = spdlog::get("responder");
    return l ? l : spdlog::default_logger();
}

responder_metrics::method method_of(http::verb v) {
    switch (v) {
        case http::verb::get: return responder_metrics::method::get;
        case http::verb::post: return responder_metrics::method::post;
        case http::verb::head: return responder_metrics::method::head;
        default: return responder_metrics::method::other;
    }
}

// What one request produced, before it is serialised.
struct reply {
    http::status status = http::status::ok;
    std::string content_type;
    std::shared_ptr<const cached_answer> ocsp;  // set for OCSP answers
    std::string text;                           // body for everything else
    http_cache_headers cache;
    bool allow_header = false;
};

bool starts_with_path(std::string_view target, std::string_view base) {
    if (base == "/") return !target.empty() && target.front() == '/';
    if (!target.starts_with(base)) return false;
    return target.size() == base.size() || target[base.size()] == '/';
}

std::string cert_states_text(const answer_metadata& m) {
    std::string s;
    for (auto st : m.cert_states) {
        if (!s.empty()) s += ',';
        s += cert_state_name(st);
    }
    return s.empty() ? "-" : s;
}

}  // namespace

http_server::http_server(asio::io_context& io, ocsp_service& service, responder_metrics& metrics,
                         const clock_source& clock)
    : io_(io), service_(service), metrics_(metrics), clock_(clock) {}

void http_server::listen() {
    for (const auto& addr : service_.config().server.listen) {
        boost::system::error_code ec;
        auto ip = asio::ip::make_address(addr.host, ec);
        if (ec) throw std::system_error(ec, fmt::format("listen address '{}'", addr.host));
        tcp::endpoint endpoint(ip, addr.port);
        auto acceptor = std::make_unique<tcp::acceptor>(asio::make_strand(io_));
        acceptor->open(endpoint.protocol());
        acceptor->set_option(asio::socket_base::reuse_address(true));
        if (endpoint.address().is_v6()) acceptor->set_option(asio::ip::v6_only(true));
        acceptor->bind(endpoint, ec);
        if (ec) throw std::system_error(ec, fmt::format("cannot listen on {}:{}", addr.host, addr.port));
        acceptor->listen(asio::socket_base::max_listen_connections);
        acceptors_.push_back(std::move(acceptor));
    }
    for (auto& a : acceptors_) asio::co_spawn(a->get_executor(), accept_loop(*a), asio::detached);
}

std::vector<tcp::endpoint> http_server::local_endpoints() const {
    std::vector<tcp::endpoint> out;
    for (const auto& a : acceptors_) out.push_back(a->local_endpoint());
    return out;
}

void http_server::stop_accepting() {
    draining_ = true;
    for (auto& a : acceptors_) {
        asio::post(a->get_executor(), [acc = a.get()] {
            boost::system::error_code ignored;
            acc->close(ignored);
        });
    }
}

asio::awaitable<void> http_server::accept_loop(tcp::acceptor& acceptor) {
    const auto max_connections = service_.config().server.max_connections;
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io_), use_tuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            // Out of descriptors or a transient error: back off briefly instead of spinning.
            log_main()->warn("accept failed: {}", ec.message());
            asio::steady_timer t(acceptor.get_executor(), 50ms);
            co_await t.async_wait(use_tuple);
            continue;
        }
        if (connections_.load() >= max_connections) {
            boost::system::error_code ignored;
            socket.close(ignored);
            continue;
        }
        asio::co_spawn(socket.get_executor(), session(std::move(socket)), asio::detached);
    }
}

asio::awaitable<void> http_server::session(tcp::socket socket) {
    connections_.fetch_add(1);
    struct connection_count {
        std::atomic<std::size_t>& n;
        ~connection_count() { n.fetch_sub(1); }
    } counted{connections_};

    const server_config& cfg = service_.config().server;
    auto access = service_.config().log.access_log ? spdlog::get("access") : nullptr;
    boost::system::error_code ignored;
    const auto remote = socket.remote_endpoint(ignored);
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;

    try {
        for (;;) {
            if (draining_) break;
            // Keep-alive wait for the first byte, then the whole request must arrive within request_timeout:
            // an idle or slow client holds one connection slot, never a thread.
            if (buffer.size() == 0) {
                stream.expires_after(cfg.idle_timeout);
                auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
                if (ec) break;
                buffer.commit(n);
            }
            http::request_parser<http::vector_body<std::uint8_t>> parser;
            parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
            parser.body_limit(cfg.max_body_bytes);
            stream.expires_after(cfg.request_timeout);
            auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
            const auto started = std::chrono::steady_clock::now();
            if (ec) {
                http::status status;
                if (ec == http::error::body_limit)
                    status = http::status::payload_too_large;
                else if (ec == http::error::header_limit)
                    status = http::status::request_header_fields_too_large;
                else if (ec == beast::error::timeout)
                    status = http::status::request_timeout;
                else if (ec == http::error::end_of_stream || ec == asio::error::eof ||
                         ec == asio::error::connection_reset || ec == http::error::partial_message)
                    break;
                else
                    status = http::status::bad_request;
                http::response<http::string_body> res{status, 11};
                res.set(http::field::content_type, "text/plain");
                res.set(http::field::connection, "close");
                res.body() = std::string(http::obsolete_reason(status)) + "\n";
                res.prepare_payload();
                stream.expires_after(1s);
                co_await http::async_write(stream, res, use_tuple);
                metrics_.count_request(responder_metrics::method::other, static_cast<unsigned>(status),
                                       std::chrono::steady_clock::now() - started);
                break;
            }

            auto& req = parser.get();
            in_flight_.fetch_add(1);
            struct in_flight_count {
                std::atomic<std::size_t>& n;
                ~in_flight_count() { n.fetch_sub(1); }
            } busy{in_flight_};

            reply r;
            const auto target = std::string_view(req.target().data(), req.target().size());
            const bool is_get = req.method() == http::verb::get || req.method() == http::verb::head;
            if (target == "/health" || target == "/metrics") {
                if (!is_get) {
                    r.status = http::status::method_not_allowed;
                    r.allow_header = true;
                } else if (target == "/health") {
                    auto h = co_await service_.health();
                    r.status = h.ok ? http::status::ok : http::status::service_unavailable;
                    r.text = h.text;
                } else {
                    auto g = service_.gauges();
                    g.open_connections = connections_.load();
                    r.text = metrics_.render(g);
                    r.content_type = "text/plain; version=0.0.4";
                }
                r.cache.cache_control = "no-cache";
            } else if (!is_get && req.method() != http::verb::post) {
                r.status = http::status::method_not_allowed;
                r.allow_header = true;
            } else if (!starts_with_path(target, cfg.path)) {
                r.status = http::status::not_found;
            } else {
                std::vector<std::uint8_t> der;
                bool decodable = true;
                if (req.method() == http::verb::post) {
                    der = std::move(req.body());
                    decodable = !der.empty();
                } else {
                    auto decoded = decode_get_path(target, cfg.path);
                    if (decoded) {
                        der = std::move(*decoded);
                    } else {
                        decodable = false;
                    }
                }
                if (decodable) {
                    r.ocsp = co_await service_.answer_request(std::move(der));
                } else {
                    r.ocsp = co_await service_.answer_request({});
                }
                const sys_seconds now = clock_.now_seconds();
                r.content_type = "application/ocsp-response";
                r.cache = cache_headers_for(r.ocsp->meta, r.ocsp->der, is_get, now, r.ocsp->etag);
                auto if_none_match = req.find(http::field::if_none_match);
                auto if_modified_since = req.find(http::field::if_modified_since);
                std::optional<std::string_view> inm, ims;
                if (if_none_match != req.end()) inm = std::string_view(if_none_match->value().data(), if_none_match->value().size());
                if (if_modified_since != req.end()) ims = std::string_view(if_modified_since->value().data(), if_modified_since->value().size());
                if (is_get && (inm || ims) && not_modified(r.cache, inm, ims)) r.status = http::status::not_modified;
                metrics_.count_ocsp(r.ocsp->meta.status);
                for (auto st : r.ocsp->meta.cert_states) metrics_.count_cert_state(st);
            }

            const bool keep_alive = req.keep_alive() && !draining_;
            http::response<http::vector_body<std::uint8_t>> res{r.status, req.version()};
            res.set(http::field::date, imf_fixdate(clock_.now_seconds()));
            if (r.allow_header) res.set(http::field::allow, "GET, POST, HEAD");
            if (!r.cache.cache_control.empty()) res.set(http::field::cache_control, r.cache.cache_control);
            if (r.cache.last_modified) res.set(http::field::last_modified, *r.cache.last_modified);
            if (r.cache.expires) res.set(http::field::expires, *r.cache.expires);
            if (r.cache.etag) res.set(http::field::etag, *r.cache.etag);
            std::size_t body_size = 0;
            if (r.status != http::status::not_modified) {
                if (r.ocsp) {
                    res.body() = r.ocsp->der;
                } else {
                    if (r.text.empty()) r.text = std::string(http::obsolete_reason(r.status)) + "\n";
                    res.body().assign(r.text.begin(), r.text.end());
                    if (r.content_type.empty()) r.content_type = "text/plain";
                }
                res.set(http::field::content_type, r.content_type);
                body_size = res.body().size();
            }
            res.keep_alive(keep_alive);
            res.prepare_payload();
            if (req.method() == http::verb::head) {
                // HEAD: the same headers as GET, no body (RFC 9110 §9.3.2).
                res.body().clear();
                http::response_serializer<http::vector_body<std::uint8_t>> sr{res};
                sr.split(true);
                stream.expires_after(cfg.request_timeout);
                auto [wec, wn] = co_await http::async_write_header(stream, sr, use_tuple);
                if (wec) break;
            } else {
                stream.expires_after(cfg.request_timeout);
                auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
                if (wec) break;
            }
            const auto latency = std::chrono::steady_clock::now() - started;
            metrics_.count_request(method_of(req.method()), static_cast<unsigned>(r.status), latency);
            if (access) {
                access->info("{} \"{} {:.120} HTTP/{}.{}\" {} {} ocsp={} certs={} issuer=\"{}\" {}us",
                             remote.address().to_string(), std::string_view(req.method_string()), target,
                             req.version() / 10, req.version() % 10, static_cast<unsigned>(r.status), body_size,
                             r.ocsp ? ocsp_status_name(r.ocsp->meta.status) : "-",
                             r.ocsp ? cert_states_text(r.ocsp->meta) : "-", r.ocsp ? r.ocsp->issuer_name : "",
                             std::chrono::duration_cast<std::chrono::microseconds>(latency).count());
            }
            if (!keep_alive) break;
        }
    } catch (const std::exception& e) {
        log_main()->warn("connection from {} ended: {}", remote.address().to_string(), e.what());
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.socket().close(ignored);
}

}  // namespace ocspkit::responder
