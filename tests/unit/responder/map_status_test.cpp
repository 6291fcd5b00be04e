// map_status: every index state and both unknown-serial policies (RFC 6960 §2.2, §4.4.8; RFC 5280 §5.3.1).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "common/openssl_error.hpp"
#include "responder/answer.hpp"
#include "tests/unit/responder/responder_test_util.hpp"

namespace ocspkit::responder {
namespace {

using namespace test_util;
using schema::cert_status;
using schema::revocation_reason;
using std::chrono::hours;

const sys_seconds revoked_at = reference_time - hours{48};
const sys_seconds invalid_since = reference_time - hours{72};

struct row_spec {
    cert_status status = cert_status::good;
    std::optional<sys_seconds> revocation_time = std::nullopt;
    std::optional<revocation_reason> reason = std::nullopt;
    std::optional<sys_seconds> invalidity_date = std::nullopt;
    std::optional<sys_seconds> not_after = reference_time + hours{24};
};

struct map_case {
    std::string name;
    std::optional<row_spec> row;
    unknown_serial_policy policy = unknown_serial_policy::unknown;
    single_status expect;
};

class map_status_table : public ::testing::TestWithParam<map_case> {};

TEST_P(map_status_table, gives_the_status_to_sign) {
    const auto& c = GetParam();
    std::optional<schema::cert_record> row;
    if (c.row) {
        schema::cert_record r;
        r.serial = serial("1F");
        r.status = c.row->status;
        r.revocation_time = c.row->revocation_time;
        r.reason = c.row->reason;
        r.invalidity_date = c.row->invalidity_date;
        r.not_after = c.row->not_after;
        if (c.row->status == cert_status::hold) r.hold_instruction = "1.2.840.10040.2.2";
        row = r;
    }
    issuer_profile profile;
    profile.unknown_serials = c.policy;
    const auto got = map_status(row, profile, reference_time);
    EXPECT_EQ(got.state, c.expect.state);
    EXPECT_EQ(got.revocation_time, c.expect.revocation_time);
    EXPECT_EQ(got.reason, c.expect.reason);
    EXPECT_EQ(got.invalidity_date, c.expect.invalidity_date);
    EXPECT_EQ(got.extended_revoked, c.expect.extended_revoked);
    EXPECT_EQ(got.expired, c.expect.expired);
}

single_status expect(cert_state state, std::optional<sys_seconds> when = std::nullopt,
                     std::optional<revocation_reason> reason = std::nullopt,
                     std::optional<sys_seconds> invalidity = std::nullopt, bool extended = false, bool expired = false) {
    single_status s;
    s.state = state;
    s.revocation_time = when;
    s.reason = reason;
    s.invalidity_date = invalidity;
    s.extended_revoked = extended;
    s.expired = expired;
    return s;
}

INSTANTIATE_TEST_SUITE_P(
    rows, map_status_table,
    ::testing::Values(
        map_case{"not_in_index_policy_unknown", std::nullopt, unknown_serial_policy::unknown,
                 expect(cert_state::unknown)},
        // RFC 6960 §2.2: 1970-01-01T00:00:00Z, certificateHold, and the §4.4.8 extension.
        map_case{"not_in_index_policy_revoked", std::nullopt, unknown_serial_policy::revoked,
                 expect(cert_state::revoked, sys_seconds{}, revocation_reason::certificate_hold, std::nullopt, true)},
        map_case{"good", row_spec{}, {}, expect(cert_state::good)},
        map_case{"good_but_expired", row_spec{.not_after = reference_time - hours{1}}, {},
                 expect(cert_state::good, std::nullopt, std::nullopt, std::nullopt, false, true)},
        map_case{"good_expiring_exactly_now", row_spec{.not_after = reference_time}, {}, expect(cert_state::good)},
        map_case{"good_without_not_after", row_spec{.not_after = std::nullopt}, {}, expect(cert_state::good)},
        map_case{"revoked_key_compromise",
                 row_spec{.status = cert_status::revoked, .revocation_time = revoked_at,
                          .reason = revocation_reason::key_compromise},
                 {}, expect(cert_state::revoked, revoked_at, revocation_reason::key_compromise)},
        map_case{"revoked_superseded",
                 row_spec{.status = cert_status::revoked, .revocation_time = revoked_at,
                          .reason = revocation_reason::superseded},
                 {}, expect(cert_state::revoked, revoked_at, revocation_reason::superseded)},
        // RFC 5280 §5.3.1: unspecified is never written; the reason is left out.
        map_case{"revoked_unspecified_reason_is_omitted",
                 row_spec{.status = cert_status::revoked, .revocation_time = revoked_at,
                          .reason = revocation_reason::unspecified},
                 {}, expect(cert_state::revoked, revoked_at)},
        map_case{"revoked_without_reason",
                 row_spec{.status = cert_status::revoked, .revocation_time = revoked_at}, {},
                 expect(cert_state::revoked, revoked_at)},
        map_case{"revoked_with_invalidity_date",
                 row_spec{.status = cert_status::revoked, .revocation_time = revoked_at,
                          .reason = revocation_reason::key_compromise, .invalidity_date = invalid_since},
                 {}, expect(cert_state::revoked, revoked_at, revocation_reason::key_compromise, invalid_since)},
        map_case{"revoked_and_expired",
                 row_spec{.status = cert_status::revoked, .revocation_time = revoked_at,
                          .reason = revocation_reason::cessation_of_operation,
                          .not_after = reference_time - hours{2}},
                 {},
                 expect(cert_state::revoked, revoked_at, revocation_reason::cessation_of_operation, std::nullopt,
                        false, true)},
        // A row without a time is a defect of the index; it must still not read as good.
        map_case{"revoked_without_time_uses_epoch", row_spec{.status = cert_status::revoked}, {},
                 expect(cert_state::revoked, sys_seconds{})},
        map_case{"hold_is_revoked_with_certificate_hold",
                 row_spec{.status = cert_status::hold, .revocation_time = revoked_at,
                          .reason = revocation_reason::certificate_hold},
                 {}, expect(cert_state::revoked, revoked_at, revocation_reason::certificate_hold)},
        map_case{"hold_without_reason_in_row_still_certificate_hold",
                 row_spec{.status = cert_status::hold, .revocation_time = revoked_at}, {},
                 expect(cert_state::revoked, revoked_at, revocation_reason::certificate_hold)},
        // The revoked policy is for serials never issued, not for rows the index holds.
        map_case{"good_row_under_revoked_policy", row_spec{}, unknown_serial_policy::revoked,
                 expect(cert_state::good)}),
    [](const ::testing::TestParamInfo<map_case>& p) { return p.param.name; });

}  // namespace
}  // namespace ocspkit::responder
