#include "stapler/daemon/schedule.hpp"

#include <algorithm>
#include <cmath>

namespace ocspkit::stapler::daemon {
using std::chrono::milliseconds;

namespace {
milliseconds scale(milliseconds d, double factor) {
    return milliseconds{static_cast<milliseconds::rep>(std::llround(static_cast<double>(d.count()) * factor))};
}
double clamp01(double u) { return std::clamp(u, 0.0, 1.0); }
}  // namespace

time_point next_refresh_after_success(const schedule_params& p, time_point this_update, time_point next_update,
                                      time_point now, std::optional<std::chrono::seconds> max_age, double u) {
    const milliseconds window = std::max(next_update - this_update, milliseconds{0});
    time_point next = this_update + window / 2 - scale(window, p.jitter * clamp01(u));
    if (max_age) next = std::min(next, now + std::chrono::duration_cast<milliseconds>(*max_age));
    const milliseconds remaining = std::max(next_update - now, milliseconds{0});
    const time_point floor = now + std::min(p.min_refresh_interval, remaining / 2);
    return std::max(next, floor);
}

milliseconds retry_delay(const schedule_params& p, unsigned failures) {
    milliseconds d = p.retry_initial;
    for (unsigned i = 1; i < failures && d < p.retry_max; ++i) d *= 2;
    return std::min(d, p.retry_max);
}

time_point next_retry_after_failure(const schedule_params& p, unsigned failures, time_point now,
                                    std::optional<time_point> current_next_update, double u) {
    const milliseconds delay = scale(retry_delay(p, std::max(failures, 1u)), 1.0 + 0.1 * (2.0 * clamp01(u) - 1.0));
    time_point next = now + delay;
    if (current_next_update) next = std::min(next, *current_next_update);
    return std::max(next, now);
}

}  // namespace ocspkit::stapler::daemon
