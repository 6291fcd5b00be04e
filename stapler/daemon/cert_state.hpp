#pragma once
// The state machine of one certificate, without I/O (house rule 2): what is published, when to fetch
// next, and what a fetch outcome changes. The daemon performs the side effects this decides.
//
// Publishing rules (docs/stapler.md, "Daemon"):
//   * only a response validate_response() accepted is ever applied here;
//   * a failed fetch never replaces a usable response (it only schedules a retry);
//   * a usable revoked response replaces a good one at once;
//   * a good (or unknown) response never replaces a revoked one whose thisUpdate is newer: the fetched
//     one is ignored and counted as `stale_good` (`stale` for unknown); a responder behind a cache, or
//     a load balancer with a lagging node, must not un-revoke a certificate;
//   * the very response already published (the same DER: a responder or CDN answering from its cache)
//     changes nothing: it is not published again (no persist, no export, no nginx reload), result `ok`;
//   * otherwise the response with the later thisUpdate wins (an older one is ignored, result `ok`).
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stapler/daemon/schedule.hpp"
#include "stapler/policy.hpp"
#include "stapler/shm_writer.hpp"
#include "stapler/validate.hpp"

namespace ocspkit::stapler::daemon {

enum class replace_verdict { replace, keep_current, stale };
// Pure comparison of a freshly validated response with the published one. `now` decides whether the
// published one is still usable (an expired one is always replaced).
replace_verdict compare(const std::optional<validated_response>& current, const validated_response& fetched,
                        sys_seconds now) noexcept;

struct cert_state {
    std::optional<validated_response> current;  // the published response (may have expired since)
    time_point next_refresh{};
    unsigned failures = 0;   // failed fetches in a row
    std::string last_error;  // "<reason>: <detail>" of the last failed fetch; cleared by a success
    std::optional<time_point> last_fetch;
    std::size_t alerts_fired = 0;  // expiry_alert thresholds already reported for `current`
    bool alerts_baseline = true;   // the next due_alerts() call only records what is already crossed

    // The published response if it is still usable at `now`.
    const validated_response* usable(sys_seconds now) const noexcept;

    struct applied {
        bool publish = false;     // `current` changed: persist, put into shm, export
        bool unchanged = false;   // the fetched response is byte for byte the published one
        std::string_view result;  // fetch_total result label: "ok", "stale_good" or "stale"
    };
    // A fetch returned a response that validated. `u` is a uniform draw in [0, 1) for the jitter.
    applied on_fetched(validated_response fetched, time_point now, std::optional<std::chrono::seconds> max_age,
                       const schedule_params& params, double u);
    // A fetch failed (transport, HTTP or validation). `reason` is the metric label.
    void on_failed(std::string_view reason, std::string_view detail, time_point now, const schedule_params& params,
                   double u);

    // The shm entry for the current state at `now`: decide() with the usable response, and the fallback
    // once it has expired. `der` borrows from `current`.
    cache_entry entry(staple_policy policy, bool must_staple, sys_seconds now) const noexcept;

    // Thresholds of `alerts` (descending) newly crossed at `now`; each is reported once per response. The
    // first call after a response is published counts the thresholds already crossed as reported.
    std::vector<std::chrono::milliseconds> due_alerts(const std::vector<std::chrono::milliseconds>& alerts,
                                                      sys_seconds now);
};

inline time_point to_time_point(sys_seconds s) { return std::chrono::time_point_cast<std::chrono::milliseconds>(s); }

}  // namespace ocspkit::stapler::daemon
