// The rule between the index and a re-imported index.txt (schema/import_rule.hpp), as a table: what the
// index says, what the file says, --force or not, and the decision with its exact message.
#include <gtest/gtest.h>

#include "schema/import_rule.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::schema {
namespace {

using namespace std::chrono_literals;
const sys_seconds t0 = test::reference_time;  // 2026-01-01T00:00:00Z

cert_record good() {
    cert_record r;
    r.issuer_id = 1;
    r.serial = *serial_number::from_hex("1004");
    return r;
}
cert_record revoked(revocation_reason reason, sys_seconds when) {
    auto r = good();
    r.status = cert_status::revoked;
    r.reason = reason;
    r.revocation_time = when;
    return r;
}
cert_record hold(sys_seconds when) {
    auto r = good();
    r.status = cert_status::hold;
    r.reason = revocation_reason::certificate_hold;
    r.revocation_time = when;
    return r;
}

struct rule_case {
    const char* name;
    cert_record index_row;
    cert_record file_row;
    bool force;
    std::optional<sys_seconds> lifted;
    import_resolution expected;
    const char* message;  // nullptr: no conflict
};

class import_rule : public testing::TestWithParam<rule_case> {};

TEST_P(import_rule, decides) {
    const auto& c = GetParam();
    const auto d = decide_import(c.index_row, c.file_row, c.force, c.lifted);
    EXPECT_EQ(d.resolution, c.expected);
    if (c.message == nullptr) {
        EXPECT_FALSE(d.conflict) << *d.conflict;
    } else {
        ASSERT_TRUE(d.conflict);
        EXPECT_EQ(*d.conflict, c.message);
    }
}

const auto key = revocation_reason::key_compromise;
const auto superseded = revocation_reason::superseded;
constexpr auto take = import_resolution::take_file;
constexpr auto keep = import_resolution::keep_index;

INSTANTIATE_TEST_SUITE_P(
    table, import_rule,
    testing::Values(
        rule_case{"same_good", good(), good(), false, {}, take, nullptr},
        rule_case{"new_revocation_in_file", good(), revoked(key, t0), false, {}, take, nullptr},
        rule_case{"new_hold_in_file", good(), hold(t0), false, {}, take, nullptr},
        rule_case{"hold_made_permanent_by_file", hold(t0), revoked(key, t0 + 1h), false, {}, take, nullptr},
        rule_case{"same_revocation", revoked(key, t0), revoked(key, t0), false, {}, take, nullptr},
        rule_case{"revoked_in_index_good_in_file", revoked(key, t0), good(), false, {}, keep,
                  "serial 1004 is revoked in the index (keyCompromise since 2026-01-01T00:00:00Z) but good in the "
                  "file; kept (a revocation other than certificateHold is never lifted or weakened, not even with "
                  "--force)"},
        rule_case{"revoked_in_index_good_in_file_force", revoked(key, t0), good(), true, {}, keep,
                  "serial 1004 is revoked in the index (keyCompromise since 2026-01-01T00:00:00Z) but good in the "
                  "file; kept (a revocation other than certificateHold is never lifted or weakened, not even with "
                  "--force)"},
        rule_case{"revoked_in_index_hold_in_file_force", revoked(key, t0), hold(t0), true, {}, keep,
                  "serial 1004 is revoked in the index (keyCompromise since 2026-01-01T00:00:00Z) but on hold "
                  "(certificateHold since 2026-01-01T00:00:00Z) in the file; kept (a revocation other than "
                  "certificateHold is never lifted or weakened, not even with --force)"},
        rule_case{"hold_in_index_good_in_file", hold(t0), good(), false, {}, keep,
                  "serial 1004 is on hold in the index (certificateHold since 2026-01-01T00:00:00Z) but good in the "
                  "file; kept (pass --force to take the file's status)"},
        rule_case{"hold_in_index_good_in_file_force", hold(t0), good(), true, {}, take,
                  "serial 1004 is on hold in the index (certificateHold since 2026-01-01T00:00:00Z) but good in the "
                  "file; the file's status taken (--force)"},
        rule_case{"other_revocation_in_file", revoked(key, t0), revoked(superseded, t0 + 1h), false, {}, keep,
                  "serial 1004 is revoked in the index (keyCompromise since 2026-01-01T00:00:00Z) but revoked "
                  "(superseded since 2026-01-01T01:00:00Z) in the file; kept (pass --force to take the file's status)"},
        rule_case{"other_revocation_in_file_force", revoked(key, t0), revoked(superseded, t0 + 1h), true, {}, take,
                  "serial 1004 is revoked in the index (keyCompromise since 2026-01-01T00:00:00Z) but revoked "
                  "(superseded since 2026-01-01T01:00:00Z) in the file; the file's status taken (--force)"},
        rule_case{"stale_hold_after_lift", good(), hold(t0), false, t0 + 1h, keep,
                  "serial 1004 is good in the index (hold lifted at 2026-01-01T01:00:00Z) but on hold "
                  "(certificateHold since 2026-01-01T00:00:00Z) in the file; kept (pass --force to take the file's "
                  "status)"},
        rule_case{"new_hold_after_lift", good(), hold(t0 + 2h), false, t0 + 1h, take, nullptr}),
    [](const testing::TestParamInfo<rule_case>& p) { return std::string{p.param.name}; });

}  // namespace
}  // namespace ocspkit::schema
