// index.txt lines as `openssl ca` (OpenSSL 3.0 apps/ca.c make_revocation_str) writes them, and the ones
// it must not accept, each with the exact error an operator will read.
#include <chrono>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "schema/index_txt.hpp"

namespace ocspkit::schema {
namespace {

using namespace std::chrono;

sys_seconds at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
    return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

struct valid_case {
    const char* name;
    std::string line;
    cert_status status;
    const char* serial;
    sys_seconds not_after;
    std::optional<sys_seconds> revoked = std::nullopt;
    std::optional<revocation_reason> reason = std::nullopt;
    std::optional<sys_seconds> invalidity = std::nullopt;
    std::optional<std::string> hold = std::nullopt;
    // What format_line writes back, when it differs from `line` (E becomes V, names are normalised).
    std::optional<std::string> exported = std::nullopt;
};

const sys_seconds exp_2026 = at(2026, 12, 23, 9, 33, 35);
const sys_seconds rev_2026 = at(2026, 11, 23, 9, 33, 36);

// Test names come from the name field; without these gtest would print the structs as bytes.
void PrintTo(const valid_case& c, std::ostream* os) { *os << c.name; }

class parse_valid : public testing::TestWithParam<valid_case> {};

TEST_P(parse_valid, fields) {
    const auto& c = GetParam();
    auto rec = index_txt::parse_line(c.line);
    ASSERT_TRUE(rec.has_value()) << rec.error_message();
    EXPECT_EQ(rec->status, c.status);
    EXPECT_EQ(rec->serial.to_hex(), c.serial);
    EXPECT_EQ(rec->not_after, c.not_after);
    EXPECT_EQ(rec->revocation_time, c.revoked);
    EXPECT_EQ(rec->reason, c.reason);
    EXPECT_EQ(rec->invalidity_date, c.invalidity);
    EXPECT_EQ(rec->hold_instruction, c.hold);
    EXPECT_EQ(rec->subject, "/CN=leaf");
    EXPECT_FALSE(rec->not_before.has_value());
    EXPECT_FALSE(rec->cert_der.has_value());
    EXPECT_TRUE(check_consistency(*rec).has_value()) << check_consistency(*rec).error_message();
}

TEST_P(parse_valid, round_trips_through_export) {
    const auto& c = GetParam();
    auto rec = index_txt::parse_line(c.line);
    ASSERT_TRUE(rec.has_value()) << rec.error_message();
    const auto out = index_txt::format_line(*rec);
    EXPECT_FALSE(out.warning.has_value()) << *out.warning;
    std::string expected = c.exported.value_or(c.line);
    if (!expected.empty() && expected.back() == '\r') expected.pop_back();
    EXPECT_EQ(out.line, expected);
    auto again = index_txt::parse_line(out.line);
    ASSERT_TRUE(again.has_value()) << again.error_message();
    EXPECT_TRUE(again->same_content(*rec));
}

INSTANTIATE_TEST_SUITE_P(
    openssl_ca_forms, parse_valid,
    testing::Values(
        valid_case{"valid", "V\t261223093335Z\t\t1000\tunknown\t/CN=leaf", cert_status::good, "1000", exp_2026},
        valid_case{"valid_generalized_expiry", "V\t20600201000000Z\t\t1008\tunknown\t/CN=leaf", cert_status::good,
                   "1008", at(2060, 2, 1)},
        valid_case{"expired", "E\t200201000000Z\t\t1007\tunknown\t/CN=leaf", cert_status::good, "1007",
                   at(2020, 2, 1), std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                   "V\t200201000000Z\t\t1007\tunknown\t/CN=leaf"},
        valid_case{"revoked_without_reason", "R\t261223093335Z\t261123093336Z\t1006\tunknown\t/CN=leaf",
                   cert_status::revoked, "1006", exp_2026, rev_2026},
        valid_case{"unspecified", "R\t261223093335Z\t261123093336Z,unspecified\t10\tunknown\t/CN=leaf",
                   cert_status::revoked, "10", exp_2026, rev_2026, revocation_reason::unspecified},
        valid_case{"key_compromise", "R\t261223093335Z\t261123093336Z,keyCompromise\t11\tunknown\t/CN=leaf",
                   cert_status::revoked, "11", exp_2026, rev_2026, revocation_reason::key_compromise},
        valid_case{"ca_compromise", "R\t261223093335Z\t261123093336Z,CACompromise\t12\tunknown\t/CN=leaf",
                   cert_status::revoked, "12", exp_2026, rev_2026, revocation_reason::ca_compromise},
        valid_case{"affiliation_changed",
                   "R\t261223093335Z\t261123093336Z,affiliationChanged\t13\tunknown\t/CN=leaf", cert_status::revoked,
                   "13", exp_2026, rev_2026, revocation_reason::affiliation_changed},
        valid_case{"superseded", "R\t261223093335Z\t261123093336Z,superseded\t14\tunknown\t/CN=leaf",
                   cert_status::revoked, "14", exp_2026, rev_2026, revocation_reason::superseded},
        valid_case{"cessation_of_operation",
                   "R\t261223093335Z\t261123093336Z,cessationOfOperation\t15\tunknown\t/CN=leaf",
                   cert_status::revoked, "15", exp_2026, rev_2026, revocation_reason::cessation_of_operation},
        valid_case{"reason_case_insensitive", "R\t261223093335Z\t261123093336Z,KEYCOMPROMISE\t16\tunknown\t/CN=leaf",
                   cert_status::revoked, "16", exp_2026, rev_2026, revocation_reason::key_compromise, std::nullopt,
                   std::nullopt, "R\t261223093335Z\t261123093336Z,keyCompromise\t16\tunknown\t/CN=leaf"},
        valid_case{"certificate_hold", "R\t261223093335Z\t261123093336Z,certificateHold\t1004\tunknown\t/CN=leaf",
                   cert_status::hold, "1004", exp_2026, rev_2026, revocation_reason::certificate_hold},
        valid_case{"certificate_hold_with_oid",
                   "R\t261223093335Z\t261123093336Z,certificateHold,1.2.840.10040.2.2\t17\tunknown\t/CN=leaf",
                   cert_status::hold, "17", exp_2026, rev_2026, revocation_reason::certificate_hold, std::nullopt,
                   "1.2.840.10040.2.2",
                   "R\t261223093335Z\t261123093336Z,holdInstruction,1.2.840.10040.2.2\t17\tunknown\t/CN=leaf"},
        valid_case{"crl_hold_by_name",
                   "R\t261223093335Z\t261123093336Z,holdInstruction,holdInstructionReject\t1001\tunknown\t/CN=leaf",
                   cert_status::hold, "1001", exp_2026, rev_2026, revocation_reason::certificate_hold, std::nullopt,
                   "1.2.840.10040.2.3",
                   "R\t261223093335Z\t261123093336Z,holdInstruction,1.2.840.10040.2.3\t1001\tunknown\t/CN=leaf"},
        valid_case{"crl_hold_by_oid",
                   "R\t261223093335Z\t261123093336Z,holdInstruction,1.2.840.10040.2.1\t18\tunknown\t/CN=leaf",
                   cert_status::hold, "18", exp_2026, rev_2026, revocation_reason::certificate_hold, std::nullopt,
                   "1.2.840.10040.2.1"},
        valid_case{"crl_compromise", "R\t261223093335Z\t261123093336Z,keyTime,20250101000000Z\t1002\tunknown\t/CN=leaf",
                   cert_status::revoked, "1002", exp_2026, rev_2026, revocation_reason::key_compromise,
                   at(2025, 1, 1)},
        valid_case{"crl_ca_compromise",
                   "R\t261223093335Z\t261123093336Z,CAkeyTime,20250202000000Z\t1003\tunknown\t/CN=leaf",
                   cert_status::revoked, "1003", exp_2026, rev_2026, revocation_reason::ca_compromise,
                   at(2025, 2, 2)},
        valid_case{"remove_from_crl_is_good", "R\t261223093335Z\t261123093336Z,removeFromCRL\t1005\tunknown\t/CN=leaf",
                   cert_status::good, "1005", exp_2026, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                   "V\t261223093335Z\t\t1005\tunknown\t/CN=leaf"},
        valid_case{"crlf_line_end", "V\t261223093335Z\t\t1000\tunknown\t/CN=leaf\r", cert_status::good, "1000",
                   exp_2026},
        valid_case{"lowercase_serial_with_leading_zeros", "V\t261223093335Z\t\t00ab\tunknown\t/CN=leaf",
                   cert_status::good, "AB", exp_2026, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                   "V\t261223093335Z\t\tAB\tunknown\t/CN=leaf"},
        valid_case{"zero_serial", "V\t261223093335Z\t\t00\tunknown\t/CN=leaf", cert_status::good, "00", exp_2026},
        valid_case{"twenty_octets_high_bit",
                   "V\t261223093335Z\t\tFF0102030405060708090A0B0C0D0E0F10111213\tunknown\t/CN=leaf",
                   cert_status::good, "FF0102030405060708090A0B0C0D0E0F10111213", exp_2026},
        valid_case{"custom_file_name", "V\t261223093335Z\t\t1000\tcerts/1000.pem\t/CN=leaf", cert_status::good, "1000",
                   exp_2026, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                   "V\t261223093335Z\t\t1000\tunknown\t/CN=leaf"}),
    [](const testing::TestParamInfo<valid_case>& param_info) { return std::string{param_info.param.name}; });

struct malformed_case {
    const char* name;
    std::string line;
    std::string error;
};

void PrintTo(const malformed_case& c, std::ostream* os) { *os << c.name; }

class parse_malformed : public testing::TestWithParam<malformed_case> {};

TEST_P(parse_malformed, exact_error) {
    const auto& c = GetParam();
    auto rec = index_txt::parse_line(c.line);
    ASSERT_FALSE(rec.has_value()) << "accepted: " << c.line;
    EXPECT_EQ(rec.error_message(), c.error);
}

INSTANTIATE_TEST_SUITE_P(
    rejected, parse_malformed,
    testing::Values(
        malformed_case{"empty", "", "expected 6 tab-separated fields, found 1"},
        malformed_case{"five_fields", "V\t261223093335Z\t\t1000\tunknown", "expected 6 tab-separated fields, found 5"},
        malformed_case{"seven_fields", "V\t261223093335Z\t\t1000\tunknown\t/CN=a\tx",
                       "expected 6 tab-separated fields, found 7"},
        malformed_case{"spaces_not_tabs", "V 261223093335Z  1000 unknown /CN=a",
                       "expected 6 tab-separated fields, found 1"},
        malformed_case{"unknown_status", "S\t261223093335Z\t\t1000\tunknown\t/CN=a",
                       "unknown status 'S' (expected V, R or E)"},
        malformed_case{"lowercase_status", "v\t261223093335Z\t\t1000\tunknown\t/CN=a",
                       "unknown status 'v' (expected V, R or E)"},
        malformed_case{"expiry_no_zulu", "V\t261223093335\t\t1000\tunknown\t/CN=a",
                       "invalid expiry date '261223093335' (expected YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ)"},
        malformed_case{"expiry_bad_month", "V\t261323093335Z\t\t1000\tunknown\t/CN=a",
                       "invalid expiry date '261323093335Z' (expected YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ)"},
        malformed_case{"valid_with_revocation", "V\t261223093335Z\t261123093336Z\t1000\tunknown\t/CN=a",
                       "status V must have an empty revocation field, found '261123093336Z'"},
        malformed_case{"expired_with_revocation", "E\t261223093335Z\t261123093336Z,keyCompromise\t1000\tunknown\t/CN=a",
                       "status E must have an empty revocation field, found '261123093336Z,keyCompromise'"},
        malformed_case{"revoked_without_date", "R\t261223093335Z\t\t1000\tunknown\t/CN=a",
                       "status R needs a revocation date"},
        malformed_case{"bad_revocation_date", "R\t261223093335Z\tyesterday,keyCompromise\t1000\tunknown\t/CN=a",
                       "invalid revocation date 'yesterday' (expected YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ)"},
        malformed_case{"unknown_reason", "R\t261223093335Z\t261123093336Z,stolen\t1000\tunknown\t/CN=a",
                       "unknown revocation reason 'stolen'"},
        malformed_case{"empty_reason", "R\t261223093335Z\t261123093336Z,\t1000\tunknown\t/CN=a",
                       "unknown revocation reason ''"},
        malformed_case{"hold_instruction_missing", "R\t261223093335Z\t261123093336Z,holdInstruction\t1000\tunknown\t/CN=a",
                       "holdInstruction needs an instruction OID"},
        malformed_case{"hold_instruction_unknown",
                       "R\t261223093335Z\t261123093336Z,holdInstruction,pleaseWait\t1000\tunknown\t/CN=a",
                       "invalid hold instruction 'pleaseWait' (not an OID or a known name)"},
        malformed_case{"certificate_hold_bad_oid",
                       "R\t261223093335Z\t261123093336Z,certificateHold,holdForever\t1000\tunknown\t/CN=a",
                       "invalid hold instruction 'holdForever' (not an OID or a known name)"},
        malformed_case{"key_time_missing", "R\t261223093335Z\t261123093336Z,keyTime\t1000\tunknown\t/CN=a",
                       "keyTime needs a compromise time"},
        malformed_case{"ca_key_time_empty", "R\t261223093335Z\t261123093336Z,CAkeyTime,\t1000\tunknown\t/CN=a",
                       "CAkeyTime needs a compromise time"},
        malformed_case{"key_time_utctime",
                       "R\t261223093335Z\t261123093336Z,keyTime,250101000000Z\t1000\tunknown\t/CN=a",
                       "invalid compromise time '250101000000Z' (expected YYYYMMDDHHMMSSZ)"},
        malformed_case{"argument_after_plain_reason",
                       "R\t261223093335Z\t261123093336Z,keyCompromise,20250101000000Z\t1000\tunknown\t/CN=a",
                       "unexpected '20250101000000Z' after reason keyCompromise"},
        malformed_case{"argument_after_remove_from_crl",
                       "R\t261223093335Z\t261123093336Z,removeFromCRL,x\t1000\tunknown\t/CN=a",
                       "unexpected 'x' after reason removeFromCRL"},
        malformed_case{"serial_not_hex", "V\t261223093335Z\t\t10G0\tunknown\t/CN=a",
                       "invalid serial '10G0' (expected hexadecimal digits)"},
        malformed_case{"serial_negative", "V\t261223093335Z\t\t-01\tunknown\t/CN=a",
                       "invalid serial '-01' (expected hexadecimal digits)"},
        malformed_case{"serial_with_colons", "V\t261223093335Z\t\t10:00\tunknown\t/CN=a",
                       "invalid serial '10:00' (expected hexadecimal digits)"},
        malformed_case{"serial_empty", "V\t261223093335Z\t\t\tunknown\t/CN=a",
                       "invalid serial '' (expected hexadecimal digits)"},
        malformed_case{"serial_21_octets", "V\t261223093335Z\t\t0102030405060708090A0B0C0D0E0F101112131415\tunknown\t/CN=a",
                       "invalid serial '0102030405060708090A0B0C0D0E0F101112131415': 21 octets, more than 20 "
                       "(RFC 5280 §4.1.2.2)"}),
    [](const testing::TestParamInfo<malformed_case>& param_info) { return std::string{param_info.param.name}; });

cert_record revoked(revocation_reason reason) {
    cert_record r;
    r.serial = *serial_number::from_hex("0A");
    r.not_after = exp_2026;
    r.status = cert_status::revoked;
    r.revocation_time = rev_2026;
    r.reason = reason;
    r.subject = "/CN=x";
    return r;
}

TEST(format_line, reasons_without_an_index_txt_spelling_warn) {
    for (auto reason : {revocation_reason::privilege_withdrawn, revocation_reason::aa_compromise}) {
        const auto out = index_txt::format_line(revoked(reason));
        EXPECT_EQ(out.line, "R\t261223093335Z\t261123093336Z\t0A\tunknown\t/CN=x");
        ASSERT_TRUE(out.warning.has_value());
        EXPECT_EQ(*out.warning, fmt::format("serial 0A: reason {} has no index.txt spelling; written without a reason",
                                            reason_name(reason)));
    }
}

TEST(format_line, invalidity_date_only_with_compromise) {
    auto rec = revoked(revocation_reason::superseded);
    rec.invalidity_date = at(2025, 1, 1);
    const auto out = index_txt::format_line(rec);
    EXPECT_EQ(out.line, "R\t261223093335Z\t261123093336Z,superseded\t0A\tunknown\t/CN=x");
    ASSERT_TRUE(out.warning.has_value());
    EXPECT_EQ(*out.warning,
              "serial 0A: index.txt keeps an invalidity date only with keyCompromise or cACompromise; dropped");
}

TEST(format_line, unknown_expiry_and_control_characters) {
    cert_record rec;
    rec.serial = *serial_number::from_hex("01");
    rec.subject = "/CN=a\tb\nc";
    const auto out = index_txt::format_line(rec);
    EXPECT_EQ(out.line, "V\t99991231235959Z\t\t01\tunknown\t/CN=a\\x09b\\x0Ac");
    EXPECT_FALSE(out.warning.has_value());
}

TEST(format_line, hold_without_instruction) {
    auto rec = revoked(revocation_reason::certificate_hold);
    rec.status = cert_status::hold;
    EXPECT_EQ(index_txt::format_line(rec).line, "R\t261223093335Z\t261123093336Z,certificateHold\t0A\tunknown\t/CN=x");
}

TEST(format_line, generalized_time_after_2049) {
    auto rec = revoked(revocation_reason::key_compromise);
    rec.not_after = at(2051, 6, 1, 12);
    rec.invalidity_date = at(2025, 3, 4, 5, 6, 7);
    EXPECT_EQ(index_txt::format_line(rec).line,
              "R\t20510601120000Z\t261123093336Z,keyTime,20250304050607Z\t0A\tunknown\t/CN=x");
}

TEST(hold_instruction, names_and_oids) {
    EXPECT_EQ(*index_txt::normalize_hold_instruction("holdInstructionNone"), "1.2.840.10040.2.1");
    EXPECT_EQ(*index_txt::normalize_hold_instruction("holdInstructionCallIssuer"), "1.2.840.10040.2.2");
    EXPECT_EQ(*index_txt::normalize_hold_instruction("1.2.3.4"), "1.2.3.4");
    EXPECT_FALSE(index_txt::normalize_hold_instruction("").has_value());
}

}  // namespace
}  // namespace ocspkit::schema
