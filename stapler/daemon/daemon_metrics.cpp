// stapler_daemon::render_metrics: the Prometheus text format 0.0.4 of GET /metrics. Every metric has its
// # HELP and # TYPE lines, even when it has no sample yet (`promtool check metrics` runs on this text in
// tests/integration/stapler/test_operations.py). docs/stapler.md ("Metrics") lists them.
#include <fmt/format.h>

#include "common/prometheus.hpp"
#include "common/version.hpp"
#include "stapler/daemon/daemon.hpp"
#include "stapler/daemon/daemon_tracked.hpp"

namespace ocspkit::stapler::daemon {

namespace {
std::string label(std::string_view v) { return prometheus_label_value(v); }

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}
}  // namespace

std::string stapler_daemon::render_metrics() const {
    std::string out;
    auto add = [&out](std::string_view text) { out.append(text); };
    const auto now_s = std::chrono::floor<std::chrono::seconds>(clock_.now());

    // The same series as the responder's, so that one query covers both daemons.
    header(out, "ocspkit_build_info", "gauge", "The ocspkit release (and git describe of the build) of this stapler.");
    if (git_describe.empty())
        add(fmt::format("ocspkit_build_info{{version=\"{}\"}} 1\n", label(version)));
    else
        add(fmt::format("ocspkit_build_info{{version=\"{}\",git=\"{}\"}} 1\n", label(version), label(git_describe)));

    header(out, "ocsp_stapler_ready", "gauge", "1 once the start-up fetches (and their exports) are done.");
    add(fmt::format("ocsp_stapler_ready {}\n", ready_ ? 1 : 0));
    header(out, "ocsp_stapler_certificates", "gauge", "Certificates configured (from [[certificate]] and [[directory]]).");
    add(fmt::format("ocsp_stapler_certificates {}\n", certs_.size()));

    header(out, "ocsp_stapler_staple_seconds_until_expiry", "gauge",
           "Seconds until the published response's nextUpdate (negative once expired).");
    for (const auto& [name, t] : certs_) {
        if (!t->state.current || t->shm_error) continue;
        add(fmt::format("ocsp_stapler_staple_seconds_until_expiry{{certificate=\"{}\"}} {}\n", label(name),
                        (t->state.current->next_update - now_s).count()));
    }
    header(out, "ocsp_stapler_staple_status", "gauge",
           "Status of the usable published response (none: there is none, or it is not in the shm cache).");
    for (const auto& [name, t] : certs_) {
        const auto* r = t->shm_error ? nullptr : t->state.usable(now_s);
        const std::string_view current = r ? to_string(r->status) : "none";
        for (std::string_view s : {"good", "revoked", "unknown", "none"})
            add(fmt::format("ocsp_stapler_staple_status{{certificate=\"{}\",status=\"{}\"}} {}\n", label(name), s,
                            s == current ? 1 : 0));
    }
    header(out, "ocsp_stapler_fetch_total", "counter",
           "Fetches by outcome: ok, a transport failure, a validation rejection, stale (older than the published "
           "response) or contradiction (good after a permanent revocation).");
    for (const auto& [name, t] : certs_)
        for (const auto& [result, n] : t->fetch_results)
            add(fmt::format("ocsp_stapler_fetch_total{{certificate=\"{}\",result=\"{}\"}} {}\n", label(name),
                            label(result), n));
    header(out, "ocsp_stapler_fetch_failures_in_a_row", "gauge",
           "Failed fetches since the last successful one (0 when the last fetch succeeded).");
    for (const auto& [name, t] : certs_)
        add(fmt::format("ocsp_stapler_fetch_failures_in_a_row{{certificate=\"{}\"}} {}\n", label(name),
                        t->state.failures));
    header(out, "ocsp_stapler_publish_failures_total", "counter",
           "Responses (or \"no response\" entries) that could not be put into the shm cache, by reason: shm_full, "
           "shm_entry_too_large, shm_error.");
    for (const auto& [name, t] : certs_)
        for (const auto& [reason, n] : t->publish_failures)
            add(fmt::format("ocsp_stapler_publish_failures_total{{certificate=\"{}\",reason=\"{}\"}} {}\n", label(name),
                            label(reason), n));
    // Every configured export has its series from the start (0), so that increase() sees the first failure.
    header(out, "ocsp_stapler_export_failures_total", "counter",
           "Export attempts that failed, by kind: nginx_file, haproxy_file (a file write), haproxy_api (a runtime "
           "API push).");
    for (const auto& [name, t] : certs_)
        for (const auto k : export_kinds) {
            if (export_target(*t, k).empty()) continue;
            const auto& e = t->export_of(k);
            add(fmt::format("ocsp_stapler_export_failures_total{{certificate=\"{}\",kind=\"{}\"}} {}\n", label(name),
                            to_string(k), e.target == export_target(*t, k) ? e.failures : 0));
        }
    header(out, "ocsp_stapler_export_failing", "gauge",
           "1 while the last attempt of this export failed (the web server does not have the current response).");
    for (const auto& [name, t] : certs_)
        for (const auto k : export_kinds) {
            if (export_target(*t, k).empty()) continue;
            const auto& e = t->export_of(k);
            add(fmt::format("ocsp_stapler_export_failing{{certificate=\"{}\",kind=\"{}\"}} {}\n", label(name),
                            to_string(k), e.target == export_target(*t, k) && !e.error.empty() ? 1 : 0));
        }
    header(out, "ocsp_stapler_nginx_reload_pending", "gauge",
           "1 while an nginx reload_command is waiting for its debounce (1 s) or running.");
    add(fmt::format("ocsp_stapler_nginx_reload_pending {}\n", nginx_reload_idle() ? 0 : 1));
    header(out, "ocsp_stapler_expiry_alerts_total", "counter",
           "Staples that came within an expiry_alert threshold of nextUpdate.");
    for (const auto& [name, t] : certs_)
        add(fmt::format("ocsp_stapler_expiry_alerts_total{{certificate=\"{}\"}} {}\n", label(name), t->expiry_alerts));
    return out;
}

}  // namespace ocspkit::stapler::daemon
