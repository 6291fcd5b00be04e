// HTTP caching of OCSP answers (RFC 5019 §6.2) and conditional GET (RFC 9110 §13.1).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <openssl/evp.h>

#include "common/openssl_error.hpp"
#include "protocol/cache_headers.hpp"
#include "tests/unit/responder/responder_test_util.hpp"

namespace ocspkit::responder {
namespace {

using namespace test_util;
using namespace protocol;
using namespace std::chrono_literals;

// RFC 9110 §5.6.7's example instant: 1994-11-06T08:49:37Z.
constexpr sys_seconds rfc_example{std::chrono::seconds{784111777}};

answer_metadata cacheable_meta() {
    answer_metadata m;
    m.status = ocsp_status::successful;
    m.cert_states = {cert_state::good, cert_state::revoked};
    m.this_update = reference_time - 1h;
    m.next_update = reference_time + 24h;
    m.cacheable = true;
    return m;
}

std::string sha256_prefix_hex(const bytes& data, std::size_t octets) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    return to_hex(md, octets);
}

TEST(cache_headers, cacheable_get_answer_gets_validators_and_max_age) {
    const bytes der = filled(200);
    const auto h = cache_headers_for(cacheable_meta().http_validity(), der, true, reference_time);
    EXPECT_EQ(h.cache_control, "max-age=86400, public, no-transform, must-revalidate");
    EXPECT_EQ(h.last_modified, "Wed, 31 Dec 2025 23:00:00 GMT");
    EXPECT_EQ(h.expires, "Fri, 02 Jan 2026 00:00:00 GMT");
    ASSERT_TRUE(h.etag);
    EXPECT_EQ(*h.etag, "\"" + sha256_prefix_hex(der, 16) + "\"");
    // Another response, another tag.
    EXPECT_NE(cache_headers_for(cacheable_meta().http_validity(), filled(200, 2), true, reference_time).etag, h.etag);
}

TEST(cache_headers, get_validator_fields_are_the_header_lines_of_a_cacheable_answer) {
    const bytes der = filled(200);
    const std::string etag = response_etag(der);
    EXPECT_EQ(get_validator_fields(cacheable_meta().http_validity(), der, reference_time, etag),
              "Last-Modified: Wed, 31 Dec 2025 23:00:00 GMT\r\nExpires: Fri, 02 Jan 2026 00:00:00 GMT\r\nETag: " + etag +
                  "\r\n");
    auto with_nonce = cacheable_meta();
    with_nonce.has_nonce = true;
    with_nonce.cacheable = false;
    EXPECT_EQ(get_validator_fields(with_nonce.http_validity(), der, reference_time, etag), std::nullopt);
}

TEST(cache_headers, precomputed_etag_is_used_as_given) {
    const bytes der = filled(80);
    const std::string etag = response_etag(der);
    EXPECT_EQ(etag, "\"" + sha256_prefix_hex(der, 16) + "\"");
    EXPECT_EQ(cache_headers_for(cacheable_meta().http_validity(), der, true, reference_time, etag).etag, etag);
    // The bytes are not hashed again when a tag is given (a cached answer's tag is computed once).
    EXPECT_EQ(cache_headers_for(cacheable_meta().http_validity(), der, true, reference_time, "\"cached\"").etag, "\"cached\"");
}

TEST(cache_headers, max_age_shrinks_with_time_and_never_goes_negative) {
    const bytes der = filled(10);
    EXPECT_EQ(cache_headers_for(cacheable_meta().http_validity(), der, true, reference_time + 23h).cache_control,
              "max-age=3600, public, no-transform, must-revalidate");
    EXPECT_EQ(cache_headers_for(cacheable_meta().http_validity(), der, true, reference_time + 48h).cache_control,
              "max-age=0, public, no-transform, must-revalidate");
}

TEST(cache_headers, s_maxage_is_the_cap_or_max_age_when_that_is_shorter) {
    EXPECT_EQ(shared_max_age(86400, std::nullopt), std::nullopt);
    EXPECT_EQ(shared_max_age(86400, 300s), 300u);
    EXPECT_EQ(shared_max_age(100, 300s), 100u);
    EXPECT_EQ(shared_max_age(0, 300s), 0u);
    EXPECT_EQ(shared_max_age(86400, 0s), 0u);
    const bytes der = filled(10);
    EXPECT_EQ(cache_headers_for(cacheable_meta().http_validity(), der, true, reference_time, {}, 300s).cache_control,
              "max-age=86400, s-maxage=300, public, no-transform, must-revalidate");
    EXPECT_EQ(cache_headers_for(cacheable_meta().http_validity(), der, true, reference_time + 24h - 60s, {}, 300s)
                  .cache_control,
              "max-age=60, s-maxage=60, public, no-transform, must-revalidate");
    // Not cacheable, or POST: no-cache whatever the cap.
    auto with_nonce = cacheable_meta();
    with_nonce.has_nonce = true;
    with_nonce.cacheable = false;
    EXPECT_EQ(cache_headers_for(with_nonce.http_validity(), der, true, reference_time, {}, 300s).cache_control, "no-cache");
    EXPECT_EQ(cache_headers_for(cacheable_meta().http_validity(), der, false, reference_time, {}, 300s).cache_control,
              "no-cache");
}

struct no_cache_case {
    std::string name;
    std::function<void(answer_metadata&)> tweak;
    bool is_get = true;
};

class not_cacheable : public ::testing::TestWithParam<no_cache_case> {};

TEST_P(not_cacheable, gets_no_cache_only) {
    auto meta = cacheable_meta();
    GetParam().tweak(meta);
    const auto h = cache_headers_for(meta.http_validity(), filled(10), GetParam().is_get, reference_time);
    EXPECT_EQ(h.cache_control, "no-cache");
    EXPECT_FALSE(h.etag);
    EXPECT_FALSE(h.last_modified);
    EXPECT_FALSE(h.expires);
    EXPECT_FALSE(not_modified(h, "*", std::nullopt));
}

INSTANTIATE_TEST_SUITE_P(
    answers, not_cacheable,
    ::testing::Values(
        no_cache_case{"post", [](answer_metadata&) {}, false},
        no_cache_case{"nonce_echoed",
                      [](answer_metadata& m) {
                          m.has_nonce = true;
                          m.cacheable = false;
                      }},
        no_cache_case{"nonce_flag_alone_suffices", [](answer_metadata& m) { m.has_nonce = true; }},
        no_cache_case{"unknown_certificate",
                      [](answer_metadata& m) {
                          m.cert_states.push_back(cert_state::unknown);
                          m.cacheable = false;
                      }},
        no_cache_case{"unknown_state_alone_suffices", [](answer_metadata& m) { m.cert_states = {cert_state::unknown}; }},
        no_cache_case{"malformed_request",
                      [](answer_metadata& m) {
                          m.status = ocsp_status::malformed_request;
                          m.cacheable = false;
                      }},
        no_cache_case{"unauthorized", [](answer_metadata& m) { m.status = ocsp_status::unauthorized; }},
        no_cache_case{"try_later", [](answer_metadata& m) { m.status = ocsp_status::try_later; }},
        no_cache_case{"not_marked_cacheable", [](answer_metadata& m) { m.cacheable = false; }}),
    [](const ::testing::TestParamInfo<no_cache_case>& p) { return p.param.name; });

TEST(http_dates, imf_fixdate_formats_the_rfc_example) {
    EXPECT_EQ(imf_fixdate(rfc_example), "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(imf_fixdate(sys_seconds{}), "Thu, 01 Jan 1970 00:00:00 GMT");
    EXPECT_EQ(imf_fixdate(reference_time), "Thu, 01 Jan 2026 00:00:00 GMT");
}

struct date_case {
    std::string name;
    std::string text;
    std::optional<sys_seconds> expect;
};

class http_date_parsing : public ::testing::TestWithParam<date_case> {};

TEST_P(http_date_parsing, reads_all_three_forms_and_nothing_else) {
    EXPECT_EQ(parse_http_date(GetParam().text), GetParam().expect) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    rfc9110, http_date_parsing,
    ::testing::Values(
        date_case{"imf_fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", rfc_example},
        date_case{"rfc850", "Sunday, 06-Nov-94 08:49:37 GMT", rfc_example},
        date_case{"asctime", "Sun Nov  6 08:49:37 1994", rfc_example},
        date_case{"asctime_two_digit_day", "Sun Nov 16 08:49:37 1994", rfc_example + 24h * 10},
        date_case{"rfc850_this_century", "Thursday, 01-Jan-26 00:00:00 GMT", reference_time},
        date_case{"surrounding_whitespace", "  Sun, 06 Nov 1994 08:49:37 GMT ", rfc_example},
        date_case{"leap_day", "Sun, 29 Feb 2004 12:00:00 GMT", sys_seconds{std::chrono::seconds{1078056000}}},
        date_case{"round_trip_of_reference", "Thu, 01 Jan 2026 00:00:00 GMT", reference_time},
        date_case{"not_a_leap_year", "Thu, 29 Feb 2001 12:00:00 GMT", std::nullopt},
        date_case{"hour_24", "Sun, 06 Nov 1994 24:00:00 GMT", std::nullopt},
        date_case{"minute_60", "Sun, 06 Nov 1994 08:60:00 GMT", std::nullopt},
        date_case{"lowercase_month", "Sun, 06 nov 1994 08:49:37 GMT", std::nullopt},
        date_case{"not_gmt", "Sun, 06 Nov 1994 08:49:37 UTC", std::nullopt},
        date_case{"missing_seconds", "Sun, 06 Nov 1994 08:49 GMT", std::nullopt},
        date_case{"trailing_text", "Sun, 06 Nov 1994 08:49:37 GMT x", std::nullopt},
        date_case{"iso8601", "1994-11-06T08:49:37Z", std::nullopt},
        date_case{"empty", "", std::nullopt}),
    [](const ::testing::TestParamInfo<date_case>& p) { return p.param.name; });

struct conditional_case {
    std::string name;
    std::optional<std::string> if_none_match;  // "{etag}" is replaced by the response's ETag
    std::optional<std::string> if_modified_since;
    bool expect_304;
};

class conditional_get : public ::testing::TestWithParam<conditional_case> {};

TEST_P(conditional_get, follows_rfc9110) {
    const auto& c = GetParam();
    const auto h = cache_headers_for(cacheable_meta().http_validity(), filled(50), true, reference_time);
    ASSERT_TRUE(h.etag);
    std::optional<std::string> inm = c.if_none_match;
    if (inm) {
        const auto at = inm->find("{etag}");
        if (at != std::string::npos) inm->replace(at, 6, *h.etag);
    }
    std::optional<std::string_view> inm_view;
    if (inm) inm_view = *inm;
    std::optional<std::string_view> ims_view;
    if (c.if_modified_since) ims_view = *c.if_modified_since;
    EXPECT_EQ(not_modified(h, inm_view, ims_view), c.expect_304) << (inm ? *inm : "-") << " / "
                                                                 << (c.if_modified_since ? *c.if_modified_since : "-");
}

// Last-Modified of cacheable_meta() is thisUpdate = Wed, 31 Dec 2025 23:00:00 GMT.
INSTANTIATE_TEST_SUITE_P(
    validators, conditional_get,
    ::testing::Values(
        conditional_case{"no_validators", std::nullopt, std::nullopt, false},
        conditional_case{"etag_matches", "{etag}", std::nullopt, true},
        conditional_case{"weak_etag_matches_weakly", "W/{etag}", std::nullopt, true},
        conditional_case{"etag_in_a_list", "\"abc\", \"def\" ,{etag}", std::nullopt, true},
        conditional_case{"star", "*", std::nullopt, true},
        conditional_case{"other_etag", "\"0123456789abcdef\"", std::nullopt, false},
        conditional_case{"unquoted_etag_is_not_a_match", "0123", std::nullopt, false},
        // §13.1.3: If-None-Match present, so If-Modified-Since is ignored even though it would match.
        conditional_case{"etag_mismatch_beats_matching_date", "\"nope\"", "Thu, 01 Jan 2026 00:00:00 GMT", false},
        conditional_case{"etag_match_beats_old_date", "{etag}", "Sun, 06 Nov 1994 08:49:37 GMT", true},
        conditional_case{"modified_since_equal", std::nullopt, "Wed, 31 Dec 2025 23:00:00 GMT", true},
        conditional_case{"modified_since_later", std::nullopt, "Thu, 01 Jan 2026 00:00:00 GMT", true},
        conditional_case{"modified_since_earlier", std::nullopt, "Wed, 31 Dec 2025 22:59:59 GMT", false},
        conditional_case{"modified_since_rfc850", std::nullopt, "Thursday, 01-Jan-26 00:00:00 GMT", true},
        conditional_case{"modified_since_garbage", std::nullopt, "yesterday", false}),
    [](const ::testing::TestParamInfo<conditional_case>& p) { return p.param.name; });

}  // namespace
}  // namespace ocspkit::responder
