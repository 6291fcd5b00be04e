// Serial numbers: one canonical form whatever the spelling, and the refusals of RFC 5280 §4.1.2.2.
#include "common/serial.hpp"

#include <string>

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "common/cert_id.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit {
namespace {

struct hex_case {
    const char* name;
    std::string input;
    std::string expected;  // canonical hex, or the exact error message when ok is false
    bool ok;
};

std::string repeat(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

class serial_from_hex : public testing::TestWithParam<hex_case> {};

TEST_P(serial_from_hex, canonicalises_or_refuses) {
    const auto& c = GetParam();
    const auto serial = serial_number::from_hex(c.input);
    if (c.ok) {
        ASSERT_TRUE(serial.has_value()) << serial.error_message();
        EXPECT_EQ(serial->to_hex(), c.expected);
    } else {
        ASSERT_FALSE(serial.has_value()) << serial->to_hex();
        EXPECT_EQ(serial.error_message(), c.expected);
    }
}

INSTANTIATE_TEST_SUITE_P(
    table, serial_from_hex,
    testing::Values(
        hex_case{"one", "01", "01", true},
        hex_case{"leading_zeros", "0001", "01", true},
        hex_case{"zero", "0", "00", true},
        hex_case{"zero_padded", "0000", "00", true},
        hex_case{"high_bit", "80", "80", true},
        hex_case{"high_bit_with_sign_octet", "0080", "80", true},
        hex_case{"odd_length", "ABC", "0ABC", true},
        hex_case{"lowercase", "abcdef", "ABCDEF", true},
        hex_case{"hex_prefix", "0x1f", "1F", true},
        hex_case{"colon_separated", "01:ab:CD", "01ABCD", true},
        hex_case{"twenty_octets_high_bit", repeat("FF", 20), repeat("FF", 20), true},
        hex_case{"twenty_octets_with_sign_octet", "00" + repeat("FF", 20), repeat("FF", 20), true},
        hex_case{"twenty_one_octets", "01" + repeat("00", 20),
                 "serial '01" + repeat("00", 20) + "': 21 octets, more than 20", false},
        hex_case{"not_hex", "12G4", "serial '12G4': not hexadecimal", false},
        hex_case{"negative", "-01", "serial '-01': not hexadecimal", false},
        hex_case{"space", "01 02", "serial '01 02': not hexadecimal", false},
        hex_case{"empty", "", "serial '': no hexadecimal digits", false},
        hex_case{"prefix_only", "0x", "serial '0x': no hexadecimal digits", false}),
    [](const testing::TestParamInfo<hex_case>& p) { return std::string(p.param.name); });

TEST(serial_from_bytes, drops_leading_zeros_and_refuses_long_or_empty) {
    EXPECT_EQ(serial_number::from_bytes({0x00, 0x00, 0x80})->to_hex(), "80");
    EXPECT_EQ(serial_number::from_bytes({0x00})->to_hex(), "00");
    EXPECT_EQ(serial_number::from_bytes(std::vector<std::uint8_t>(21, 0x00))->to_hex(), "00");

    const auto too_long = serial_number::from_bytes(std::vector<std::uint8_t>(21, 0x11));
    ASSERT_FALSE(too_long.has_value());
    EXPECT_EQ(too_long.error_message(), "serial " + repeat("11", 21) + ": 21 octets, more than 20");

    const auto empty = serial_number::from_bytes(std::vector<std::uint8_t>{});
    ASSERT_FALSE(empty.has_value());
    EXPECT_EQ(empty.error_message(), "serial: no octets");
}

TEST(serial_equality, same_number_same_value) {
    EXPECT_EQ(*serial_number::from_hex("0x00ab"), *serial_number::from_hex("AB"));
    EXPECT_NE(*serial_number::from_hex("AB"), *serial_number::from_hex("AB00"));
}

TEST(serial_from_asn1, refuses_negative_integer) {
    ossl::asn1_integer_ptr negative{ASN1_INTEGER_new()};
    ASSERT_EQ(ASN1_INTEGER_set_int64(negative.get(), -0x1234), 1);
    const auto serial = serial_number::from_asn1(negative.get());
    ASSERT_FALSE(serial.has_value());
    EXPECT_EQ(serial.error_message(), "serial -1234: negative serial numbers are not supported (RFC 5280 §4.1.2.2)");
}

TEST(serial_from_asn1, refuses_negative_serial_of_a_certificate) {
    // Some old CAs issued these; the test PKI can make one because it builds serials with BIGNUM.
    const auto ca = test::make_ca("negative serial CA", test::key_type::ec_p256, {.serial_hex = "-05"});
    const auto serial = serial_number::from_asn1(X509_get0_serialNumber(ca.cert.get()));
    ASSERT_FALSE(serial.has_value());
    EXPECT_EQ(serial.error_message(), "serial -05: negative serial numbers are not supported (RFC 5280 §4.1.2.2)");
}

TEST(serial_from_asn1, zero_and_null) {
    ossl::asn1_integer_ptr zero{ASN1_INTEGER_new()};
    ASSERT_EQ(ASN1_INTEGER_set_int64(zero.get(), 0), 1);
    EXPECT_EQ(serial_number::from_asn1(zero.get())->to_hex(), "00");

    const auto missing = serial_number::from_asn1(nullptr);
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error_message(), "serial: missing");
}

TEST(serial_to_asn1, der_has_sign_octet_only_when_needed) {
    const auto der = [](const std::string& hex) {
        const auto integer = serial_number::from_hex(hex)->to_asn1();
        std::vector<std::uint8_t> bytes(static_cast<std::size_t>(i2d_ASN1_INTEGER(integer.get(), nullptr)));
        unsigned char* out = bytes.data();
        i2d_ASN1_INTEGER(integer.get(), &out);
        return to_hex(bytes);
    };
    EXPECT_EQ(der("7F"), "02017F");
    EXPECT_EQ(der("80"), "02020080");
    EXPECT_EQ(der("00"), "020100");
    EXPECT_EQ(der(repeat("FF", 20)), "021500" + repeat("FF", 20));
}

// The hex we print must be the hex `openssl x509 -serial` prints, or operators cannot match them up.
struct round_trip_case {
    const char* name;
    std::string cert_serial;  // as given to the test PKI
    std::string canonical;
};

class serial_round_trip : public testing::TestWithParam<round_trip_case> {};

TEST_P(serial_round_trip, matches_openssl_x509_serial) {
    const auto& c = GetParam();
    const test::temp_dir dir;
    const auto ca = test::make_ca("serial CA", test::key_type::ec_p256, {.serial_hex = c.cert_serial});
    test::write_pem(dir / "ca.pem", ca.cert.get());

    const auto cli = test::run_command("openssl x509 -noout -serial -in " + (dir / "ca.pem").string());
    ASSERT_EQ(cli.exit_code, 0) << cli.output;
    EXPECT_EQ(cli.output, "serial=" + c.canonical + "\n");

    const auto from_hex = serial_number::from_hex(c.cert_serial);
    ASSERT_TRUE(from_hex.has_value()) << from_hex.error_message();
    EXPECT_EQ(from_hex->to_hex(), c.canonical);

    const auto from_cert = serial_number::from_asn1(X509_get0_serialNumber(ca.cert.get()));
    ASSERT_TRUE(from_cert.has_value()) << from_cert.error_message();
    EXPECT_EQ(*from_cert, *from_hex);
    EXPECT_EQ(ASN1_INTEGER_cmp(from_hex->to_asn1().get(), X509_get0_serialNumber(ca.cert.get())), 0);
}

INSTANTIATE_TEST_SUITE_P(
    table, serial_round_trip,
    testing::Values(round_trip_case{"one", "01", "01"}, round_trip_case{"zero", "00", "00"},
                    round_trip_case{"high_bit", "80", "80"}, round_trip_case{"leading_zeros", "0001", "01"},
                    round_trip_case{"odd_length", "ABC", "0ABC"},
                    round_trip_case{"sixteen_octets", "5A3C0F19E2D4B68A7C91E0F3A2B4C6D8", "5A3C0F19E2D4B68A7C91E0F3A2B4C6D8"},
                    round_trip_case{"twenty_octets_high_bit", repeat("FF", 20), repeat("FF", 20)},
                    round_trip_case{"twenty_octets_low_bit", "7F" + repeat("01", 19), "7F" + repeat("01", 19)}),
    [](const testing::TestParamInfo<round_trip_case>& p) { return std::string(p.param.name); });

// Serials as people paste them: what `openssl x509 -noout -serial` prints, colon or space separated
// octets as `x509 -text` and GUIs show them, 0x, and decimal with --decimal.
struct parse_case {
    const char* name;
    const char* text;
    bool decimal;
    const char* hex;  // nullptr: refused
};

class serial_parse : public testing::TestWithParam<parse_case> {};

TEST_P(serial_parse, reads_the_forms_people_paste) {
    const auto& c = GetParam();
    auto s = serial_number::parse(c.text, c.decimal);
    if (c.hex == nullptr) {
        EXPECT_FALSE(s) << c.text;
        return;
    }
    ASSERT_TRUE(s) << s.error_message();
    EXPECT_EQ(s->to_hex(), c.hex);
}

INSTANTIATE_TEST_SUITE_P(
    forms, serial_parse,
    testing::Values(parse_case{"plain", "1004", false, "1004"},
                    parse_case{"openssl_serial_equals", "serial=1004", false, "1004"},
                    parse_case{"openssl_serial_equals_upper", "SERIAL=10AB\n", false, "10AB"},
                    parse_case{"colons", "10:04", false, "1004"},
                    parse_case{"spaces", "10 04", false, "1004"},
                    parse_case{"blanks_around", "  0x1004\t", false, "1004"},
                    parse_case{"leading_zero_octet", "00:80", false, "80"},
                    parse_case{"decimal", "4100", true, "1004"},
                    parse_case{"decimal_serial_equals", "serial=255", true, "FF"},
                    parse_case{"decimal_zero", "0", true, "00"},
                    parse_case{"decimal_20_octets", "1461501637330902918203684832716283019655932542975", true,
                               "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"},
                    parse_case{"decimal_21_octets", "1461501637330902918203684832716283019655932542976", true, nullptr},
                    parse_case{"decimal_with_hex_digit", "10A", true, nullptr},
                    parse_case{"not_hex", "12G4", false, nullptr},
                    parse_case{"empty", "serial=", false, nullptr}),
    [](const testing::TestParamInfo<parse_case>& p) { return std::string{p.param.name}; });

TEST(serial_parse_message, names_the_text_as_typed) {
    auto s = serial_number::parse(" serial=12G4", false);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error_message(), "serial 'serial=12G4': not hexadecimal");
}

TEST(serial_errors, say_whether_the_text_is_garbage_or_too_large) {
    EXPECT_EQ(serial_number::from_hex("12G4").code(), errc::malformed);
    EXPECT_EQ(serial_number::from_hex(std::string(60, 'A')).code(), errc::out_of_range);
    EXPECT_EQ(serial_number::parse("serial=12G4", false).code(), errc::malformed);
    EXPECT_EQ(serial_number::parse(std::string(60, 'A'), false).code(), errc::out_of_range);
    EXPECT_EQ(serial_number::from_decimal("12a").code(), errc::malformed);
}

}  // namespace
}  // namespace ocspkit
