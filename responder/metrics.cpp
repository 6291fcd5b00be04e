#include "responder/metrics.hpp"

#include <fmt/format.h>

#include "common/prometheus.hpp"
#include "common/version.hpp"

namespace ocspkit::responder {
namespace {
template <class... Args>
void append(std::string& out, fmt::format_string<Args...> format, Args&&... args) {
    fmt::format_to(std::back_inserter(out), format, std::forward<Args>(args)...);
}
std::string label_value(std::string_view v) { return prometheus_label_value(v); }
constexpr std::array<std::string_view, 4> method_names{"GET", "POST", "HEAD", "other"};
constexpr std::array<ocsp_status, 6> all_statuses{ocsp_status::successful,   ocsp_status::malformed_request,
                                                   ocsp_status::internal_error, ocsp_status::try_later,
                                                   ocsp_status::sig_required, ocsp_status::unauthorized};
}  // namespace

void responder_metrics::count_request(method m, unsigned http_status, std::chrono::nanoseconds latency) {
    std::size_t code_slot = tracked_http.size();  // "other"
    for (std::size_t i = 0; i < tracked_http.size(); ++i)
        if (tracked_http[i] == http_status) code_slot = i;
    requests_[static_cast<std::size_t>(m)][code_slot].fetch_add(1, std::memory_order_relaxed);
    const double seconds = std::chrono::duration<double>(latency).count();
    std::size_t bucket = latency_buckets_seconds.size();
    for (std::size_t i = 0; i < latency_buckets_seconds.size(); ++i) {
        if (seconds <= latency_buckets_seconds[i]) {
            bucket = i;
            break;
        }
    }
    latency_[bucket].fetch_add(1, std::memory_order_relaxed);
    latency_sum_ns_.fetch_add(static_cast<std::uint64_t>(latency.count()), std::memory_order_relaxed);
    latency_count_.fetch_add(1, std::memory_order_relaxed);
}

void responder_metrics::count_ocsp(ocsp_status s) {
    ocsp_status_[static_cast<std::size_t>(s)].fetch_add(1, std::memory_order_relaxed);
}

void responder_metrics::count_cert_state(cert_state s) {
    cert_states_[static_cast<std::size_t>(s)].fetch_add(1, std::memory_order_relaxed);
}

responder_metrics::purge_counters& responder_metrics::purge_target(const std::string& url) {
    std::lock_guard lock(purge_mutex_);
    for (auto& [name, counters] : purge_targets_)
        if (name == url) return counters;
    return purge_targets_.emplace_back(std::piecewise_construct, std::forward_as_tuple(url), std::forward_as_tuple())
        .second;
}

std::string responder_metrics::render(const gauges& g) const {
    std::string out;
    append(out, "# HELP ocsp_http_requests_total HTTP requests by method and status code.\n"
         "# TYPE ocsp_http_requests_total counter\n");
    for (std::size_t m = 0; m < method_names.size(); ++m) {
        for (std::size_t c = 0; c <= tracked_http.size(); ++c) {
            auto v = requests_[m][c].load(std::memory_order_relaxed);
            if (v == 0) continue;
            std::string code = c < tracked_http.size() ? std::to_string(tracked_http[c]) : "other";
            append(out, "ocsp_http_requests_total{{method=\"{}\",code=\"{}\"}} {}\n", method_names[m], code, v);
        }
    }
    append(out, "# HELP ocsp_responses_total OCSP responses by OCSPResponseStatus.\n"
         "# TYPE ocsp_responses_total counter\n");
    for (auto s : all_statuses)
        append(out, "ocsp_responses_total{{status=\"{}\"}} {}\n", ocsp_status_name(s),
             ocsp_status_[static_cast<std::size_t>(s)].load(std::memory_order_relaxed));
    append(out, "# HELP ocsp_cert_status_total Certificate statuses answered.\n"
         "# TYPE ocsp_cert_status_total counter\n");
    for (auto s : {cert_state::good, cert_state::revoked, cert_state::unknown})
        append(out, "ocsp_cert_status_total{{cert_status=\"{}\"}} {}\n", cert_state_name(s),
             cert_states_[static_cast<std::size_t>(s)].load(std::memory_order_relaxed));
    append(out, "# HELP ocsp_request_duration_seconds Time from request read to response ready.\n"
         "# TYPE ocsp_request_duration_seconds histogram\n");
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < latency_buckets_seconds.size(); ++i) {
        cumulative += latency_[i].load(std::memory_order_relaxed);
        append(out, "ocsp_request_duration_seconds_bucket{{le=\"{}\"}} {}\n", latency_buckets_seconds[i], cumulative);
    }
    cumulative += latency_[latency_buckets_seconds.size()].load(std::memory_order_relaxed);
    append(out, "ocsp_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
    append(out, "ocsp_request_duration_seconds_sum {}\n",
         static_cast<double>(latency_sum_ns_.load(std::memory_order_relaxed)) / 1e9);
    append(out, "ocsp_request_duration_seconds_count {}\n", latency_count_.load(std::memory_order_relaxed));
    // One HELP and TYPE per family, as the text format asks (promtool check metrics in the tests).
    const auto single = [&out](std::string_view name, std::string_view type, std::string_view help, auto value) {
        append(out, "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
    };
    single("ocsp_cache_hits_total", "counter", "Requests answered from the pre-signed response cache.",
           cache_hits_.load());
    single("ocsp_cache_misses_total", "counter", "Requests the cache could not answer (decoded and signed or refused).",
           cache_misses_.load());
    single("ocsp_cache_entries", "gauge", "Pre-signed responses held in the cache.", g.cache_entries);
    single("ocsp_cache_bytes", "gauge", "Bytes used by the pre-signed response cache.", g.cache_bytes);
    single("ocsp_signatures_total", "counter", "OCSP responses signed (cache fills, re-signs and nonce answers).",
           signatures_.load());
    single("ocsp_index_lookups_total", "counter",
           "Certificates looked up in the index's database (answers signed for certificates whose status was "
           "not already known from the change feed).",
           index_lookups_.load());
    single("ocsp_signing_queue_depth", "gauge", "Signing jobs waiting for or running on the signing pool.",
           g.signing_queue_depth);
    single("ocsp_try_later_total", "counter",
           "Requests answered tryLater: the signing queue was full, the index's database unreachable or a signing "
           "key's token unavailable.",
           try_later_.load());
    single("ocsp_open_connections", "gauge", "Open client connections.", g.open_connections);
    append(out, "# HELP ocsp_index_change_sequence The index's change sequence up to which the cache reflects it.\n"
         "# TYPE ocsp_index_change_sequence gauge\nocsp_index_change_sequence {}\n", g.index_change_sequence);
    single("ocsp_index_database_up", "gauge",
           "1 while the index's database answers; 0 while a PostgreSQL server is unreachable (cached answers are "
           "still served, misses answer tryLater).",
           g.database_up ? 1 : 0);
    single("ocsp_index_database_reconnects_total", "counter",
           "Times the responder connected to the index's database again after losing it.",
           database_reconnects_.load());
    single("ocsp_warm_start_answers_loaded", "gauge",
           "Pre-signed answers read back from the warm-start file at start, each checked against the index.",
           g.warm_start_loaded);
    single("ocsp_warm_start_answers_dropped", "gauge",
           "Answers in the warm-start file left out at start (status changed in the index, expired, another signer).",
           g.warm_start_dropped);
    single("ocsp_warm_start_last_save_timestamp_seconds", "gauge",
           "When the pre-signed answers were last written to the warm-start file (unix time; 0: not yet).",
           g.warm_start_saved_at);
    {
        std::lock_guard lock(purge_mutex_);
        if (!purge_targets_.empty()) {
            const auto family = [&](std::string_view name, std::string_view help, auto member) {
                append(out, "# HELP {0} {1}\n# TYPE {0} counter\n", name, help);
                for (const auto& [url, counters] : purge_targets_)
                    append(out, "{}{{target=\"{}\"}} {}\n", name, label_value(url), (counters.*member).load());
            };
            family("ocsp_purges_sent_total", "PURGE requests a cache target accepted.", &purge_counters::sent);
            family("ocsp_purges_failed_total", "Purged paths given up on after every attempt, or refused by the target.",
                   &purge_counters::failed);
            family("ocsp_purges_dropped_total", "Paths to purge dropped because the target's queue was full.",
                   &purge_counters::dropped);
        }
    }
    append(out, "# HELP ocsp_signer_seconds_to_expiry Seconds until each issuer's signing certificate expires.\n"
         "# TYPE ocsp_signer_seconds_to_expiry gauge\n");
    for (auto& [name, seconds] : g.signer_seconds_to_expiry)
        append(out, "ocsp_signer_seconds_to_expiry{{issuer=\"{}\"}} {}\n", label_value(name), seconds);
    append(out, "# HELP ocsp_signer_up 1 while the issuer's signing key can sign; 0 while its PKCS#11 token is "
                "unavailable (cached answers are still served, others answer tryLater).\n"
                "# TYPE ocsp_signer_up gauge\n");
    for (const auto& sg : g.signers) append(out, "ocsp_signer_up{{issuer=\"{}\"}} {}\n", label_value(sg.issuer), sg.up ? 1 : 0);
    append(out, "# HELP ocsp_signing_errors_total Times the issuer's PKCS#11 token failed a signature and was "
                "reconnected (0 for keys in files).\n"
                "# TYPE ocsp_signing_errors_total counter\n");
    for (const auto& sg : g.signers)
        append(out, "ocsp_signing_errors_total{{issuer=\"{}\"}} {}\n", label_value(sg.issuer), sg.failures);
    if (!g.crls.empty()) {
        const auto family = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
            append(out, "# HELP {0} {1}\n# TYPE {0} {2}\n", name, help, type);
            for (const auto& c : g.crls) append(out, "{}{{issuer=\"{}\"}} {}\n", name, label_value(c.issuer), value(c));
        };
        using crl = gauges::crl;
        family("ocsp_crl_number", "gauge", "CRL number of the CRL served for each issuer (0 before the first).",
               [](const crl& c) { return c.number; });
        family("ocsp_crl_next_update_timestamp_seconds", "gauge", "nextUpdate of the CRL served, in unix seconds.",
               [](const crl& c) { return c.next_update; });
        family("ocsp_crl_issued_total", "counter", "CRLs issued.", [](const crl& c) { return c.issued; });
        family("ocsp_crl_failures_total", "counter", "CRL issuances that failed (retried with backoff).",
               [](const crl& c) { return c.failures; });
    }
    append(out, "# HELP ocspkit_build_info The ocspkit release (and git describe of the build) of this responder.\n"
         "# TYPE ocspkit_build_info gauge\n");
    if (git_describe.empty())
        append(out, "ocspkit_build_info{{version=\"{}\"}} 1\n", label_value(version));
    else
        append(out, "ocspkit_build_info{{version=\"{}\",git=\"{}\"}} 1\n", label_value(version),
               label_value(git_describe));
    return out;
}

}  // namespace ocspkit::responder
