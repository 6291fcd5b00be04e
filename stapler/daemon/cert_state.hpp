#pragma once
// The state machine of one certificate, without I/O (house rule 2): what is published, when to fetch
// next, and what a fetch outcome changes. The daemon performs the side effects this decides.
//
// Publishing rules (docs/stapler.md, "Publishing rules"); `compare()` is their one implementation:
//   * only a response validate_response() accepted is ever applied here;
//   * a failed fetch never replaces a usable response (it only schedules a retry);
//   * a permanent revocation (revoked with any reason but certificateHold, or without a reason: RFC 5280
//     §5.3.1 lets only a hold be undone) is never replaced by good, unknown or a hold, whatever their
//     thisUpdate and even once the revoked response has expired. One of those with a thisUpdate not older
//     than the revocation's is `contradiction`: the responder contradicts itself (a rolled-back
//     database, a wrong node behind a load balancer), which is alerted and counted. The certificate keeps
//     its revoked response while it is usable and then what the policy does without one; it is never
//     stapled as good again by this process;
//   * while the published response is usable, an answer whose thisUpdate is older than its own never
//     replaces it, whatever its status (`stale`): a replayed or cached certificateHold answer must not
//     switch stapling off, a lagging node must not un-revoke;
//   * at an equal thisUpdate a revocation wins: good or unknown do not replace a revoked response
//     (`stale`); anything else with the same thisUpdate and other bytes (re-signed) replaces it;
//   * the very response already published (the same DER: a responder or CDN answering from its cache)
//     changes nothing: it is not published again (no persist, no export, no nginx reload), result `ok`;
//   * an expired published response is replaced by any usable one (but for the permanent-revocation
//     rule above); otherwise the newer thisUpdate wins.
// `stale` and `contradiction` are not published and are retried like a failed fetch.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stapler/daemon/schedule.hpp"
#include "stapler/policy.hpp"
#include "stapler/shm_writer.hpp"
#include "stapler/validate.hpp"

namespace ocspkit::stapler::daemon {

// CRLReason certificateHold (RFC 5280 §5.3.1), the only revocation that may be lifted.
inline constexpr int crl_reason_certificate_hold = 6;

// Revoked with any reason but certificateHold (an absent reason is unspecified(0): permanent).
bool is_permanent_revocation(const validated_response& r) noexcept;

enum class replace_verdict : std::uint8_t {
    replace,        // publish the fetched response
    unchanged,      // the same bytes as the published one
    stale,          // older than the published one (or as old, and would lift a revocation): ignored
    contradiction,  // would replace a permanent revocation: ignored and alerted
};
std::string_view to_string(replace_verdict v) noexcept;

// Pure comparison of a freshly validated response with the published one. `now` decides whether the
// published one is still usable.
replace_verdict compare(const std::optional<validated_response>& current, const validated_response& fetched,
                        sys_seconds now) noexcept;

// What a validated response did; to_string() is its ocsp_stapler_fetch_total result label.
enum class publish_result : std::uint8_t {
    ok,             // published, or the published response came back (unchanged)
    stale,          // replace_verdict::stale
    contradiction,  // replace_verdict::contradiction
};
std::string_view to_string(publish_result r) noexcept;

struct cert_state {
    std::optional<validated_response> current;  // the published response (may have expired since)
    time_point next_refresh{};
    unsigned failures = 0;   // failed fetches in a row (stale and contradiction count as failed)
    std::string last_error;  // "<reason>: <detail>" of the last failed fetch; cleared by a success
    std::optional<time_point> last_fetch;
    std::size_t alerts_fired = 0;  // expiry_alert thresholds already reported for `current`
    bool alerts_baseline = true;   // the next due_alerts() call only records what is already crossed

    // The published response if it is still usable at `now`.
    const validated_response* usable(sys_seconds now) const noexcept;

    struct applied {
        bool publish = false;    // `current` changed: persist, put into shm, export
        bool unchanged = false;  // the fetched response is byte for byte the published one
        publish_result result = publish_result::ok;
        std::string detail;      // why it was not published (stale, contradiction); empty when ok
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

// CRLReason (RFC 5280 §5.3.1) in its ASN.1 spelling ("keyCompromise"), "reason<N>" for a value RFC 5280
// does not name.
std::string crl_reason_name(int reason);
// "good", "revoked (keyCompromise)", "revoked (no reason)", "unknown": for log lines and details.
std::string describe(const validated_response& r);

inline time_point to_time_point(sys_seconds s) { return std::chrono::time_point_cast<std::chrono::milliseconds>(s); }

}  // namespace ocspkit::stapler::daemon
