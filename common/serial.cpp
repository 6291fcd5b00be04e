#include "common/serial.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "common/ascii.hpp"
#include "common/cert_id.hpp"
#include "common/openssl_error.hpp"

namespace ocspkit {

namespace {

// Drops leading zero octets but keeps one for zero, so that equal numbers have equal bytes.
std::vector<std::uint8_t> canonical(const std::uint8_t* data, std::size_t len) {
    const std::uint8_t* end = data + len;
    const std::uint8_t* first = std::find_if(data, end, [](std::uint8_t b) { return b != 0; });
    if (first == end) return {0};
    return {first, end};
}

}  // namespace

result<serial_number> serial_number::from_hex(std::string_view hex) {
    std::string_view digits = hex;
    if (digits.size() >= 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) digits.remove_prefix(2);

    std::string clean;
    clean.reserve(digits.size() + 1);
    for (char c : digits) {
        if (c == ':') continue;
        if (hex_value(c) < 0) return error{errc::malformed, fmt::format("serial '{}': not hexadecimal", hex)};
        clean.push_back(c);
    }
    if (clean.empty()) return error{errc::malformed, fmt::format("serial '{}': no hexadecimal digits", hex)};
    // An odd count means the first octet has one digit: "ABC" is 0x0A 0xBC, as BN_hex2bn reads it.
    if (clean.size() % 2 != 0) clean.insert(clean.begin(), '0');

    std::vector<std::uint8_t> raw(clean.size() / 2);
    for (std::size_t i = 0; i < raw.size(); ++i) {
        raw[i] = static_cast<std::uint8_t>(hex_value(clean[2 * i]) * 16 + hex_value(clean[2 * i + 1]));
    }
    auto magnitude = canonical(raw.data(), raw.size());
    if (magnitude.size() > max_octets) {
        return error{errc::out_of_range,
                     fmt::format("serial '{}': {} octets, more than {}", hex, magnitude.size(), max_octets)};
    }
    return serial_number{std::move(magnitude)};
}

result<serial_number> serial_number::parse(std::string_view text, bool decimal) {
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!text.empty() && blank(text.front())) text.remove_prefix(1);
    while (!text.empty() && blank(text.back())) text.remove_suffix(1);
    std::string_view body = text;
    constexpr std::string_view prefix = "serial=";
    if (body.size() >= prefix.size() &&
        std::equal(prefix.begin(), prefix.end(), body.begin(),
                   [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
        body.remove_prefix(prefix.size());
    }
    if (decimal) {
        auto out = from_decimal(body);
        if (!out) return error{errc::malformed, fmt::format("serial '{}': not a decimal number", text)};
        return out;
    }
    std::string clean;
    clean.reserve(body.size());
    for (char c : body) {
        if (c != ' ' && c != '\t') clean.push_back(c);
    }
    auto out = from_hex(clean);
    if (!out) {
        // Report the text as typed, not the cleaned copy.
        const std::string& m = out.error_message();
        const auto colon = m.find("': ");
        return error{out.code(),
                     fmt::format("serial '{}': {}", text, colon == std::string::npos ? m : m.substr(colon + 3))};
    }
    return out;
}

result<serial_number> serial_number::from_decimal(std::string_view digits) {
    if (digits.empty()) return error{errc::malformed, "serial '': no decimal digits"};
    std::vector<std::uint8_t> value{0};  // big-endian magnitude
    for (char c : digits) {
        if (c < '0' || c > '9') return error{errc::malformed, fmt::format("serial '{}': not a decimal number", digits)};
        unsigned carry = static_cast<unsigned>(c - '0');
        for (auto it = value.rbegin(); it != value.rend(); ++it) {
            const unsigned v = static_cast<unsigned>(*it) * 10 + carry;
            *it = static_cast<std::uint8_t>(v & 0xff);
            carry = v >> 8;
        }
        if (carry != 0) value.insert(value.begin(), static_cast<std::uint8_t>(carry));
        // Stop growing past the limit (plus the leading zero that canonical() may drop).
        if (value.size() > max_octets + 1) {
            return error{errc::out_of_range, fmt::format("serial '{}': more than {} octets", digits, max_octets)};
        }
    }
    auto magnitude = canonical(value.data(), value.size());
    if (magnitude.size() > max_octets) {
        return error{errc::out_of_range,
                     fmt::format("serial '{}': {} octets, more than {}", digits, magnitude.size(), max_octets)};
    }
    return serial_number{std::move(magnitude)};
}

result<serial_number> serial_number::from_bytes(const std::uint8_t* data, std::size_t len) {
    if (len == 0) return error{errc::malformed, "serial: no octets"};
    auto magnitude = canonical(data, len);
    if (magnitude.size() > max_octets) {
        return error{errc::out_of_range,
                     fmt::format("serial {}: {} octets, more than {}", ocspkit::to_hex(magnitude), magnitude.size(),
                                 max_octets)};
    }
    return serial_number{std::move(magnitude)};
}

result<serial_number> serial_number::from_asn1(const ASN1_INTEGER* integer) {
    if (integer == nullptr) return error{errc::malformed, "serial: missing"};
    const std::uint8_t* data = ASN1_STRING_get0_data(integer);
    const auto len = static_cast<std::size_t>(ASN1_STRING_length(integer));
    // OpenSSL keeps the magnitude in the data and the sign in the type (see ASN1_INTEGER_get_int64).
    if (ASN1_STRING_type(integer) == V_ASN1_NEG_INTEGER) {
        return error{errc::out_of_range,
                     fmt::format("serial -{}: negative serial numbers are not supported (RFC 5280 §4.1.2.2)",
                                 ocspkit::to_hex(canonical(data, len)))};
    }
    // OpenSSL may represent zero with no content octets; the canonical form is one 0x00.
    if (len == 0) return serial_number{{0}};
    return from_bytes(data, len);
}

std::string serial_number::to_hex() const { return ocspkit::to_hex(bytes_); }

ossl::asn1_integer_ptr serial_number::to_asn1() const {
    ossl::asn1_integer_ptr out{ASN1_INTEGER_new()};
    // The data of a V_ASN1_INTEGER is the unsigned magnitude; i2d adds the 0x00 pad for a high bit.
    if (!out || ASN1_STRING_set(out.get(), bytes_.data(), static_cast<int>(bytes_.size())) != 1) {
        throw openssl_error("serial: cannot build ASN1_INTEGER");
    }
    return out;
}

}  // namespace ocspkit
