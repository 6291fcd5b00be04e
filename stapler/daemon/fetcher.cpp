#include "stapler/daemon/fetcher.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/vector_body.hpp>
#include <boost/beast/http/write.hpp>

#include "common/ascii.hpp"
#include "stapler/daemon/ocsp_request_builder.hpp"
#include "stapler/daemon/url.hpp"

namespace ocspkit::stapler::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view user_agent = "ocsp-stapler (ocspkit)";

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

error fail(fetch_error e, std::string detail) { return error{e, std::move(detail)}; }

// A resolution that waits at most until `deadline`. tcp::resolver runs getaddrinfo on a private thread
// and ignores cancellation until that call returns, so racing it against a timer with `||` would still
// wait for getaddrinfo. Instead the completion lands in shared state that outlives this coroutine, and
// the coroutine waits on a timer that the completion cancels: at the deadline we simply stop waiting.
// Handlers and the coroutine share one executor that runs them one at a time (see fetcher.hpp).
struct pending_resolve {
    explicit pending_resolve(const asio::any_io_executor& ex) : resolver(ex), wake(ex) {}
    tcp::resolver resolver;
    asio::steady_timer wake;
    bool done = false;
    boost::system::error_code ec;
    tcp::resolver::results_type results;
};

struct resolved {
    std::vector<tcp::endpoint> endpoints;
    std::optional<error> failure;
};

asio::awaitable<resolved> resolve(const http_url& url, steady::time_point deadline) {
    resolved out;
    boost::system::error_code ec;
    // Literals (the common case in tests and for local responders) need no resolver at all.
    const auto literal = asio::ip::make_address(url.host, ec);
    if (!ec) {
        out.endpoints.emplace_back(literal, url.port);
        co_return out;
    }
    auto ex = co_await asio::this_coro::executor;
    auto state = std::make_shared<pending_resolve>(ex);
    state->wake.expires_at(deadline);
    // The handler and the service string are named outside the call: GCC 12 has destroyed lambda
    // captures and argument temporaries of coroutine full-expressions twice.
    auto on_resolved = [state](boost::system::error_code e, tcp::resolver::results_type r) {
        state->done = true;
        state->ec = e;
        state->results = std::move(r);
        state->wake.cancel();
    };
    const std::string service = std::to_string(url.port);
    state->resolver.async_resolve(url.host, service, std::move(on_resolved));
    if (!state->done) co_await state->wake.async_wait(use_tuple);
    if (!state->done) {
        state->resolver.cancel();
        const bool expired = steady::now() >= deadline;
        out.failure = fail(fetch_error::timeout, (expired ? "resolving " : "cancelled while resolving ") + url.host);
        co_return out;
    }
    if (state->ec) {
        out.failure = fail(fetch_error::connect_failed, "resolving " + url.host + ": " + state->ec.message());
        co_return out;
    }
    for (const auto& entry : state->results) out.endpoints.push_back(entry.endpoint());
    if (out.endpoints.empty()) out.failure = fail(fetch_error::connect_failed, "no address for " + url.host);
    co_return out;
}

// Maps a read/write error; the deadline surfaces as beast::error::timeout from tcp_stream.
error io_failure(const boost::system::error_code& ec, std::string_view during) {
    if (ec == beast::error::timeout) return fail(fetch_error::timeout, std::string(during) + ": timed out");
    if (ec == http::error::body_limit) return fail(fetch_error::too_large, std::string(during) + ": body over the limit");
    return fail(fetch_error::protocol, std::string(during) + ": " + ec.message());
}

// A 200 with the right media type, or the failure that says what is wrong with the header.
std::optional<error> check_header(const http::response_header<>& h) {
    if (h.result_int() != 200) {
        return fail(fetch_error::http_status,
                    "HTTP " + std::to_string(h.result_int()) + " " + std::string(h.reason()));
    }
    const auto ct = h[http::field::content_type];
    if (!is_ocsp_response_content_type(ct)) {
        return fail(fetch_error::content_type, "Content-Type '" + std::string(ct) + "'");
    }
    return std::nullopt;
}

std::optional<std::chrono::seconds> max_age_of(const http::response_header<>& h) {
    // Several Cache-Control fields are one comma-separated list (RFC 9110 §5.3).
    std::string joined;
    for (auto it = h.find(http::field::cache_control); it != h.end() && it->name() == http::field::cache_control; ++it) {
        if (!joined.empty()) joined += ',';
        joined += std::string(it->value());
    }
    return parse_max_age(joined);
}

}  // namespace

std::string_view to_string(fetch_error e) noexcept {
    switch (e) {
    case fetch_error::bad_url: return "bad_url";
    case fetch_error::connect_failed: return "connect_failed";
    case fetch_error::timeout: return "timeout";
    case fetch_error::http_status: return "http_status";
    case fetch_error::content_type: return "content_type";
    case fetch_error::too_large: return "too_large";
    case fetch_error::protocol: return "protocol";
    }
    return "protocol";
}

std::error_code make_error_code(fetch_error e) noexcept {
    static const reason_category<fetch_error> category("ocspkit.fetch");
    return {static_cast<int>(e), category};
}

fetch_error fetch_error_of(const fetch_outcome& failed) noexcept {
    return reason_of<fetch_error>(failed.code()).value_or(fetch_error::protocol);
}

bool is_ocsp_response_content_type(std::string_view content_type) {
    return iequals(trim(content_type.substr(0, content_type.find(';'))), "application/ocsp-response");
}

