// ASN.1 times: the UTCTime century rule of RFC 5280 §4.1.2.5.1, GeneralizedTime, and user input.
#include "common/asn1_time.hpp"

#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/test_pki.hpp"

namespace ocspkit {
namespace {

using namespace std::chrono_literals;

struct time_case {
    const char* name;
    std::string input;
    std::optional<std::string> expected_iso;  // nullopt: must be rejected
};

std::string show(const std::optional<sys_seconds>& t) { return t ? to_iso8601(*t) : "(rejected)"; }
std::string show(const std::optional<std::string>& s) { return s ? *s : "(rejected)"; }

class parse_asn1_time : public testing::TestWithParam<time_case> {};

TEST_P(parse_asn1_time, reads_or_rejects) {
    const auto& c = GetParam();
    EXPECT_EQ(show(parse_asn1_time_string(c.input)), show(c.expected_iso));
}

INSTANTIATE_TEST_SUITE_P(
    table, parse_asn1_time,
    testing::Values(time_case{"utc_49_is_2049", "490101000000Z", "2049-01-01T00:00:00Z"},
                    time_case{"utc_50_is_1950", "500101000000Z", "1950-01-01T00:00:00Z"},
                    time_case{"utc_99_is_1999", "991231235959Z", "1999-12-31T23:59:59Z"},
                    time_case{"utc_00_leap_day", "000229120000Z", "2000-02-29T12:00:00Z"},
                    time_case{"generalized_2050", "20500101000000Z", "2050-01-01T00:00:00Z"},
                    time_case{"generalized_1949", "19491231235959Z", "1949-12-31T23:59:59Z"},
                    time_case{"generalized_reference", "20260101000000Z", "2026-01-01T00:00:00Z"},
                    time_case{"empty", "", std::nullopt},
                    time_case{"no_zulu", "490101000000", std::nullopt},
                    time_case{"lowercase_zulu", "490101000000z", std::nullopt},
                    time_case{"no_seconds", "4901010000Z", std::nullopt},
                    time_case{"offset", "490101000000+0100", std::nullopt},
                    time_case{"fourteen_chars", "2049010100000Z", std::nullopt},
                    time_case{"fraction", "20490101000000.5Z", std::nullopt},
                    time_case{"month_13", "491301000000Z", std::nullopt},
                    time_case{"february_30", "490230000000Z", std::nullopt},
                    time_case{"not_leap_year", "19000229000000Z", std::nullopt},
                    time_case{"hour_24", "490101240000Z", std::nullopt},
                    time_case{"minute_60", "490101006000Z", std::nullopt},
                    time_case{"leap_second", "490101235960Z", std::nullopt},
                    time_case{"letter", "49010100000AZ", std::nullopt},
                    time_case{"sign", "-90101000000Z", std::nullopt}),
    [](const testing::TestParamInfo<time_case>& p) { return std::string(p.param.name); });

TEST(from_asn1_time, reads_both_asn1_types) {
    ossl::asn1_time_ptr utc{ASN1_TIME_new()};
    ASSERT_EQ(ASN1_TIME_set_string(utc.get(), "491231235959Z"), 1);
    ASSERT_EQ(ASN1_STRING_type(utc.get()), V_ASN1_UTCTIME);
    EXPECT_EQ(show(from_asn1_time(utc.get())), "2049-12-31T23:59:59Z");

    ASSERT_EQ(ASN1_TIME_set_string(utc.get(), "500101000000Z"), 1);
    EXPECT_EQ(show(from_asn1_time(utc.get())), "1950-01-01T00:00:00Z");

    const auto generalized = to_generalized_time(test::reference_time);
    EXPECT_EQ(ASN1_STRING_type(generalized.get()), V_ASN1_GENERALIZEDTIME);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(generalized.get()))), "20260101000000Z");
    EXPECT_EQ(from_asn1_time(generalized.get()), test::reference_time);

    EXPECT_EQ(from_asn1_time(nullptr), std::nullopt);
}

