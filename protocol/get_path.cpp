#include "protocol/get_path.hpp"

#include <string>

#include "common/ascii.hpp"
#include "common/base64.hpp"

namespace ocspkit::protocol {

namespace {

// RFC 3986 §2.1 percent-decoding. Every escape is decoded, not only %2B %2F %3D: a client that
// escapes more than it needs to still sends base64, and anything that decodes to a non-base64
// character is refused by the base64 step. '+' is left alone (RFC 3986 gives it no meaning in a path;
// the form-encoding "+ is space" rule does not apply to paths).
result<std::string> percent_decode(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c != '%') {
            out.push_back(c);
            continue;
        }
        if (in.size() - i < 3) return error{errc::malformed, "truncated percent escape"};
        const int hi = hex_value(in[i + 1]);
        const int lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) return error{errc::malformed, "malformed percent escape"};
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

}  // namespace

result<std::vector<std::uint8_t>> decode_get_path(std::string_view target, std::string_view base_path) {
    // absolute-form request-target (RFC 9112 §3.2.2), which proxies and a few clients send: keep the
    // path only.
    for (const std::string_view scheme : {std::string_view{"http://"}, std::string_view{"https://"}}) {
        if (istarts_with(target, scheme)) {
            const auto slash = target.find('/', scheme.size());
            if (slash == std::string_view::npos) return error{errc::malformed, "absolute URI without a path"};
            target.remove_prefix(slash);
            break;
        }
    }
    // Base64 never contains '?' or '#', so a query (a cache buster some clients add) cannot be part of
    // the request and is dropped.
    if (const auto q = target.find_first_of("?#"); q != std::string_view::npos) target = target.substr(0, q);

    // The mount point is matched as a whole path segment: "/ocsp" serves "/ocsp/MEIw..." but not
    // "/ocspMEIw..." (that would be a different resource).
    while (!base_path.empty() && base_path.back() == '/') base_path.remove_suffix(1);
    if (target.substr(0, base_path.size()) != base_path)
        return error{errc::not_found, "path is outside the OCSP base path"};
    target.remove_prefix(base_path.size());
    if (target.empty() || target.front() != '/') return error{errc::malformed, "no request after the OCSP base path"};
    // One or more '/' separate the mount point from the request: clients that join "http://host/" and
    // "/MEIw..." produce "//MEIw...". The DER of an OCSPRequest starts with 0x30 (SEQUENCE), whose
    // base64 is 'M', so a leading '/' is never part of the data.
    while (!target.empty() && target.front() == '/') target.remove_prefix(1);
    if (target.empty()) return error{errc::malformed, "no request after the OCSP base path"};

    auto text = percent_decode(target);
    if (!text) return text.failure();
    auto der = decode_base64_lenient(*text);
    if (!der) return der.failure();
    return der;
}

}  // namespace ocspkit::protocol
