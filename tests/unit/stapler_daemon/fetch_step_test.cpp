// The pure step of one fetch (fetch_step.hpp): real signed DER in, validated at the `now` given (the
// reference time, a year away from the wall clock, so a step that read the clock itself would reject
// every response here as not yet valid), the state changed and the actions and log line out.
#include "stapler/daemon/fetch_step.hpp"

#include <gtest/gtest.h>

#include "tests/support/test_pki.hpp"
#include "tests/unit/stapler/ocsp_fixtures.hpp"

namespace ocspkit::stapler::daemon {
namespace {

using namespace std::chrono_literals;
namespace fixtures = ocspkit::stapler::test;
using ocspkit::test::reference_time;
using bytes = std::vector<std::uint8_t>;

const sys_seconds T = reference_time;
const time_point Tms = to_time_point(T);

class fetch_step : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ca_ = new ocspkit::test::issued(ocspkit::test::make_ca("Fetch Step CA"));
        leaf_ = new ocspkit::test::issued(ocspkit::test::make_cert(*ca_, "www.example"));
    }
    static void TearDownTestSuite() {
        delete leaf_;
        delete ca_;
    }

    // A response signed by the issuer. `reason` only for revoked (CRLReason; -1: none).
    static bytes signed_response(cert_status status, sys_seconds this_update, sys_seconds next_update,
                                 int reason = -1) {
        fixtures::single_spec single;
        single.leaf = leaf_->cert.get();
        single.issuer = ca_->cert.get();
        single.status = status;
        single.this_update = this_update;
        single.next_update = next_update;
        single.revoked_at = this_update - 1h;
        single.revocation_reason = reason;
        fixtures::response_spec spec;
        spec.singles.push_back(single);
        spec.signer = ca_->cert.get();
        spec.key = ca_->key.get();
        return fixtures::make_response(spec);
    }

    fetch_step_context context() const {
        fetch_step_context c{leaf_->cert.get(), ca_->cert.get(), {}, {1min, 10s, 10min, 0.0}};
        return c;
    }
    fetch_step_result step(fetch_input input, time_point now) {
        return on_fetch_result(state_, context(), std::move(input), now, 0.5);
    }
    static fetch_input body(bytes der, std::optional<std::chrono::seconds> max_age = std::nullopt) {
        return fetched_body{std::move(der), max_age};
    }

    static ocspkit::test::issued* ca_;
    static ocspkit::test::issued* leaf_;
    cert_state state_;
};
ocspkit::test::issued* fetch_step::ca_ = nullptr;
ocspkit::test::issued* fetch_step::leaf_ = nullptr;

TEST_F(fetch_step, transport_failure_without_a_response_is_failed_and_says_nothing_is_usable) {
    const auto r = step(fetch_problem{"timeout", "no answer within 10s"}, Tms);
    EXPECT_EQ(r.kind, fetch_step_kind::failed);
    EXPECT_EQ(r.result, "timeout");
    EXPECT_EQ(r.detail, "no answer within 10s");
    EXPECT_FALSE(r.fetched);
    EXPECT_TRUE(r.no_usable_response);
    EXPECT_EQ(r.severity, log_severity::warn);
    EXPECT_EQ(r.log, "fetch failed: timeout: no answer within 10s (failure 1, retry in 10s)");
    EXPECT_EQ(state_.failures, 1u);
    EXPECT_EQ(state_.next_refresh, Tms + 10s);
    EXPECT_EQ(state_.last_fetch, Tms);
}

TEST_F(fetch_step, good_response_is_published_with_its_own_dates_and_scheduled) {
    const auto r = step(body(signed_response(cert_status::good, T - 1h, T + 23h)), Tms);
    EXPECT_EQ(r.kind, fetch_step_kind::published);
    EXPECT_EQ(r.result, "ok");
    ASSERT_TRUE(r.fetched);
    EXPECT_EQ(r.fetched->status, cert_status::good);
    EXPECT_EQ(r.fetched->this_update, T - 1h);
    EXPECT_EQ(r.fetched->next_update, T + 23h);
    EXPECT_FALSE(r.no_usable_response);
    EXPECT_EQ(r.severity, log_severity::info);
    // Half-time of a 24 h window from T - 1h: T + 11h.
    EXPECT_EQ(r.log, "fetched good (thisUpdate 2025-12-31T23:00:00Z, nextUpdate 2026-01-01T23:00:00Z), published, "
                     "next refresh in 39600s");
    ASSERT_TRUE(state_.current);
    EXPECT_EQ(state_.next_refresh, Tms + 11h);

    // max-age brings the refresh forward.
    const auto again = step(body(signed_response(cert_status::good, T, T + 24h), 5min), Tms + 1min);
    EXPECT_EQ(again.kind, fetch_step_kind::published);
    EXPECT_EQ(state_.next_refresh, Tms + 6min);
}