TEST(to_asn1_time_string, utctime_only_from_1950_to_2049) {
    const auto at = [](const char* iso) { return *parse_user_time(iso, test::reference_time); };
    EXPECT_EQ(to_asn1_time_string(at("2049-12-31T23:59:59Z")), "491231235959Z");
    EXPECT_EQ(to_asn1_time_string(at("2050-01-01T00:00:00Z")), "20500101000000Z");
    EXPECT_EQ(to_asn1_time_string(at("1950-01-01T00:00:00Z")), "500101000000Z");
    EXPECT_EQ(to_asn1_time_string(at("1949-12-31T23:59:59Z")), "19491231235959Z");
    // Whatever we write, we read back.
    for (const char* iso : {"2049-12-31T23:59:59Z", "2050-01-01T00:00:00Z", "1950-01-01T00:00:00Z"}) {
        EXPECT_EQ(parse_asn1_time_string(to_asn1_time_string(at(iso))), at(iso)) << iso;
    }
}

TEST(to_iso8601, formats_utc) {
    EXPECT_EQ(to_iso8601(test::reference_time), "2026-01-01T00:00:00Z");
    EXPECT_EQ(to_iso8601(test::reference_time + 326 * 24h + 9h + 29min + 36s), "2026-11-23T09:29:36Z");
    EXPECT_EQ(to_iso8601(sys_seconds{}), "1970-01-01T00:00:00Z");
}

class parse_user_time_table : public testing::TestWithParam<time_case> {};

TEST_P(parse_user_time_table, reads_or_rejects) {
    const auto& c = GetParam();
    // "now" is the injected time, never the wall clock.
    const sys_seconds now = test::reference_time + 12h;
    EXPECT_EQ(show(parse_user_time(c.input, now)), show(c.expected_iso));
}

INSTANTIATE_TEST_SUITE_P(
    table, parse_user_time_table,
    testing::Values(time_case{"iso_t_zulu", "2026-11-23T09:29:36Z", "2026-11-23T09:29:36Z"},
                    time_case{"iso_t", "2026-11-23T09:29:36", "2026-11-23T09:29:36Z"},
                    time_case{"iso_space", "2026-11-23 09:29:36", "2026-11-23T09:29:36Z"},
                    time_case{"date_only", "2026-11-23", "2026-11-23T00:00:00Z"},
                    time_case{"utctime", "261123092936Z", "2026-11-23T09:29:36Z"},
                    time_case{"generalized", "20261123092936Z", "2026-11-23T09:29:36Z"},
                    time_case{"now", "now", "2026-01-01T12:00:00Z"},
                    time_case{"now_with_spaces", "  now ", "2026-01-01T12:00:00Z"},
                    time_case{"unix_seconds", "@1767225600", "2026-01-01T00:00:00Z"},
                    time_case{"unix_zero", "@0", "1970-01-01T00:00:00Z"},
                    time_case{"empty", "", std::nullopt},
                    time_case{"no_seconds", "2026-11-23T09:29", std::nullopt},
                    time_case{"slashes", "2026/11/23", std::nullopt},
                    time_case{"february_30", "2026-02-30", std::nullopt},
                    time_case{"hour_25", "2026-11-23T25:00:00Z", std::nullopt},
                    time_case{"offset", "2026-11-23T09:29:36+01:00", std::nullopt},
                    time_case{"at_only", "@", std::nullopt},
                    time_case{"at_negative", "@-5", std::nullopt},
                    time_case{"at_letters", "@12x", std::nullopt},
                    time_case{"at_too_long", "@123456789012", std::nullopt},
                    time_case{"word", "tomorrow", std::nullopt},
                    time_case{"now_uppercase", "NOW", std::nullopt}),
    [](const testing::TestParamInfo<time_case>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace ocspkit
