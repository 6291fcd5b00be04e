#pragma once
// ASCII case-insensitive comparison, for the protocol tokens that are defined case-insensitively (HTTP
// field names and media types, URL schemes, index.txt reason names), and hex digits. Locale-free on
// purpose: std::tolower() follows the C locale, and a protocol token must not change meaning with LANG.
#include <cstddef>
#include <string_view>

namespace ocspkit {

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// True when `a` and `b` are equal ignoring the case of ASCII letters. Other bytes compare exactly.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

// The value of a hex digit (either case), or -1 for any other byte.
constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// True when `text` starts with `prefix`, ignoring the case of ASCII letters.
constexpr bool istarts_with(std::string_view text, std::string_view prefix) noexcept {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

}  // namespace ocspkit
