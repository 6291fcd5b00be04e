#pragma once
// Response heads written by hand into a buffer the connection reuses: the body (a cached OCSP answer)
// is then sent from where it lives with one gather write, so answering from the cache copies no body
// and allocates nothing. Pure apart from a per-thread cache of the Date field (one format per second).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/status.hpp>

#include "common/clock.hpp"

namespace ocspkit::protocol {

struct response_head {
    boost::beast::http::status status = boost::beast::http::status::ok;
    unsigned version = 11;            // of the request: 10 or 11
    bool keep_alive = true;           // false adds "Connection: close"
    std::string_view content_type;    // empty: no Content-Type (304)
    std::size_t content_length = 0;   // sent unless the status forbids a body (304)
    std::string_view cache_control;   // value, or empty for none; ignored when max_age_cacheable
    // RFC 5019 §6.2 for cacheable GET answers: "max-age=<max_age>, public, no-transform, must-revalidate"
    // (the value cache_headers_for() gives, formatted here without a temporary string).
    bool max_age_cacheable = false;
    std::size_t max_age = 0;
    std::optional<std::size_t> s_maxage;  // for shared caches, after max-age (shared_max_age())
    std::string_view extra_fields;    // preformatted "Name: value\r\n" lines (validators, Allow)
};

// Appends the complete head, including the empty line, to `out`.
void append_response_head(std::string& out, const response_head& head, sys_seconds now);

// Appends the whole answer to a request that could not be read (400, 408, 413, 417, 431, 501): the
// status's reason phrase as text/plain, and "Connection: close", since after a request that could not
// be read where the next one starts is unknown (RFC 9112 §6.3, §9.6). Nothing of the request is trusted,
// so the head is HTTP/1.1 whatever the client sent.
void append_refusal(std::string& out, boost::beast::http::status status, sys_seconds now);

// "Date: <IMF-fixdate>\r\n" for `now`, formatted once per second per thread.
std::string_view date_field(sys_seconds now);

}  // namespace ocspkit::protocol