TEST_F(fetch_step, the_same_bytes_again_are_unchanged) {
    const bytes der = signed_response(cert_status::good, T - 1h, T + 23h);
    ASSERT_EQ(step(body(der), Tms).kind, fetch_step_kind::published);
    const auto r = step(body(der), Tms + 1min);
    EXPECT_EQ(r.kind, fetch_step_kind::unchanged);
    EXPECT_EQ(r.result, "ok");
    EXPECT_NE(r.log.find(", unchanged: not published again, next refresh in "), std::string::npos) << r.log;
}

TEST_F(fetch_step, a_rejected_body_is_a_failure_named_by_its_reason_and_keeps_the_published_response) {
    ASSERT_EQ(step(body(signed_response(cert_status::good, T - 1h, T + 23h)), Tms).kind, fetch_step_kind::published);
    const auto r = step(body(bytes{0x30, 0x03, 0x0a, 0x01, 0x03}), Tms + 1min);  // tryLater
    EXPECT_EQ(r.kind, fetch_step_kind::failed);
    EXPECT_EQ(r.result, "unsuccessful_status");
    EXPECT_FALSE(r.no_usable_response);
    EXPECT_NE(r.log.find("(failure 1, retry in 10s, keeping the current response)"), std::string::npos) << r.log;
    EXPECT_EQ(state_.current->status, cert_status::good);
}

TEST_F(fetch_step, validation_uses_the_now_it_is_given) {
    // Usable at T; at T + 24h (its nextUpdate) it has expired.
    const bytes der = signed_response(cert_status::good, T - 1h, T + 23h);
    const auto r = step(body(der), Tms + 24h);
    EXPECT_EQ(r.kind, fetch_step_kind::failed);
    EXPECT_EQ(r.result, "expired");
}

TEST_F(fetch_step, missing_nonce_is_refused_when_one_was_sent) {
    auto c = context();
    c.validation.expected_nonce = bytes(16, 0x42);
    const auto r = on_fetch_result(state_, c, body(signed_response(cert_status::good, T - 1h, T + 23h)), Tms, 0.5);
    EXPECT_EQ(r.kind, fetch_step_kind::failed);
    EXPECT_EQ(r.result, "nonce_mismatch");
}

TEST_F(fetch_step, replayed_older_hold_is_not_published_and_logged_with_its_own_dates) {
    const bytes hold = signed_response(cert_status::revoked, T - 2h, T + 22h, crl_reason_certificate_hold);
    ASSERT_EQ(step(body(hold), Tms).kind, fetch_step_kind::published);
    ASSERT_EQ(step(body(signed_response(cert_status::good, T - 1h, T + 23h)), Tms + 1min).kind,
              fetch_step_kind::published);
    const auto r = step(body(hold), Tms + 2min);
    EXPECT_EQ(r.kind, fetch_step_kind::not_published);
    EXPECT_EQ(r.result, "stale");
    EXPECT_EQ(r.severity, log_severity::warn);
    ASSERT_TRUE(r.fetched);
    EXPECT_EQ(r.fetched->this_update, T - 2h);
    EXPECT_EQ(r.detail,
              "fetched revoked since 2025-12-31T21:00:00Z (certificateHold) (thisUpdate 2025-12-31T22:00:00Z, "
              "nextUpdate 2026-01-01T22:00:00Z) is older than the published good (thisUpdate 2025-12-31T23:00:00Z)");
    EXPECT_EQ(r.log, "not published (stale): " + r.detail + " (failure 1, retry in 10s, keeping the current response)");
    EXPECT_FALSE(r.no_usable_response);
    EXPECT_EQ(state_.current->status, cert_status::good);
}

TEST_F(fetch_step, good_after_key_compromise_is_a_contradiction_logged_as_an_error) {
    ASSERT_EQ(step(body(signed_response(cert_status::revoked, T - 2h, T + 22h, 1)), Tms).kind,
              fetch_step_kind::published);
    const auto r = step(body(signed_response(cert_status::good, T - 1h, T + 23h)), Tms + 1min);
    EXPECT_EQ(r.kind, fetch_step_kind::not_published);
    EXPECT_EQ(r.result, "contradiction");
    EXPECT_EQ(r.severity, log_severity::error);
    EXPECT_EQ(r.log.rfind("the responder contradicts itself, not published: fetched good (thisUpdate "
                          "2025-12-31T23:00:00Z, nextUpdate 2026-01-01T23:00:00Z) contradicts the published revoked",
                          0),
              0u)
        << r.log;
    EXPECT_EQ(state_.current->status, cert_status::revoked);
    EXPECT_EQ(state_.last_error, "contradiction: " + r.detail);
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
