#pragma once
// When to fetch a certificate's response next: pure functions of the configuration, the response, the
// fetch time and a random draw, so that tests can table them (house rule 9: time is injected).
//
// After a usable response (RFC 5019 §4 / §6.1 refresh guidance):
//   window = nextUpdate - thisUpdate
//   next   = thisUpdate + window/2 - U(0, jitter * window)          half-time, spread out over clients
//   next   = min(next, fetched_at + max-age)                        when Cache-Control max-age is earlier
//   next   = max(next, now + min(min_refresh_interval, (nextUpdate - now)/2))
// The last line keeps a healthy certificate from being fetched more often than min_refresh_interval,
// unless the response expires before that: then halfway to its end, so a short-lived response is
// still renewed in time.
//
// After a failed fetch (n = failures in a row, n >= 1):
//   delay = min(retry_initial * 2^(n-1), retry_max) * (1 + 0.1 * (2u - 1))    +-10 % jitter
//   next  = min(now + delay, nextUpdate of the current usable response)     never after expiry
#include <chrono>
#include <optional>

namespace ocspkit::stapler::daemon {

using time_point = std::chrono::sys_time<std::chrono::milliseconds>;

struct schedule_params {
    std::chrono::milliseconds min_refresh_interval{60'000};
    std::chrono::milliseconds retry_initial{10'000};
    std::chrono::milliseconds retry_max{600'000};
    double jitter = 0.1;  // fraction of the validity window, 0..0.5
};

// `u` is a uniform draw in [0, 1). Never earlier than `now`.
time_point next_refresh_after_success(const schedule_params& p, time_point this_update, time_point next_update,
                                      time_point now, std::optional<std::chrono::seconds> max_age, double u);

// `failures` >= 1; `current_next_update` is the nextUpdate of the response still published, if any.
time_point next_retry_after_failure(const schedule_params& p, unsigned failures, time_point now,
                                    std::optional<time_point> current_next_update, double u);

// The delay before the n-th retry without jitter (exposed for the table test).
std::chrono::milliseconds retry_delay(const schedule_params& p, unsigned failures);

}  // namespace ocspkit::stapler::daemon
