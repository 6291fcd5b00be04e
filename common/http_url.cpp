#include "common/http_url.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <arpa/inet.h>

#include "common/ascii.hpp"

namespace ocspkit {

namespace {

// RFC 3986 §3.2.2 reg-name restricted to what DNS names and IPv4 literals use. Percent-encoded names
// are legal in URIs but never appear in AIA or configs; refusing them keeps the Host header honest.
bool valid_reg_name(std::string_view host) {
    return std::all_of(host.begin(), host.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_';
    });
}

// A request-target must not carry bytes that would break the request line (RFC 9112 §3).
bool valid_target(std::string_view target) {
    return std::all_of(target.begin(), target.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f;
    });
}

}  // namespace

std::string http_url::host_header() const {
    std::string h = ipv6_literal ? "[" + host + "]" : host;
    if (port != 80) h += ":" + std::to_string(port);
    return h;
}

result<http_url> parse_http_url(std::string_view url) {
    const auto quoted = [&] { return "'" + std::string(url) + "'"; };
    if (url.empty()) return error{errc::malformed, "empty URL"};
    if (istarts_with(url, "https://")) {
        return error{
            errc::unsupported,
            "https is not supported: OCSP (RFC 6960 Appendix A.1) and cache purges use plain http:// URLs: " +
                quoted()};
    }
    if (!istarts_with(url, "http://")) return error{errc::malformed, "not an http:// URL: " + quoted()};
    std::string_view rest = url.substr(7);

    const auto authority_end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, authority_end);
    std::string_view tail = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);

    if (tail.find('#') != std::string_view::npos) return error{errc::malformed, "URL has a fragment: " + quoted()};
    if (authority.find('@') != std::string_view::npos) return error{errc::malformed, "URL has userinfo: " + quoted()};
    if (authority.empty()) return error{errc::malformed, "URL has no host: " + quoted()};

    http_url out;
    std::string_view port_text;
    if (authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return error{errc::malformed, "unterminated IPv6 literal: " + quoted()};
        out.host = std::string(authority.substr(1, close - 1));
        in6_addr addr{};
        if (inet_pton(AF_INET6, out.host.c_str(), &addr) != 1)
            return error{errc::malformed, "bad IPv6 literal: " + quoted()};
        out.ipv6_literal = true;
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return error{errc::malformed, "junk after IPv6 literal: " + quoted()};
            port_text = after.substr(1);
            if (port_text.empty()) return error{errc::malformed, "empty port: " + quoted()};
        }
    } else {
        const auto colon = authority.find(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty()) return error{errc::malformed, "empty port: " + quoted()};
        }
        if (out.host.empty()) return error{errc::malformed, "URL has no host: " + quoted()};
        if (!valid_reg_name(out.host)) return error{errc::malformed, "bad host name in URL: " + quoted()};
    }
    if (!port_text.empty()) {
        unsigned port = 0;
        const auto* end = port_text.data() + port_text.size();
        const auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
        if (ec != std::errc{} || ptr != end || port == 0 || port > 65535)
            return error{errc::malformed, "bad port in URL: " + quoted()};
        out.port = static_cast<std::uint16_t>(port);
    }

    if (tail.empty()) {
        out.target = "/";
    } else if (tail.front() == '?') {
        out.target = "/" + std::string(tail);  // "http://h?q" means path "/" (RFC 3986 §6.2.3)
    } else {
        out.target = std::string(tail);
    }
    if (!valid_target(out.target))
        return error{errc::malformed, "URL path has spaces or control characters: " + quoted()};
    return out;
}

}  // namespace ocspkit