std::optional<std::chrono::seconds> parse_max_age(std::string_view cc) {
    // cache-directive = token [ "=" ( token / quoted-string ) ]   (RFC 9111 §5.2)
    // Walked token by token so that a quoted value of another directive (no-cache="max-age") or a
    // lookalike (s-maxage) is never taken for max-age.
    constexpr std::int64_t cap = std::int64_t{1} << 31;  // RFC 9111 §1.2.2: larger delta-seconds mean 2^31
    std::optional<std::int64_t> best;
    std::size_t i = 0;
    while (i < cc.size()) {
        while (i < cc.size() && (is_ows(cc[i]) || cc[i] == ',')) ++i;
        const std::size_t name_begin = i;
        while (i < cc.size() && cc[i] != '=' && cc[i] != ',' && !is_ows(cc[i])) ++i;
        const std::string_view name = cc.substr(name_begin, i - name_begin);
        while (i < cc.size() && is_ows(cc[i])) ++i;
        std::string value;
        bool has_value = false;
        if (i < cc.size() && cc[i] == '=') {
            has_value = true;
            ++i;
            while (i < cc.size() && is_ows(cc[i])) ++i;
            if (i < cc.size() && cc[i] == '"') {
                ++i;
                while (i < cc.size() && cc[i] != '"') {
                    if (cc[i] == '\\' && i + 1 < cc.size()) ++i;  // quoted-pair
                    value += cc[i++];
                }
                if (i < cc.size()) ++i;  // closing quote
            } else {
                while (i < cc.size() && cc[i] != ',' && !is_ows(cc[i])) value += cc[i++];
            }
        }
        // Anything else up to the next comma is junk that belongs to this directive.
        bool junk = false;
        while (i < cc.size() && cc[i] != ',') junk = junk || !is_ows(cc[i++]);

        if (!has_value || junk || !iequals(name, "max-age") || value.empty()) continue;
        if (!std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
        std::int64_t seconds = 0;
        for (char c : value) seconds = std::min(cap, seconds * 10 + (c - '0'));
        best = best ? std::min(*best, seconds) : seconds;
    }
    if (!best) return std::nullopt;
    return std::chrono::seconds{*best};
}

asio::awaitable<fetch_outcome> fetch(fetch_request request) {
    const auto deadline = steady::now() + request.timeout;
    auto url = parse_http_url(request.url);
    if (!url) co_return fail(fetch_error::bad_url, url.error_message());

    // RFC 5019 §5: GET when the encoded URL fits 255 bytes (so caches can serve it), POST otherwise.
    const bool use_get = request.use_get && get_fits(request.url, request.ocsp_request_der);
    std::string target = url->target;
    if (use_get) {
        auto full = parse_http_url(get_url(request.url, request.ocsp_request_der));
        if (!full) co_return fail(fetch_error::bad_url, full.error_message());
        target = std::move(full->target);
    }

    const auto where = url->host_header();
    auto resolving = resolve(*url, deadline);  // named: see the GCC 12 note in resolve()
    auto addresses = co_await std::move(resolving);
    if (addresses.failure) co_return std::move(*addresses.failure);

    auto ex = co_await asio::this_coro::executor;
    beast::tcp_stream stream(ex);
    // One absolute deadline for connect, write and read: tcp_stream fails whatever is pending with
    // beast::error::timeout once it passes, so a peer that accepts and then stays silent cannot hold us.
    stream.expires_at(deadline);
    {
        auto [ec, ep] = co_await stream.async_connect(addresses.endpoints, use_tuple);
        if (ec == beast::error::timeout) co_return fail(fetch_error::timeout, "connect " + where + ": timed out");
        if (ec) co_return fail(fetch_error::connect_failed, "connect " + where + ": " + ec.message());
    }

    http::request<http::vector_body<std::uint8_t>> req{use_get ? http::verb::get : http::verb::post, target, 11};
    req.set(http::field::host, where);
    req.set(http::field::user_agent, user_agent);
    req.set(http::field::accept, "application/ocsp-response");
    req.set(http::field::connection, "close");
    if (!use_get) {
        req.set(http::field::content_type, "application/ocsp-request");
        req.body() = request.ocsp_request_der;
    }
    req.prepare_payload();
    {
        auto [ec, n] = co_await http::async_write(stream, req, use_tuple);
        if (ec) co_return io_failure(ec, "sending the request to " + where);
    }

    beast::flat_buffer buffer;
    http::response_parser<http::vector_body<std::uint8_t>> parser;
    // Set before the header is read: a Content-Length above the limit fails right after the header, and
    // a chunked or close-delimited body fails as soon as it passes the limit. Nothing beyond is kept.
    parser.body_limit(request.max_body);
    {
        auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
        if (ec == http::error::body_limit) {
            // The header is complete at this point; a wrong status or type is the better diagnosis.
            if (auto bad = check_header(parser.get().base())) co_return std::move(*bad);
            co_return fail(fetch_error::too_large, "Content-Length " +
                                                       std::string(parser.get()[http::field::content_length]) +
                                                       " over the limit of " + std::to_string(request.max_body));
        }
        if (ec) co_return io_failure(ec, "reading the response header from " + where);
    }
    if (auto bad = check_header(parser.get().base())) co_return std::move(*bad);
    {
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
        if (ec == http::error::body_limit) {
            co_return fail(fetch_error::too_large, "body over the limit of " + std::to_string(request.max_body));
        }
        if (ec) co_return io_failure(ec, "reading the response body from " + where);
    }

    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

    auto msg = parser.release();
    fetch_response out;
    out.http_status = msg.result_int();
    out.content_type = std::string(msg[http::field::content_type]);
    out.max_age = max_age_of(msg.base());
    out.used_get = use_get;
    out.body = std::move(msg.body());
    co_return out;
}

}  // namespace ocspkit::stapler::daemon
