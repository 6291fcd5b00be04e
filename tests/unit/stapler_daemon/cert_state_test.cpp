// The publishing rules of one certificate (docs/stapler.md, "Publishing rules"): what replaces what, what
// a failed fetch keeps, and what the shm entry says. Responses here are already validated, so they are built
// as values; store_test covers real DER.
#include "stapler/daemon/cert_state.hpp"

#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/asn1_time.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler::daemon {
namespace {

using namespace std::chrono_literals;
using ocspkit::test::reference_time;
const sys_seconds T = reference_time;
const time_point Tms = to_time_point(T);
const schedule_params params{1min, 10s, 10min, 0.0};

validated_response response(cert_status status, sys_seconds this_update, sys_seconds next_update,
                            std::optional<int> reason = std::nullopt) {
    validated_response r;
    r.status = status;
    r.this_update = this_update;
    r.next_update = next_update;
    r.produced_at = this_update;
    r.der = {0x30, 0x03, static_cast<std::uint8_t>(status), static_cast<std::uint8_t>(this_update.time_since_epoch().count() & 0xff), 0x00};
    if (status == cert_status::revoked) {
        r.revocation = revocation_info{this_update - 24h, reason};
        r.der.push_back(static_cast<std::uint8_t>(reason.value_or(0xff)));
    }
    return r;
}
const auto good_old = response(cert_status::good, T - 2h, T + 22h);
const auto good_new = response(cert_status::good, T - 1h, T + 23h);
const auto revoked_old = response(cert_status::revoked, T - 2h, T + 22h, crl_reason_certificate_hold);
const auto revoked_new = response(cert_status::revoked, T - 1h, T + 23h, crl_reason_certificate_hold);
const auto compromised_new = response(cert_status::revoked, T - 1h, T + 23h, 1);
const auto unknown_new = response(cert_status::unknown, T - 1h, T + 23h);
// Same fields, other bytes (e.g. re-signed with the same thisUpdate, or another producedAt).
validated_response resigned(validated_response r) {
    r.der.push_back(0x01);
    return r;
}

// --- The publishing rules, for every (published, fetched, fetched thisUpdate) --------------------------
//
// The table is generated: each published state (none, good, hold, keyCompromise, unknown; usable or
// expired) meets each fetch outcome (a failed fetch, good, hold, keyCompromise, unknown) whose thisUpdate
// is older than, equal to or newer than the published one's. `expected()` states the rules of
// cert_state.hpp in the order a reader checks them; the test also checks, per row, the properties the
// rules exist for (revocation safety), so that a wrong `expected()` cannot pass silently.

enum class kind { none, good, hold, key_compromise, unknown };
enum class age { older, equal, newer };
enum class outcome { published, stale, contradiction, failed };

const char* name_of(kind k) {
    switch (k) {
        case kind::none: return "none";
        case kind::good: return "good";
        case kind::hold: return "hold";
        case kind::key_compromise: return "keyCompromise";
        case kind::unknown: return "unknown";
    }
    return "?";
}
const char* name_of(age a) { return a == age::older ? "older" : a == age::equal ? "equal" : "newer"; }
const char* name_of(outcome o) {
    switch (o) {
        case outcome::published: return "published";
        case outcome::stale: return "stale";
        case outcome::contradiction: return "contradiction";
        case outcome::failed: return "failed";
    }
    return "?";
}

bool revoked(kind k) { return k == kind::hold || k == kind::key_compromise; }

struct table_row {
    kind published;
    bool published_expired;
    kind fetched;  // none: the fetch failed
    age fetched_age;
};

outcome expected(const table_row& r) {
    if (r.fetched == kind::none) return outcome::failed;        // a failed fetch changes nothing
    if (r.published == kind::none) return outcome::published;   // anything valid is better than nothing
    // A permanent revocation is the last word, even expired. An older answer predates it (stale); an
    // answer at least as new that says otherwise is the responder contradicting itself.
    if (r.published == kind::key_compromise && r.fetched != kind::key_compromise)
        return r.fetched_age == age::older ? outcome::stale : outcome::contradiction;
    if (r.published_expired) return outcome::published;         // nothing is stapled from it any more
    if (r.fetched_age == age::older) return outcome::stale;     // whatever its status
    // At an equal thisUpdate a revocation wins: only a newer answer lifts it.
    if (r.fetched_age == age::equal && revoked(r.published) && !revoked(r.fetched)) return outcome::stale;
    return outcome::published;
}

const sys_seconds published_this_update = T - 2h;

std::optional<validated_response> make(kind k, sys_seconds this_update, sys_seconds next_update, std::uint8_t tag) {
    std::optional<validated_response> r;
    switch (k) {
        case kind::none: return r;
        case kind::good: r = response(cert_status::good, this_update, next_update); break;
        case kind::hold: r = response(cert_status::revoked, this_update, next_update, crl_reason_certificate_hold); break;
        case kind::key_compromise: r = response(cert_status::revoked, this_update, next_update, 1); break;
        case kind::unknown: r = response(cert_status::unknown, this_update, next_update); break;
    }
    r->der.push_back(tag);  // published and fetched are never the same bytes here (that is `unchanged`)
    return r;
}

std::vector<table_row> all_rows() {
    std::vector<table_row> rows;
    for (kind p : {kind::none, kind::good, kind::hold, kind::key_compromise, kind::unknown})
        for (bool expired : {false, true}) {
            if (p == kind::none && expired) continue;
            for (kind f : {kind::none, kind::good, kind::hold, kind::key_compromise, kind::unknown})
                for (age a : {age::older, age::equal, age::newer}) rows.push_back({p, expired, f, a});
        }
    return rows;
}

std::string row_name(const table_row& r) {
    return fmt::format("published_{}{}_fetched_{}_{}", name_of(r.published), r.published_expired ? "_expired" : "",
                       r.fetched == kind::none ? "failure" : name_of(r.fetched), name_of(r.fetched_age));
}

void PrintTo(const table_row& r, std::ostream* os) { *os << row_name(r); }

std::vector<std::uint8_t> der_of(const std::optional<validated_response>& r) { return r ? r->der : std::vector<std::uint8_t>{}; }

class publishing_rules : public ::testing::TestWithParam<table_row> {};

TEST_P(publishing_rules, verdict_follows_the_rules) {
    const table_row& row = GetParam();
    cert_state s;
    s.current = make(row.published, published_this_update, row.published_expired ? T - 1min : T + 22h, 0xA0);
    const auto before = s.current;
    const sys_seconds fetched_this_update = published_this_update + (row.fetched_age == age::older   ? -1h
                                                                     : row.fetched_age == age::equal ? 0h
                                                                                                     : 1h);
    const auto fetched = make(row.fetched, fetched_this_update, T + 21h, 0xB0);

    outcome got = outcome::failed;
    if (!fetched) {
        s.on_failed("timeout", "no answer", Tms, params, 0.5);
    } else {
        const auto a = s.on_fetched(*fetched, Tms, std::nullopt, params, 0.5);
        EXPECT_FALSE(a.unchanged);
        switch (a.result) {
            case publish_result::ok:
                EXPECT_TRUE(a.publish);
                EXPECT_TRUE(a.detail.empty()) << a.detail;
                got = outcome::published;
                break;
            case publish_result::stale: got = outcome::stale; break;
            case publish_result::contradiction: got = outcome::contradiction; break;
        }
        EXPECT_EQ(compare(before, *fetched, T), got == outcome::published   ? replace_verdict::replace
                                                : got == outcome::stale     ? replace_verdict::stale
                                                                            : replace_verdict::contradiction);
        if (got != outcome::published) {
            EXPECT_FALSE(a.publish);
            // The detail names the fetched answer's own thisUpdate (a replay is recognised by it).
            EXPECT_NE(a.detail.find(to_iso8601(fetched_this_update)), std::string::npos) << a.detail;
            EXPECT_EQ(s.last_error, fmt::format("{}: {}", to_string(a.result), a.detail));
        }
    }
    EXPECT_EQ(got, expected(row)) << "got " << name_of(got) << ", the rules say " << name_of(expected(row));

    // What the rules are for, whatever expected() says.
    if (got == outcome::published) {
        ASSERT_TRUE(s.current);
        EXPECT_EQ(s.current->der, fetched->der);
        EXPECT_EQ(s.failures, 0u);
    } else {
        EXPECT_EQ(der_of(s.current), der_of(before)) << "the published response changed on " << name_of(got);
        EXPECT_EQ(s.failures, 1u) << "not published: retried like a failed fetch";
        EXPECT_EQ(s.next_refresh, Tms + 10s);
    }
    if (row.published == kind::key_compromise) {
        ASSERT_TRUE(s.current);
        EXPECT_TRUE(is_permanent_revocation(*s.current)) << "a permanent revocation was replaced";
    }
    if (before && !row.published_expired && got == outcome::published) {
        EXPECT_GE(s.current->this_update, before->this_update) << "an older answer replaced a usable one";
    }
    if (got == outcome::contradiction) {
        EXPECT_EQ(row.published, kind::key_compromise);
        EXPECT_NE(row.fetched_age, age::older);
    }
}

INSTANTIATE_TEST_SUITE_P(cert_state, publishing_rules, ::testing::ValuesIn(all_rows()),
                         [](const auto& param_info) { return row_name(param_info.param); });

TEST(publishing_rules_table, covers_every_pair_and_every_outcome) {
    const auto rows = all_rows();
    EXPECT_EQ(rows.size(), (1 + 4 * 2) * 5 * 3u);
    std::set<outcome> seen;
    for (const auto& r : rows) seen.insert(expected(r));
    EXPECT_EQ(seen.size(), 4u);
}

TEST(cert_state, identical_response_is_unchanged_whatever_its_status) {
    for (const auto& r : {good_new, revoked_new, compromised_new, unknown_new}) {
        EXPECT_EQ(compare(r, r, T), replace_verdict::unchanged) << describe(r);
    }
    EXPECT_EQ(compare(good_new, resigned(good_new), T), replace_verdict::replace);
}

TEST(cert_state, only_certificate_hold_is_temporary) {
    EXPECT_FALSE(is_permanent_revocation(good_new));
    EXPECT_FALSE(is_permanent_revocation(unknown_new));
    EXPECT_FALSE(is_permanent_revocation(revoked_new));
    EXPECT_TRUE(is_permanent_revocation(compromised_new));
    // No reason given is unspecified(0): permanent.
    EXPECT_TRUE(is_permanent_revocation(response(cert_status::revoked, T - 1h, T + 23h)));
    EXPECT_TRUE(is_permanent_revocation(response(cert_status::revoked, T - 1h, T + 23h, 4)));
    EXPECT_EQ(describe(compromised_new), "revoked since 2025-12-30T23:00:00Z (keyCompromise)");
    EXPECT_EQ(describe(response(cert_status::revoked, T, T + 1h)), "revoked since 2025-12-31T00:00:00Z (no reason)");
    EXPECT_EQ(crl_reason_name(7), "reason7");
    EXPECT_EQ(crl_reason_name(6), "certificateHold");
}

TEST(cert_state, first_response_is_published_and_scheduled) {
    cert_state s;
    auto a = s.on_fetched(good_new, Tms, std::nullopt, params, 0.0);
    EXPECT_TRUE(a.publish);
    EXPECT_EQ(a.result, publish_result::ok);
    ASSERT_TRUE(s.current);
    EXPECT_EQ(s.next_refresh, to_time_point(T - 1h + 12h));
    EXPECT_EQ(s.failures, 0u);
}

TEST(cert_state, failed_fetch_never_replaces_a_usable_response) {
    cert_state s;
    s.on_fetched(good_new, Tms, std::nullopt, params, 0.0);
    s.on_failed("timeout", "no answer within 10s", Tms + 1min, params, 0.5);
    ASSERT_TRUE(s.current);
    EXPECT_EQ(s.current->der, good_new.der);
    EXPECT_EQ(s.failures, 1u);
    EXPECT_EQ(s.last_error, "timeout: no answer within 10s");
    EXPECT_EQ(s.next_refresh, Tms + 1min + 10s);
    const auto e = s.entry(staple_policy::hard, false, T + 1min);
    EXPECT_EQ(e.action, staple_action::staple);
    EXPECT_EQ(e.action_when_expired, staple_action::not_servable);
    EXPECT_EQ(std::vector<std::uint8_t>(e.der.begin(), e.der.end()), good_new.der);

    s.on_failed("http_status", "HTTP 503", Tms + 2min, params, 0.5);
    EXPECT_EQ(s.failures, 2u);
    EXPECT_EQ(s.next_refresh, Tms + 2min + 20s);
    // A success clears the failure state, even one that brings back the published response (which is
    // then not published again).
    auto a = s.on_fetched(good_new, Tms + 3min, std::nullopt, params, 0.0);
    EXPECT_FALSE(a.publish);
    EXPECT_TRUE(a.unchanged);
    EXPECT_EQ(s.failures, 0u);
    EXPECT_TRUE(s.last_error.empty());
}

TEST(cert_state, retries_never_wait_past_next_update) {
    cert_state s;
    s.on_fetched(response(cert_status::good, T - 1h, T + 30s), Tms, std::nullopt, params, 0.0);
    for (unsigned i = 0; i < 10; ++i) s.on_failed("connect_failed", "refused", Tms, params, 1.0);
    EXPECT_EQ(s.next_refresh, Tms + 30s);
}

TEST(cert_state, replayed_older_hold_does_not_switch_stapling_off) {
    cert_state s;
    s.on_fetched(revoked_old, Tms, std::nullopt, params, 0.0);  // on hold
    ASSERT_TRUE(s.on_fetched(good_new, Tms + 1min, std::nullopt, params, 0.0).publish);  // hold lifted
    auto a = s.on_fetched(revoked_old, Tms + 2min, std::nullopt, params, 0.0);  // the old hold, replayed
    EXPECT_FALSE(a.publish);
    EXPECT_EQ(a.result, publish_result::stale);
    EXPECT_EQ(to_string(a.result), "stale");
    EXPECT_EQ(a.detail,
              "fetched revoked since 2025-12-30T22:00:00Z (certificateHold) (thisUpdate 2025-12-31T22:00:00Z, "
              "nextUpdate 2026-01-01T22:00:00Z) is older than the published good (thisUpdate 2025-12-31T23:00:00Z)");
    ASSERT_TRUE(s.current);
    EXPECT_EQ(s.current->der, good_new.der);
    EXPECT_EQ(s.failures, 1u);
    EXPECT_EQ(s.last_error, "stale: " + a.detail);
    EXPECT_EQ(s.entry(staple_policy::soft, false, T + 2min).status, cert_status::good);
}

TEST(cert_state, good_never_replaces_key_compromise_even_once_expired) {
    cert_state s;
    s.on_fetched(compromised_new, Tms, std::nullopt, params, 0.0);
    auto a = s.on_fetched(response(cert_status::good, T, T + 24h), Tms + 1min, std::nullopt, params, 0.0);
    EXPECT_EQ(a.result, publish_result::contradiction);
    EXPECT_EQ(to_string(a.result), "contradiction");
    EXPECT_NE(a.detail.find("a permanent revocation is never replaced"), std::string::npos) << a.detail;
    // Past the revoked response's nextUpdate (the responder went quiet), a good answer is still refused:
    // the shm entry says "no response" (the policy's fallback), never good.
    a = s.on_fetched(response(cert_status::good, T + 23h, T + 47h), Tms + 23h + 1min, std::nullopt, params, 0.0);
    EXPECT_EQ(a.result, publish_result::contradiction);
    EXPECT_EQ(s.current->der, compromised_new.der);
    EXPECT_FALSE(s.usable(T + 23h + 1min));
    EXPECT_EQ(s.entry(staple_policy::hard, false, T + 23h + 1min).action, staple_action::not_servable);
    // A newer permanent revocation (another reason, a corrected date) is still published.
    EXPECT_TRUE(s.on_fetched(response(cert_status::revoked, T + 23h, T + 47h, 4), Tms + 23h + 2min, std::nullopt,
                             params, 0.0)
                    .publish);
}

TEST(cert_state, identical_response_is_not_published_again_but_counts_as_success) {
    cert_state s;
    ASSERT_TRUE(s.on_fetched(good_new, Tms, std::nullopt, params, 0.0).publish);
    s.on_failed("timeout", "no answer", Tms + 1min, params, 0.0);
    // Past the midpoint the daemon refetches every min_refresh_interval; a caching responder answers
    // with the same bytes each time.
    auto a = s.on_fetched(good_new, Tms + 12h, std::nullopt, params, 0.0);
    EXPECT_FALSE(a.publish);
    EXPECT_TRUE(a.unchanged);
    EXPECT_EQ(a.result, publish_result::ok);
    EXPECT_EQ(s.failures, 0u);
    EXPECT_TRUE(s.last_error.empty());
    EXPECT_EQ(s.last_fetch, Tms + 12h);
    EXPECT_EQ(s.next_refresh, Tms + 12h + 1min);  // rescheduled: not earlier than min_refresh_interval
    // The same status with a newer thisUpdate is a new response: published as before.
    auto b = s.on_fetched(response(cert_status::good, T + 11h, T + 35h), Tms + 12h + 1min, std::nullopt, params, 0.0);
    EXPECT_TRUE(b.publish);
    EXPECT_FALSE(b.unchanged);
    // Same thisUpdate, other bytes: published too.
    auto c = s.on_fetched(resigned(*s.current), Tms + 12h + 2min, std::nullopt, params, 0.0);
    EXPECT_TRUE(c.publish);
    EXPECT_FALSE(c.unchanged);
}

struct entry_case {
    const char* name;
    std::optional<validated_response> current;
    staple_policy policy;
    bool must_staple;
    sys_seconds now;
    staple_action action, when_expired;
};

class cert_state_entry : public ::testing::TestWithParam<entry_case> {};

TEST_P(cert_state_entry, follows_the_decision_table) {
    const auto& c = GetParam();
    cert_state s;
    s.current = c.current;
    const auto e = s.entry(c.policy, c.must_staple, c.now);
    EXPECT_EQ(e.action, c.action);
    EXPECT_EQ(e.action_when_expired, c.when_expired);
    if (e.action == staple_action::staple) {
        EXPECT_FALSE(e.der.empty());
    }
}

INSTANTIATE_TEST_SUITE_P(
    cert_state, cert_state_entry,
    ::testing::Values(
        entry_case{"good_soft", good_new, staple_policy::soft, false, T, staple_action::staple, staple_action::no_staple},
        entry_case{"good_hard", good_new, staple_policy::hard, false, T, staple_action::staple, staple_action::not_servable},
        entry_case{"revoked_soft", revoked_new, staple_policy::soft, false, T, staple_action::staple, staple_action::no_staple},
        entry_case{"unknown_soft", unknown_new, staple_policy::soft, false, T, staple_action::no_staple, staple_action::no_staple},
        entry_case{"unknown_hard", unknown_new, staple_policy::hard, false, T, staple_action::not_servable,
                   staple_action::not_servable},
        entry_case{"none_soft", std::nullopt, staple_policy::soft, false, T, staple_action::no_staple, staple_action::no_staple},
        entry_case{"none_hard", std::nullopt, staple_policy::hard, false, T, staple_action::not_servable,
                   staple_action::not_servable},
        entry_case{"none_must_staple_is_hard", std::nullopt, staple_policy::soft, true, T, staple_action::not_servable,
                   staple_action::not_servable},
        entry_case{"expired_soft", good_new, staple_policy::soft, false, T + 24h, staple_action::no_staple,
                   staple_action::no_staple},
        entry_case{"expired_must_staple", good_new, staple_policy::soft, true, T + 24h, staple_action::not_servable,
                   staple_action::not_servable}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(cert_state, expiry_alerts_fire_once_per_threshold_and_response) {
    const std::vector<std::chrono::milliseconds> alerts{12h, 1h};
    cert_state s;
    s.on_fetched(response(cert_status::good, T - 1h, T + 6h), Tms, std::nullopt, params, 0.0);
    // Published with 6 h left: the 12 h threshold is already behind it and is not news.
    EXPECT_TRUE(s.due_alerts(alerts, T).empty());
    EXPECT_TRUE(s.due_alerts(alerts, T + 4h).empty());
    auto due = s.due_alerts(alerts, T + 5h + 30min);
    ASSERT_EQ(due.size(), 1u);
    EXPECT_EQ(due[0], 1h);
    EXPECT_TRUE(s.due_alerts(alerts, T + 5h + 45min).empty());
    // A new response starts over.
    s.on_fetched(response(cert_status::good, T + 5h, T + 29h + 30min), Tms + 5h + 50min, std::nullopt, params, 0.0);
    EXPECT_TRUE(s.due_alerts(alerts, T + 6h).empty());
    due = s.due_alerts(alerts, T + 18h);
    ASSERT_EQ(due.size(), 1u);
    EXPECT_EQ(due[0], 12h);
    due = s.due_alerts(alerts, T + 29h);
    ASSERT_EQ(due.size(), 1u);
    EXPECT_EQ(due[0], 1h);
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
