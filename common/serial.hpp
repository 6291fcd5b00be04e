#pragma once
// Certificate serial numbers in one canonical form: the unsigned magnitude, big-endian, without
// leading zero octets (zero is one 0x00 octet). RFC 5280 §4.1.2.2 caps serials at 20 octets; we accept
// a magnitude of up to 20 octets so that a 20-octet serial with its high bit set (21 DER octets, which
// several CAs emit) still works. Negative serials are refused.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/asn1.h>

#include "common/ossl_ptr.hpp"
#include "common/result.hpp"

namespace ocspkit {

class serial_number {
public:
    static constexpr std::size_t max_octets = 20;

    // Hex as `openssl x509 -serial` and index.txt print it; case-insensitive, optional "0x" prefix,
    // odd length and leading zeros tolerated; ':' separators (as `x509 -text` prints) accepted.
    static result<serial_number> from_hex(std::string_view hex);
    // A serial as a person types or pastes it: surrounding blanks, a `serial=` prefix (what
    // `openssl x509 -noout -serial` prints), ':' or ' ' between octets ("10:04", "10 04"), "0x". With
    // `decimal`, the digits are read as a decimal number instead (`openssl x509 -text` prints small
    // serials in decimal).
    static result<serial_number> parse(std::string_view text, bool decimal = false);
    // From a decimal number of any length (as long as the value fits in max_octets).
    static result<serial_number> from_decimal(std::string_view digits);
    // From raw big-endian magnitude octets (leading zeros dropped).
    static result<serial_number> from_bytes(const std::uint8_t* data, std::size_t len);
    static result<serial_number> from_bytes(const std::vector<std::uint8_t>& octets) {
        return from_bytes(octets.data(), octets.size());
    }
    static result<serial_number> from_asn1(const ASN1_INTEGER* integer);

    // Uppercase, even number of digits, as `openssl x509 -serial` prints (e.g. "00" for zero, "80").
    std::string to_hex() const;
    const std::vector<std::uint8_t>& bytes() const noexcept { return bytes_; }
    ossl::asn1_integer_ptr to_asn1() const;

    friend bool operator==(const serial_number&, const serial_number&) = default;
    friend auto operator<=>(const serial_number&, const serial_number&) = default;

private:
    explicit serial_number(std::vector<std::uint8_t> bytes) : bytes_(std::move(bytes)) {}
    std::vector<std::uint8_t> bytes_;
};

}  // namespace ocspkit
