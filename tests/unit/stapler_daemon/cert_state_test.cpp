// The publishing rules of one certificate (docs/stapler.md, "Daemon"): what replaces what, what a failed
// fetch keeps, and what the shm entry says. Responses here are already validated, so they are built
// as values; store_test covers real DER.
#include "stapler/daemon/cert_state.hpp"

#include <gtest/gtest.h>

#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler::daemon {
namespace {

using namespace std::chrono_literals;
using ocspkit::test::reference_time;
const sys_seconds T = reference_time;
const time_point Tms = to_time_point(T);
const schedule_params params{1min, 10s, 10min, 0.0};

validated_response response(cert_status status, sys_seconds this_update, sys_seconds next_update) {
    validated_response r;
    r.status = status;
    r.this_update = this_update;
    r.next_update = next_update;
    r.produced_at = this_update;
    r.der = {0x30, 0x03, static_cast<std::uint8_t>(status), static_cast<std::uint8_t>(this_update.time_since_epoch().count() & 0xff), 0x00};
    if (status == cert_status::revoked) r.revocation = revocation_info{this_update - 24h, std::nullopt};
    return r;
}
const auto good_old = response(cert_status::good, T - 2h, T + 22h);
const auto good_new = response(cert_status::good, T - 1h, T + 23h);
const auto revoked_old = response(cert_status::revoked, T - 2h, T + 22h);
const auto revoked_new = response(cert_status::revoked, T - 1h, T + 23h);
const auto unknown_new = response(cert_status::unknown, T - 1h, T + 23h);
// Same fields as good_new, other bytes (e.g. re-signed with the same thisUpdate, or another producedAt).
validated_response resigned(validated_response r) {
    r.der.push_back(0x01);
    return r;
}

struct rule_case {
    const char* name;
    std::optional<validated_response> current;
    validated_response fetched;
    sys_seconds now;
    replace_verdict expected;
};

class publish_rules : public ::testing::TestWithParam<rule_case> {};

TEST_P(publish_rules, compare) {
    const auto& c = GetParam();
    EXPECT_EQ(compare(c.current, c.fetched, c.now), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    cert_state, publish_rules,
    ::testing::Values(
        rule_case{"nothing_published", std::nullopt, good_new, T, replace_verdict::replace},
        rule_case{"newer_good_replaces_good", good_old, good_new, T, replace_verdict::replace},
        rule_case{"older_good_keeps_good", good_new, good_old, T, replace_verdict::keep_current},
        rule_case{"identical_response_keeps_current", good_new, good_new, T, replace_verdict::keep_current},
        rule_case{"identical_revoked_keeps_current", revoked_new, revoked_new, T, replace_verdict::keep_current},
        rule_case{"same_this_update_other_bytes_replaces", good_new, resigned(good_new), T, replace_verdict::replace},
        rule_case{"revoked_replaces_newer_good_at_once", good_new, revoked_old, T, replace_verdict::replace},
        rule_case{"revoked_replaces_good", good_old, revoked_new, T, replace_verdict::replace},
        rule_case{"older_good_never_replaces_revoked", revoked_new, good_old, T, replace_verdict::stale},
        rule_case{"older_unknown_never_replaces_revoked", revoked_new,
                  response(cert_status::unknown, T - 3h, T + 1h), T, replace_verdict::stale},
        rule_case{"newer_good_replaces_revoked", revoked_old, good_new, T, replace_verdict::replace},
        rule_case{"newer_unknown_replaces_good", good_old, unknown_new, T, replace_verdict::replace},
        rule_case{"older_revoked_keeps_revoked", revoked_new, revoked_old, T, replace_verdict::keep_current},
        rule_case{"expired_revoked_is_replaced_even_by_older_good", revoked_new, good_old, T + 23h,
                  replace_verdict::replace}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(cert_state, first_response_is_published_and_scheduled) {
    cert_state s;
    auto a = s.on_fetched(good_new, Tms, std::nullopt, params, 0.0);
    EXPECT_TRUE(a.publish);
    EXPECT_EQ(a.result, "ok");
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

TEST(cert_state, older_good_after_revoked_is_ignored_and_counted_stale_good) {
    cert_state s;
    s.on_fetched(revoked_new, Tms, std::nullopt, params, 0.0);
    auto a = s.on_fetched(good_old, Tms + 1min, std::nullopt, params, 0.0);
    EXPECT_FALSE(a.publish);
    EXPECT_EQ(a.result, "stale_good");
    ASSERT_TRUE(s.current);
    EXPECT_EQ(s.current->status, cert_status::revoked);
    EXPECT_EQ(s.failures, 1u);
    EXPECT_EQ(s.last_error.rfind("stale_good: ", 0), 0u) << s.last_error;
    EXPECT_EQ(s.entry(staple_policy::soft, false, T + 1min).status, cert_status::revoked);
}

TEST(cert_state, older_response_of_same_kind_keeps_current_without_failure) {
    cert_state s;
    s.on_fetched(good_new, Tms, std::nullopt, params, 0.0);
    auto a = s.on_fetched(good_old, Tms + 1min, std::nullopt, params, 0.0);
    EXPECT_FALSE(a.publish);
    EXPECT_EQ(a.result, "ok");
    EXPECT_EQ(s.current->this_update, good_new.this_update);
    EXPECT_EQ(s.failures, 0u);
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
    EXPECT_EQ(a.result, "ok");
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
