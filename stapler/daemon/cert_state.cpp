#include "stapler/daemon/cert_state.hpp"

#include <fmt/format.h>

#include "common/asn1_time.hpp"

namespace ocspkit::stapler::daemon {

replace_verdict compare(const std::optional<validated_response>& current, const validated_response& fetched,
                        sys_seconds now) noexcept {
    if (!current || current->next_update <= now) return replace_verdict::replace;
    // Publishing the same bytes again would only rewrite files and reload nginx for nothing.
    if (fetched.der == current->der) return replace_verdict::keep_current;
    if (fetched.status == cert_status::revoked && current->status != cert_status::revoked)
        return replace_verdict::replace;
    if (current->status == cert_status::revoked && fetched.status != cert_status::revoked &&
        fetched.this_update < current->this_update)
        return replace_verdict::stale;
    if (fetched.this_update < current->this_update) return replace_verdict::keep_current;
    return replace_verdict::replace;
}

const validated_response* cert_state::usable(sys_seconds now) const noexcept {
    return current && current->next_update > now ? &*current : nullptr;
}

cert_state::applied cert_state::on_fetched(validated_response fetched, time_point now,
                                           std::optional<std::chrono::seconds> max_age, const schedule_params& params,
                                           double u) {
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now);
    last_fetch = now;
    applied out{false, false, "ok"};
    switch (compare(current, fetched, now_s)) {
        case replace_verdict::replace:
            current = std::move(fetched);
            alerts_fired = 0;
            alerts_baseline = true;
            out.publish = true;
            break;
        case replace_verdict::keep_current:
            out.unchanged = fetched.der == current->der;
            break;
        case replace_verdict::stale: {
            out.result = fetched.status == cert_status::good ? "stale_good" : "stale";
            on_failed(out.result,
                      fmt::format("responder answered {} with thisUpdate {}, older than the published revoked "
                                  "response ({})",
                                  to_string(fetched.status), to_iso8601(fetched.this_update),
                                  to_iso8601(current->this_update)),
                      now, params, u);
            return out;
        }
    }
    failures = 0;
    last_error.clear();
    next_refresh = next_refresh_after_success(params, to_time_point(current->this_update),
                                              to_time_point(current->next_update), now, max_age, u);
    return out;
}

void cert_state::on_failed(std::string_view reason, std::string_view detail, time_point now,
                           const schedule_params& params, double u) {
    last_fetch = now;
    ++failures;
    last_error = detail.empty() ? std::string(reason) : fmt::format("{}: {}", reason, detail);
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now);
    std::optional<time_point> until;
    if (const auto* r = usable(now_s)) until = to_time_point(r->next_update);
    next_refresh = next_retry_after_failure(params, failures, now, until, u);
}

cache_entry cert_state::entry(staple_policy policy, bool must_staple, sys_seconds now) const noexcept {
    cache_entry e;
    e.action_when_expired = action_without_response(policy, must_staple);
    const validated_response* r = usable(now);
    if (!r) {
        e.action = e.action_when_expired;
        e.status = cert_status::unknown;
        return e;
    }
    // decide() takes an optional; copying the DER here would be wasted, so it gets the stored one.
    const staple_decision d = decide(policy, must_staple, current, now);
    e.action = d.action;
    e.status = r->status;
    e.this_update = r->this_update;
    e.next_update = r->next_update;
    e.der = r->der;
    return e;
}

std::vector<std::chrono::milliseconds> cert_state::due_alerts(const std::vector<std::chrono::milliseconds>& alerts,
                                                              sys_seconds now) {
    std::vector<std::chrono::milliseconds> due;
    if (!current) return due;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(current->next_update - now);
    if (alerts_baseline) {
        // Thresholds already behind a response when it is published are not news about it: a responder
        // that issues 1-hour responses must not alert "12h before expiry" at every refresh.
        alerts_baseline = false;
        while (alerts_fired < alerts.size() && left <= alerts[alerts_fired]) ++alerts_fired;
        return due;
    }
    while (alerts_fired < alerts.size() && left <= alerts[alerts_fired]) due.push_back(alerts[alerts_fired++]);
    return due;
}

}  // namespace ocspkit::stapler::daemon
