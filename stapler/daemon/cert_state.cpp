#include "stapler/daemon/cert_state.hpp"

#include <array>

#include <fmt/format.h>

#include "common/asn1_time.hpp"

namespace ocspkit::stapler::daemon {

namespace {
std::string dates_of(const validated_response& r) {
    return fmt::format("thisUpdate {}, nextUpdate {}", to_iso8601(r.this_update), to_iso8601(r.next_update));
}

// The `detail` of a fetched response that is not published: self-contained, since `refresh` prints it
// alone. It names the fetched response's own dates (a replay is recognised by them).
std::string not_published_detail(replace_verdict v, const validated_response& current,
                                 const validated_response& fetched) {
    const std::string what = fmt::format("fetched {} ({})", describe(fetched), dates_of(fetched));
    const std::string published = fmt::format("the published {} (thisUpdate {})", describe(current),
                                              to_iso8601(current.this_update));
    if (v == replace_verdict::contradiction)
        return fmt::format("{} contradicts {}: a permanent revocation is never replaced", what, published);
    if (fetched.this_update == current.this_update)
        return fmt::format("{} is as old as {}: only a newer answer lifts a revocation", what, published);
    return fmt::format("{} is older than {}", what, published);
}
}  // namespace

std::string crl_reason_name(int reason) {
    static constexpr std::array<std::string_view, 11> names{
        "unspecified",          "keyCompromise",   "cACompromise", "affiliationChanged", "superseded",
        "cessationOfOperation", "certificateHold", "",             "removeFromCRL",      "privilegeWithdrawn",
        "aACompromise"};
    if (reason < 0 || static_cast<std::size_t>(reason) >= names.size() || names[static_cast<std::size_t>(reason)].empty())
        return fmt::format("reason{}", reason);
    return std::string(names[static_cast<std::size_t>(reason)]);
}

std::string describe(const validated_response& r) {
    if (r.status != cert_status::revoked || !r.revocation) return std::string(to_string(r.status));
    return fmt::format("revoked since {} ({})", to_iso8601(r.revocation->time),
                       r.revocation->reason ? crl_reason_name(*r.revocation->reason) : "no reason");
}

bool is_permanent_revocation(const validated_response& r) noexcept {
    if (r.status != cert_status::revoked) return false;
    return !r.revocation || !r.revocation->reason || *r.revocation->reason != crl_reason_certificate_hold;
}

std::string_view to_string(replace_verdict v) noexcept {
    switch (v) {
        case replace_verdict::replace: return "replace";
        case replace_verdict::unchanged: return "unchanged";
        case replace_verdict::stale: return "stale";
        case replace_verdict::contradiction: return "contradiction";
    }
    return "unknown";
}

std::string_view to_string(publish_result r) noexcept {
    switch (r) {
        case publish_result::ok: return "ok";
        case publish_result::stale: return "stale";
        case publish_result::contradiction: return "contradiction";
    }
    return "unknown";
}

replace_verdict compare(const std::optional<validated_response>& current, const validated_response& fetched,
                        sys_seconds now) noexcept {
    if (!current) return replace_verdict::replace;
    // Publishing the same bytes again would only rewrite files and reload nginx for nothing.
    if (fetched.der == current->der) return replace_verdict::unchanged;
    // Checked before expiry: a permanent revocation stays the last word even once its response expired
    // (the responder went quiet, then answers good). An older answer is merely stale (it predates the
    // revocation); one at least as new says both things at once.
    if (is_permanent_revocation(*current) && !is_permanent_revocation(fetched))
        return fetched.this_update < current->this_update ? replace_verdict::stale : replace_verdict::contradiction;
    // Nothing is stapled from an expired response: any usable answer is better than none.
    if (current->next_update <= now) return replace_verdict::replace;
    if (fetched.this_update < current->this_update) return replace_verdict::stale;
    if (fetched.this_update == current->this_update && current->status == cert_status::revoked &&
        fetched.status != cert_status::revoked)
        return replace_verdict::stale;
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
    applied out;
    switch (const auto verdict = compare(current, fetched, now_s)) {
        case replace_verdict::replace:
            current = std::move(fetched);
            alerts_fired = 0;
            alerts_baseline = true;
            out.publish = true;
            break;
        case replace_verdict::unchanged:
            out.unchanged = true;
            break;
        case replace_verdict::stale:
        case replace_verdict::contradiction:
            // Not what the responder should say now: retried like a failure, so that the next answer
            // (the responder's cache expiring, the node fixed) comes soon, and counted in failures.
            out.result = verdict == replace_verdict::stale ? publish_result::stale : publish_result::contradiction;
            out.detail = not_published_detail(verdict, *current, fetched);
            on_failed(to_string(out.result), out.detail, now, params, u);
            return out;
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
