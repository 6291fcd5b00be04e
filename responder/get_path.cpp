#include "responder/get_path.hpp"

#include <array>
#include <string>

#include "common/ascii.hpp"

namespace ocspkit::responder {

namespace {

// 0..63 for a base64 digit of either alphabet (RFC 4648 §4 and §5), -1 otherwise. '+' and '-' both
// mean 62 and '/' and '_' both mean 63: clients that mix the alphabets are rare, but refusing them
// buys nothing because the DER parser decides what the bytes mean.
constexpr std::array<std::int8_t, 256> make_base64_table() {
    std::array<std::int8_t, 256> t{};
    for (auto& v : t) v = -1;
    for (int i = 0; i < 26; ++i) {
        t[static_cast<std::size_t>('A' + i)] = static_cast<std::int8_t>(i);
        t[static_cast<std::size_t>('a' + i)] = static_cast<std::int8_t>(26 + i);
    }
    for (int i = 0; i < 10; ++i) t[static_cast<std::size_t>('0' + i)] = static_cast<std::int8_t>(52 + i);
    t['+'] = 62;
    t['-'] = 62;
    t['/'] = 63;
    t['_'] = 63;
    return t;
}
constexpr auto base64_table = make_base64_table();

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

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
        if (in.size() - i < 3) return error{"truncated percent escape"};
        const int hi = hex_value(in[i + 1]);
        const int lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) return error{"malformed percent escape"};
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

}  // namespace

result<std::vector<std::uint8_t>> decode_base64_lenient(std::string_view text) {
    // Padding is optional, but when present it must be exactly what RFC 4648 §4 prescribes: at the
    // end, one or two '=' that complete a 4-character group.
    std::size_t pad = 0;
    while (pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
    if (pad > 2) return error{"too much base64 padding"};
    const std::string_view digits = text.substr(0, text.size() - pad);
    if (digits.empty()) return error{"empty base64"};
    if (pad != 0 && text.size() % 4 != 0) return error{"base64 padding does not complete a group"};
    // A lone digit in the last group carries only 6 bits, not a whole octet.
    if (digits.size() % 4 == 1) return error{"base64 length is impossible"};
    if (pad != 0 && (4 - digits.size() % 4) % 4 != pad) return error{"wrong amount of base64 padding"};

    std::vector<std::uint8_t> out;
    out.reserve(digits.size() / 4 * 3 + 2);
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : digits) {
        const std::int8_t v = base64_table[static_cast<unsigned char>(c)];
        if (v < 0) return error{"invalid base64 character"};
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>(acc >> bits));
            acc &= (1U << bits) - 1;
        }
    }
    // RFC 4648 §3.5: the bits that pad the last octet must be zero. Refusing non-canonical input makes
    // the mapping from text to DER one-to-one per alphabet, which keeps cache keys and logs honest.
    if (acc != 0) return error{"non-zero base64 padding bits"};
    return out;
}

result<std::vector<std::uint8_t>> decode_get_path(std::string_view target, std::string_view base_path) {
    // absolute-form request-target (RFC 9112 §3.2.2), which proxies and a few clients send: keep the
    // path only.
    for (const std::string_view scheme : {std::string_view{"http://"}, std::string_view{"https://"}}) {
        if (istarts_with(target, scheme)) {
            const auto slash = target.find('/', scheme.size());
            if (slash == std::string_view::npos) return error{"absolute URI without a path"};
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
    if (target.substr(0, base_path.size()) != base_path) return error{"path is outside the OCSP base path"};
    target.remove_prefix(base_path.size());
    if (target.empty() || target.front() != '/') return error{"no request after the OCSP base path"};
    // One or more '/' separate the mount point from the request: clients that join "http://host/" and
    // "/MEIw..." produce "//MEIw...". The DER of an OCSPRequest starts with 0x30 (SEQUENCE), whose
    // base64 is 'M', so a leading '/' is never part of the data.
    while (!target.empty() && target.front() == '/') target.remove_prefix(1);
    if (target.empty()) return error{"no request after the OCSP base path"};

    auto text = percent_decode(target);
    if (!text) return error{text.error_message()};
    auto der = decode_base64_lenient(*text);
    if (!der) return error{der.error_message()};
    return der;
}

}  // namespace ocspkit::responder
