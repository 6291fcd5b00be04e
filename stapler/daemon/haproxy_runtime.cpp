#include "stapler/daemon/haproxy_runtime.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/base64.hpp"

namespace ocspkit::stapler::daemon {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
}

// Connect, send, read until the peer closes; the caller bounds it with a timer.
template <class Socket, class Endpoint>
asio::awaitable<status> cli_exchange(Socket& socket, Endpoint endpoint, std::string command, std::string where) {
    if (auto [ec] = co_await socket.async_connect(endpoint, use_tuple); ec) {
        co_return error{errc::io, "cannot connect to HAProxy at " + where + ": " + ec.message()};
    }
    if (auto [ec, n] = co_await asio::async_write(socket, asio::buffer(command), use_tuple); ec) {
        co_return error{errc::io, "cannot send to HAProxy at " + where + ": " + ec.message()};
    }
    // Without "prompt" HAProxy answers one command and closes, so EOF ends the reply. The cap only
    // guards against a peer that is not HAProxy.
    std::string reply;
    std::array<char, 1024> chunk{};
    for (;;) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), use_tuple);
        reply.append(chunk.data(), n);
        if (ec == asio::error::eof) break;
        if (ec) co_return error{errc::io, "cannot read HAProxy's reply from " + where + ": " + ec.message()};
        if (reply.size() > 64 * 1024) break;
    }
    if (reply.find(haproxy_ocsp_updated) == std::string::npos) {
        co_return error{errc::refused, "HAProxy at " + where + " refused the OCSP response: '" + trimmed(reply) + "'"};
    }
    co_return success();
}

template <class Socket, class Endpoint>
asio::awaitable<status> bounded_exchange(Endpoint endpoint, std::string command, std::string where,
                                         std::chrono::milliseconds timeout) {
    using namespace asio::experimental::awaitable_operators;
    auto ex = co_await asio::this_coro::executor;
    Socket socket(ex);
    asio::steady_timer timer(ex, timeout);
    // Whichever finishes first cancels the other; socket operations honour that per-operation cancellation.
    // Operands are named first: GCC 12 mishandles temporaries inside a co_await full-expression.
    auto exchange = cli_exchange(socket, std::move(endpoint), std::move(command), where);
    auto expiry = timer.async_wait(asio::use_awaitable);
    auto race = std::move(exchange) || std::move(expiry);
    auto outcome = co_await std::move(race);
    if (outcome.index() == 1)
        co_return error{errc::timeout, "HAProxy at " + where + " did not answer within the timeout"};
    co_return std::get<0>(std::move(outcome));
}

}  // namespace

result<haproxy_endpoint> parse_haproxy_endpoint(std::string_view text) {
    haproxy_endpoint out;
    if (text.starts_with("unix:")) text.remove_prefix(5);
    if (text.empty()) return error{errc::config, "empty HAProxy runtime API address"};
    if (text.find('/') != std::string_view::npos) {
        out.unix_path = std::string(text);
        return out;
    }
    std::string_view port_text;
    if (text.front() == '[') {
        const auto close = text.find("]:");
        if (close == std::string_view::npos)
            return error{errc::config, "expected [IPv6]:port, got '" + std::string(text) + "'"};
        out.host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos || colon == 0) {
            return error{errc::config, "expected a unix socket path or host:port, got '" + std::string(text) + "'"};
        }
        out.host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
    }
    unsigned port = 0;
    const auto* end = port_text.data() + port_text.size();
    const auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
    if (port_text.empty() || ec != std::errc{} || ptr != end || port == 0 || port > 65535) {
        return error{errc::config, "bad port in HAProxy runtime API address '" + std::string(text) + "'"};
    }
    out.port = static_cast<std::uint16_t>(port);
    return out;
}

asio::awaitable<status> push_haproxy_ocsp(haproxy_endpoint endpoint, std::vector<std::uint8_t> der,
                                          std::chrono::milliseconds timeout) {
    // One line, base64 of the DER OCSPResponse (management guide, "set ssl ocsp-response <response>").
    std::string command = "set ssl ocsp-response " + base64_encode(der) + "\n";
    if (!endpoint.unix_path.empty()) {
        auto op = bounded_exchange<unix_stream::socket>(unix_stream::endpoint(endpoint.unix_path), std::move(command),
                                                        endpoint.unix_path, timeout);
        co_return co_await std::move(op);
    }
    const std::string where = endpoint.host + ":" + std::to_string(endpoint.port);
    boost::system::error_code ec;
    auto address = asio::ip::make_address(endpoint.host, ec);
    if (ec) {
        // A host name: resolve it first. getaddrinfo cannot be interrupted, so this part is bounded by
        // the system resolver's own timeouts; the runtime API is normally a literal or "localhost".
        auto ex = co_await asio::this_coro::executor;
        tcp::resolver resolver(ex);
        const std::string service = std::to_string(endpoint.port);
        auto [rec, results] = co_await resolver.async_resolve(endpoint.host, service, use_tuple);
        if (rec || results.empty()) {
            co_return error{errc::io,
                            "cannot resolve HAProxy at " + where + ": " + (rec ? rec.message() : "no address")};
        }
        address = results.begin()->endpoint().address();
    }
    auto op = bounded_exchange<tcp::socket>(tcp::endpoint(address, endpoint.port), std::move(command), where, timeout);
    co_return co_await std::move(op);
}

}  // namespace ocspkit::stapler::daemon
