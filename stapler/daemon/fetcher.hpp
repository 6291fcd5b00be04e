#pragma once
// HTTP/1.1 client that fetches one OCSP response (RFC 6960 Appendix A, RFC 5019 §5). The request is
// built elsewhere (ocsp_request_builder.hpp); this is only the exchange, as a C++20 coroutine on the
// caller's executor. Expected failures are values (a fetch_outcome holding a fetch_error), never exceptions.
//
// Guarantees the daemon relies on:
//   * one deadline, `timeout` after the call, covers resolve + connect + write + read: an upstream that
//     accepts and never answers, or trickles, ends as fetch_error::timeout, not as a stuck coroutine;
//   * the body is read only after the status line and headers passed (200, application/ocsp-response),
//     and through a parser whose body limit is `max_body`: a 10 MB answer is abandoned as soon as the
//     limit is passed (or at once from its Content-Length), never buffered;
//   * one request per connection ("Connection: close"), a Host header always.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <system_error>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/result.hpp"

namespace ocspkit::stapler::daemon {

struct fetch_request {
    std::string url{};  // http://host[:port]/path ; https is rejected (RFC 6960 OCSP over http)
    std::vector<std::uint8_t> ocsp_request_der{};
    bool use_get = true;                       // GET <url>/<urlencoded base64> when that URL is <= 255 bytes, else POST
    std::chrono::milliseconds timeout{10000};  // total: resolve + connect + write + read
    std::size_t max_body = 4032;               // bytes; a larger body is too_large
};

struct fetch_response {
    unsigned http_status = 0;
    std::string content_type{};
    std::vector<std::uint8_t> body{};
    std::optional<std::chrono::seconds> max_age{};  // Cache-Control max-age (RFC 5019 §6.2), when given
    bool used_get = false;                        // which method was actually sent
};

// Why a fetch failed. Stable names via to_string(); they are metric labels
// (ocsp_stapler_fetch_total{result=...}). An error_code enum (common/errc.hpp): 0 is success, so none has it.
enum class fetch_error : std::uint8_t {
    bad_url = 1,     // not an http URL we can fetch (https, garbage)
    connect_failed,  // name resolution or TCP connect failed (refused, unreachable, no address)
    timeout,         // the total deadline passed
    http_status,     // a status other than 200
    content_type,    // 200 but not application/ocsp-response
    too_large,       // body longer than max_body
    protocol,        // malformed HTTP, connection closed early, write/read errors other than the above
};
std::string_view to_string(fetch_error e) noexcept;
std::error_code make_error_code(fetch_error e) noexcept;

// Either the response body (HTTP 200, right Content-Type, within max_body) or why not: the failure's
// code is a fetch_error (fetch_error_of), its message one line for the log, e.g. "HTTP 503" or
// "connect 127.0.0.1:8080: Connection refused".
using fetch_outcome = result<fetch_response>;

// The reason a failed fetch_outcome carries.
fetch_error fetch_error_of(const fetch_outcome& failed) noexcept;

// Runs on the executor of the awaiting coroutine (co_spawn it on the daemon's io_context), which must not
// run two handlers at once (an io_context run by one thread, or a strand). Never throws
// for network or HTTP failures; cancelling the awaiting coroutine (e.g. at shutdown) abandons the
// exchange. A name resolution stuck inside getaddrinfo is abandoned at the deadline too (its thread
// finishes in the background).
boost::asio::awaitable<fetch_outcome> fetch(fetch_request request);

// Cache-Control (RFC 9111 §5.2) -> max-age delta-seconds; nullopt when absent or malformed. Other
// directives (no-cache, no-store, s-maxage, must-revalidate, extensions with quoted values that merely
// contain "max-age") are skipped: the stapler keeps a response until nextUpdate whatever a cache would
// do, and max-age only ever makes it refresh sooner. Several max-age directives: the smallest.
std::optional<std::chrono::seconds> parse_max_age(std::string_view cache_control);

// Media type before any ';' parameters, compared case-insensitively (RFC 9110 §8.3.1).
bool is_ocsp_response_content_type(std::string_view content_type);

}  // namespace ocspkit::stapler::daemon

template <>
struct std::is_error_code_enum<ocspkit::stapler::daemon::fetch_error> : std::true_type {};
