#pragma once
// HAProxy's runtime API (management guide, "set ssl ocsp-response"): where it listens, and pushing a new
// OCSP response to it. Expected failures are values; nothing here throws for I/O.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/result.hpp"

namespace ocspkit::stapler::daemon {

// "unix:/path", "/path" (anything with a '/') -> unix stream socket; "host:port" or "[v6]:port" -> TCP.
struct haproxy_endpoint {
    std::string unix_path{};  // non-empty for a unix socket
    std::string host{};       // otherwise host and port
    std::uint16_t port = 0;
};
result<haproxy_endpoint> parse_haproxy_endpoint(std::string_view text);

// The text HAProxy answers on success ("OCSP Response updated!" since 1.5, unchanged in 2.6+).
inline constexpr std::string_view haproxy_ocsp_updated = "OCSP Response updated";

// Sends "set ssl ocsp-response <base64(der)>\n" to `endpoint`, reads the reply until HAProxy closes
// (non-interactive CLI) or `timeout` passes (total: connect + write + read), and succeeds iff the reply
// contains haproxy_ocsp_updated. The error carries HAProxy's reply (trimmed) or the socket error.
// Runs on the awaiting coroutine's executor; never blocks the thread.
boost::asio::awaitable<status> push_haproxy_ocsp(haproxy_endpoint endpoint, std::vector<std::uint8_t> der,
                                                 std::chrono::milliseconds timeout = std::chrono::seconds{5});

}  // namespace ocspkit::stapler::daemon
