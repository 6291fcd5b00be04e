#include "common/base64.hpp"

#include <array>
#include <cstddef>

namespace ocspkit {

namespace {

constexpr std::string_view base64_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63 for a base64 digit of either alphabet (RFC 4648 §4 and §5), -1 otherwise. '+' and '-' both
// mean 62 and '/' and '_' both mean 63: clients that mix the alphabets are rare, but refusing them
// buys nothing because the DER parser decides what the bytes mean.
constexpr std::array<std::int8_t, 256> make_decode_table() {
    std::array<std::int8_t, 256> t{};
    for (auto& v : t) v = -1;
    for (std::size_t i = 0; i < base64_alphabet.size(); ++i) {
        t[static_cast<unsigned char>(base64_alphabet[i])] = static_cast<std::int8_t>(i);
    }
    t['-'] = 62;
    t['_'] = 63;
    return t;
}
constexpr auto decode_table = make_decode_table();

}  // namespace

std::string base64_encode(std::span<const std::uint8_t> bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t group = std::uint32_t{bytes[i]} << 16 | std::uint32_t{bytes[i + 1]} << 8 | bytes[i + 2];
        out += base64_alphabet[group >> 18];
        out += base64_alphabet[(group >> 12) & 63];
        out += base64_alphabet[(group >> 6) & 63];
        out += base64_alphabet[group & 63];
    }
    if (const std::size_t rest = bytes.size() - i; rest != 0) {
        std::uint32_t group = std::uint32_t{bytes[i]} << 16;
        if (rest == 2) group |= std::uint32_t{bytes[i + 1]} << 8;
        out += base64_alphabet[group >> 18];
        out += base64_alphabet[(group >> 12) & 63];
        out += rest == 2 ? base64_alphabet[(group >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

result<std::vector<std::uint8_t>> decode_base64_lenient(std::string_view text) {
    // Padding is optional, but when present it must be exactly what RFC 4648 §4 prescribes: at the
    // end, one or two '=' that complete a 4-character group.
    std::size_t pad = 0;
    while (pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
    if (pad > 2) return error{errc::malformed, "too much base64 padding"};
    const std::string_view digits = text.substr(0, text.size() - pad);
    if (digits.empty()) return error{errc::malformed, "empty base64"};
    if (pad != 0 && text.size() % 4 != 0) return error{errc::malformed, "base64 padding does not complete a group"};
    // A lone digit in the last group carries only 6 bits, not a whole octet.
    if (digits.size() % 4 == 1) return error{errc::malformed, "base64 length is impossible"};
    if (pad != 0 && (4 - digits.size() % 4) % 4 != pad) return error{errc::malformed, "wrong amount of base64 padding"};

    std::vector<std::uint8_t> out;
    out.reserve(digits.size() / 4 * 3 + 2);
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : digits) {
        const std::int8_t v = decode_table[static_cast<unsigned char>(c)];
        if (v < 0) return error{errc::malformed, "invalid base64 character"};
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
    if (acc != 0) return error{errc::malformed, "non-zero base64 padding bits"};
    return out;
}

}  // namespace ocspkit
