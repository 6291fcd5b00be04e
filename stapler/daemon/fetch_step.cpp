#include "stapler/daemon/fetch_step.hpp"

#include <fmt/format.h>

#include "common/asn1_time.hpp"

namespace ocspkit::stapler::daemon {

namespace {
long long seconds_until(time_point when, time_point now) {
    return std::chrono::duration_cast<std::chrono::seconds>(when - now).count();
}

// The part of every failure line that says what happens next.
std::string retry_note(const cert_state& state, time_point now) {
    const bool keeping = state.usable(std::chrono::floor<std::chrono::seconds>(now)) != nullptr;
    return fmt::format("failure {}, retry in {}s{}", state.failures, seconds_until(state.next_refresh, now),
                       keeping ? ", keeping the current response" : "");
}

fetch_step_result failed(cert_state& state, fetch_problem problem, time_point now, const schedule_params& params,
                         double u) {
    state.on_failed(problem.reason, problem.detail, now, params, u);
    fetch_step_result out;
    out.kind = fetch_step_kind::failed;
    out.severity = log_severity::warn;
    out.log = fmt::format("fetch failed: {}: {} ({})", problem.reason, problem.detail, retry_note(state, now));
    out.no_usable_response = state.usable(std::chrono::floor<std::chrono::seconds>(now)) == nullptr;
    out.result = std::move(problem.reason);
    out.detail = std::move(problem.detail);
    return out;
}
}  // namespace

fetch_step_result on_fetch_result(cert_state& state, const fetch_step_context& context, fetch_input input,
                                  time_point now, double u) {
    if (auto* problem = std::get_if<fetch_problem>(&input)) return failed(state, std::move(*problem), now, context.schedule, u);

    auto& body = std::get<fetched_body>(input);
    auto v = validate_response(context.leaf, context.issuer, body.der, std::chrono::floor<std::chrono::seconds>(now),
                               context.validation);
    if (!v) {
        return failed(state, fetch_problem{std::string(to_string(reject_reason_of(v))), v.failure().message}, now,
                      context.schedule, u);
    }

    fetch_step_result out;
    const auto& fetched = v.value();
    out.fetched = response_summary{fetched.status, fetched.this_update, fetched.next_update};
    // The fetched response's own dates, whatever becomes of it: a replay shows here with its old ones.
    const std::string what = fmt::format("fetched {} (thisUpdate {}, nextUpdate {})", to_string(fetched.status),
                                         to_iso8601(fetched.this_update), to_iso8601(fetched.next_update));
    auto applied = state.on_fetched(std::move(v).value(), now, body.max_age, context.schedule, u);
    out.result = std::string(to_string(applied.result));
    switch (applied.result) {
        case publish_result::ok:
            out.kind = applied.publish ? fetch_step_kind::published : fetch_step_kind::unchanged;
            out.severity = log_severity::info;
            out.log = fmt::format("{}, {}, next refresh in {}s", what,
                                  applied.publish ? "published" : "unchanged: not published again",
                                  seconds_until(state.next_refresh, now));
            break;
        case publish_result::stale:
            out.kind = fetch_step_kind::not_published;
            out.severity = log_severity::warn;
            out.log = fmt::format("not published (stale): {} ({})", applied.detail, retry_note(state, now));
            out.detail = std::move(applied.detail);
            break;
        case publish_result::contradiction:
            // Not a network hiccup: the responder (or one node behind its address) says good about a
            // certificate it revoked for good. The operator must look at the responder's data.
            out.kind = fetch_step_kind::not_published;
            out.severity = log_severity::error;
            out.log = fmt::format("the responder contradicts itself, not published: {} ({})", applied.detail,
                                  retry_note(state, now));
            out.detail = std::move(applied.detail);
            break;
    }
    return out;
}

}  // namespace ocspkit::stapler::daemon
