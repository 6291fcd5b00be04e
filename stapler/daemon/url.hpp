#pragma once
// Responder URLs of the stapler daemon. OCSP is fetched over plain http (RFC 6960 Appendix A.1,
// RFC 5019 §5): the response is signed, so TLS adds nothing but a second revocation check of its own
// (the classic OCSP-over-https loop). https and anything else is refused with a message that says so.
// Pure: no resolution, no I/O.
#include <cstdint>
#include <string>
#include <string_view>

#include <openssl/x509.h>

#include "common/result.hpp"

namespace ocspkit::stapler::daemon {

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

// The leaf's OCSP responder from Authority Information Access (RFC 5280 §4.2.2.1): the first
// accessLocation of an id-ad-ocsp AccessDescription that is a URI with the http scheme (https ones are
// skipped, see above). An error names what is missing. `leaf` is borrowed.
result<std::string> aia_ocsp_url(X509* leaf);

}  // namespace ocspkit::stapler::daemon
