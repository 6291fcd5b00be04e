// The refresh schedule as a table: fixed times and fixed random draws in, the exact instant out.
#include "stapler/daemon/schedule.hpp"

#include <gtest/gtest.h>

#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler::daemon {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
const time_point T = std::chrono::time_point_cast<milliseconds>(ocspkit::test::reference_time);

const schedule_params params{1min, 10s, 10min, 0.1};

struct success_case {
    const char* name;
    time_point this_update, next_update, now;
    std::optional<std::chrono::seconds> max_age;
    double u;
    time_point expected;
};

class refresh_after_success : public ::testing::TestWithParam<success_case> {};

TEST_P(refresh_after_success, is_exact) {
    const auto& c = GetParam();
    EXPECT_EQ(next_refresh_after_success(params, c.this_update, c.next_update, c.now, c.max_age, c.u), c.expected)
        << "difference (ms): " << (next_refresh_after_success(params, c.this_update, c.next_update, c.now, c.max_age, c.u) - c.expected).count();
}

INSTANTIATE_TEST_SUITE_P(
    schedule, refresh_after_success,
    ::testing::Values(
        // Half-way through a 24 h window, minus up to 10 % of the window.
        success_case{"half_time_without_jitter", T, T + 24h, T + 1h, std::nullopt, 0.0, T + 12h},
        success_case{"half_time_with_full_jitter", T, T + 24h, T + 1h, std::nullopt, 1.0, T + 12h - 144min},
        success_case{"half_time_with_half_jitter", T, T + 24h, T + 1h, std::nullopt, 0.5, T + 12h - 72min},
        // Cache-Control max-age brings it forward, never below min_refresh_interval.
        success_case{"max_age_earlier", T, T + 24h, T + 1h, 3600s, 0.0, T + 2h},
        success_case{"max_age_later_is_ignored", T, T + 24h, T + 1h, 86400s, 0.0, T + 12h},
        success_case{"max_age_below_min_interval", T, T + 24h, T + 1h, 10s, 0.0, T + 1h + 1min},
        // Past half-time already (a response restored late, or a short-lived one): min_refresh_interval.
        success_case{"past_half_time", T, T + 24h, T + 20h, std::nullopt, 0.0, T + 20h + 1min},
        // Expiring before min_refresh_interval: half-way to its end instead.
        success_case{"expires_before_min_interval", T - 1h, T + 30s, T, std::nullopt, 0.0, T + 15s},
        success_case{"already_expired", T - 2h, T - 1h, T, std::nullopt, 0.0, T},
        success_case{"zero_window", T, T, T, std::nullopt, 0.5, T}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

struct failure_case {
    const char* name;
    unsigned failures;
    std::optional<time_point> current_next_update;
    double u;
    milliseconds expected_delay;
};

class retry_after_failure : public ::testing::TestWithParam<failure_case> {};

TEST_P(retry_after_failure, is_exact) {
    const auto& c = GetParam();
    EXPECT_EQ(next_retry_after_failure(params, c.failures, T, c.current_next_update, c.u) - T, c.expected_delay);
}

INSTANTIATE_TEST_SUITE_P(
    schedule, retry_after_failure,
    ::testing::Values(
        failure_case{"first", 1, std::nullopt, 0.5, 10s}, failure_case{"second", 2, std::nullopt, 0.5, 20s},
        failure_case{"third", 3, std::nullopt, 0.5, 40s}, failure_case{"sixth", 6, std::nullopt, 0.5, 320s},
        failure_case{"capped", 7, std::nullopt, 0.5, 600s}, failure_case{"stays_capped", 1000, std::nullopt, 0.5, 600s},
        failure_case{"jitter_low", 1, std::nullopt, 0.0, 9s}, failure_case{"jitter_high", 1, std::nullopt, 1.0, 11s},
        failure_case{"capped_jitter_high", 9, std::nullopt, 1.0, 660s},
        // Never later than the end of the response still published.
        failure_case{"before_current_expires", 5, T + 5s, 0.5, 5s},
        failure_case{"current_expires_later", 1, T + 1h, 0.5, 10s},
        failure_case{"current_already_expired", 1, T - 1s, 0.5, 0s}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(schedule, retry_delay_doubles_without_overflow) {
    EXPECT_EQ(retry_delay(params, 0), 10s);
    EXPECT_EQ(retry_delay(params, 1), 10s);
    EXPECT_EQ(retry_delay(params, 4), 80s);
    EXPECT_EQ(retry_delay(params, 4'000'000'000u), 10min);
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
