#pragma once
// http:// URLs as clients of our own plain-HTTP peers take them: responders (the stapler fetches OCSP
// over plain http, RFC 6960 Appendix A.1 and RFC 5019 §5: the response is signed, so TLS adds nothing but
// a second revocation check of its own) and HTTP caches (the responder's PURGE). https and anything
// else is refused with a message that says so. Pure: no resolution, no I/O.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace ocspkit {

// http://host[:port][/path[?query]] split for a client. `host` is without brackets for an IPv6 literal.
struct http_url {
    std::string host;
    std::uint16_t port = 80;
    std::string target = "/";  // origin-form request-target (RFC 9112 §3.2.1): path and query
    bool ipv6_literal = false;

    // The Host header value (RFC 9110 §7.2): brackets around an IPv6 literal, ":port" only when not 80.
    std::string host_header() const;
};

// Accepts an "http" scheme in any case, a reg-name, IPv4 or bracketed IPv6 host, an optional port
// 1..65535 and an optional path (default "/"). Refused, each with its own message: https and other
// schemes, userinfo ("user@"), fragments, empty hosts, bad ports, spaces and control characters.
result<http_url> parse_http_url(std::string_view url);

}  // namespace ocspkit
