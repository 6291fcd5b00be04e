// stapler_daemon: SIGHUP reload, `refresh`, `status` and the metrics text.
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/prometheus.hpp"
#include "stapler/daemon/daemon.hpp"
#include "stapler/daemon/daemon_tracked.hpp"

namespace ocspkit::stapler::daemon {

asio::awaitable<void> stapler_daemon::reload() {
    const auto source = config_.source;
    std::pair<stapler_config, inventory> loaded;
    try {
        auto job = [source] {
            auto c = load_config(source);
            auto i = build_inventory(c);
            return std::pair<stapler_config, inventory>{std::move(c), std::move(i)};
        };
        auto op = on_pool(std::move(job));
        loaded = co_await std::move(op);
    } catch (const std::exception& e) {
        log_->error("SIGHUP: configuration not reloaded, keeping the running one: {}", e.what());
        co_return;
    }
    if (stopping_) co_return;
    auto& [fresh, inv] = loaded;
    // Where things live is fixed for the life of the process: readers map the shm file, clients know the
    // socket. Those keys take effect at the next start.
    const auto keep = [&](auto& now_value, const auto& running, std::string_view key) {
        if (now_value != running) {
            log_->warn("SIGHUP: stapler.{} changed; it takes effect at the next restart", key);
            now_value = running;
        }
    };
    keep(fresh.state_dir, config_.state_dir, "state_dir");
    keep(fresh.shm_path, config_.shm_path, "shm_path");
    keep(fresh.shm_capacity, config_.shm_capacity, "shm_capacity");
    keep(fresh.shm_slot_size, config_.shm_slot_size, "shm_slot_size");
    keep(fresh.control_socket, config_.control_socket, "control_socket");
    keep(fresh.metrics_listen, config_.metrics_listen, "metrics_listen");
    log_->set_level(spdlog::level::from_str(fresh.log_level));
    for (const auto& s : inv.skipped) log_->warn("{}", s);

    std::map<std::string, const certificate*> incoming;
    std::set<cache_key> incoming_keys;
    for (const auto& c : inv.certificates) {
        incoming[c.name] = &c;
        incoming_keys.insert(c.key);
    }
    std::size_t removed = 0, kept = 0;
    for (auto it = certs_.begin(); it != certs_.end();) {
        auto found = incoming.find(it->first);
        if (found != incoming.end() && it->second->cert.same_source(*found->second)) {
            ++it;
            continue;
        }
        forget(it->second);
        if (!incoming_keys.contains(it->second->cert.key)) shm_->remove(it->second->cert.key);
        log_->info("SIGHUP: {} removed{}", it->first, found != incoming.end() ? " (changed: started again)" : "");
        it = certs_.erase(it);
        ++removed;
    }
    config_ = std::move(fresh);
    std::vector<tracked_ptr> added;
    for (auto& c : inv.certificates) {
        if (auto it = certs_.find(c.name); it != certs_.end()) {
            // Same leaf, issuer and request: keep the response, take the new policy and exports.
            auto& t = *it->second;
            t.cert.settings = c.settings;
            t.cert.nginx_file = c.nginx_file;
            t.cert.haproxy_file = c.haproxy_file;
            t.cert.chain = c.chain;
            t.cert.origin = c.origin;
            put_entry(t);  // also retries a put that failed (slots freed by the removals above)
            ++kept;
            continue;
        }
        added.push_back(track(std::move(c)));
    }
    auto op_restore = restore(added);
    co_await std::move(op_restore);
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now());
    for (const auto& t : added) {
        if (t->removed) continue;
        if (ready_ && !t->state.usable(now_s)) put_entry(*t);
        log_->info("SIGHUP: {} added", t->cert.name);
        asio::co_spawn(io_, cert_loop(t), log_exceptions(log_, t->cert.name));
    }
    log_->info("SIGHUP: configuration reloaded: {} kept, {} added, {} removed", kept, added.size(), removed);
}

asio::awaitable<std::optional<std::vector<fetch_report>>> stapler_daemon::refresh(std::optional<std::string> name) {
    std::vector<tracked_ptr> targets;
    if (name) {
        auto it = certs_.find(*name);
        if (it == certs_.end()) co_return std::nullopt;
        targets.push_back(it->second);
    } else {
        for (auto& [n, t] : certs_) targets.push_back(t);
    }
    auto reports = std::make_shared<std::vector<fetch_report>>(targets.size());
    auto remaining = std::make_shared<std::size_t>(targets.size());
    auto done = std::make_shared<asio::steady_timer>(io_, asio::steady_timer::time_point::max());
    for (std::size_t i = 0; i < targets.size(); ++i) {
        asio::co_spawn(
            io_,
            [this, t = targets[i], i, reports, remaining, done]() -> asio::awaitable<void> {
                auto op = join_or_fetch(t);
                (*reports)[i] = co_await std::move(op);
                if (--*remaining == 0) done->cancel();
            },
            log_exceptions(log_, "refresh"));
    }
    if (*remaining > 0) co_await done->async_wait(asio::as_tuple(asio::use_awaitable));
    co_return *reports;
}

status_snapshot stapler_daemon::status() const {
    status_snapshot s;
    s.ready = ready_;
    const auto now_s = std::chrono::floor<std::chrono::seconds>(clock_.now());
    for (const auto& [name, t] : certs_) {
        status_row row;
        row.name = name;
        row.chain = t->cert.chain.string();
        // Only what readers can find counts as published: after a failed shm put there is nothing, and a
        // miss is "no staple" for every reader whatever the policy.
        const auto* r = t->shm_error ? nullptr : t->state.usable(now_s);
        row.status = r ? std::string(to_string(r->status)) : "none";
        row.action = t->shm_error ? std::string(to_string(staple_action::no_staple))
                                  : std::string(to_string(
                                        t->state.entry(t->cert.settings.policy, t->cert.must_staple, now_s).action));
        if (r) {
            row.this_update = r->this_update;
            row.next_update = r->next_update;
        }
        if (t->state.next_refresh.time_since_epoch().count() != 0)
            row.next_refresh = std::chrono::floor<std::chrono::seconds>(t->state.next_refresh);
        row.last_error = t->state.last_error;
        row.fetch_failures = t->state.failures;
        row.policy = std::string(to_string(t->cert.effective_policy()));
        s.certificates.push_back(std::move(row));
    }
    return s;
}

namespace {
std::string label(std::string_view v) { return prometheus_label_value(v); }
}  // namespace

std::string stapler_daemon::render_metrics() const {
    std::string out;
    auto add = [&out](std::string_view text) { out.append(text); };
    const auto now_s = std::chrono::floor<std::chrono::seconds>(clock_.now());
    add("# HELP ocsp_stapler_ready 1 once the start-up fetches are done.\n# TYPE ocsp_stapler_ready gauge\n");
    add(fmt::format("ocsp_stapler_ready {}\n", ready_ ? 1 : 0));
    add("# HELP ocsp_stapler_staple_seconds_until_expiry Seconds until the published response's nextUpdate "
        "(negative once expired).\n# TYPE ocsp_stapler_staple_seconds_until_expiry gauge\n");
    for (const auto& [name, t] : certs_) {
        if (!t->state.current || t->shm_error) continue;
        add(fmt::format("ocsp_stapler_staple_seconds_until_expiry{{certificate=\"{}\"}} {}\n", label(name),
                        (t->state.current->next_update - now_s).count()));
    }
    add("# HELP ocsp_stapler_staple_status Status of the usable published response (none: there is none, or "
        "it is not in the shm cache).\n"
        "# TYPE ocsp_stapler_staple_status gauge\n");
    for (const auto& [name, t] : certs_) {
        const auto* r = t->shm_error ? nullptr : t->state.usable(now_s);
        const std::string_view current = r ? to_string(r->status) : "none";
        for (std::string_view s : {"good", "revoked", "unknown", "none"})
            add(fmt::format("ocsp_stapler_staple_status{{certificate=\"{}\",status=\"{}\"}} {}\n", label(name), s,
                            s == current ? 1 : 0));
    }
    add("# HELP ocsp_stapler_fetch_total Fetches by outcome: ok, a transport failure, a validation rejection, "
        "or stale_good.\n# TYPE ocsp_stapler_fetch_total counter\n");
    for (const auto& [name, t] : certs_)
        for (const auto& [result, n] : t->fetch_results)
            add(fmt::format("ocsp_stapler_fetch_total{{certificate=\"{}\",result=\"{}\"}} {}\n", label(name),
                            label(result), n));
    add("# HELP ocsp_stapler_publish_failures_total Responses (or \"no response\" entries) that could not be put "
        "into the shm cache, by reason: shm_full, shm_entry_too_large, shm_error.\n"
        "# TYPE ocsp_stapler_publish_failures_total counter\n");
    for (const auto& [name, t] : certs_)
        for (const auto& [reason, n] : t->publish_failures)
            add(fmt::format("ocsp_stapler_publish_failures_total{{certificate=\"{}\",reason=\"{}\"}} {}\n", label(name),
                            label(reason), n));
    add("# HELP ocsp_stapler_expiry_alerts_total Staples that came within an expiry_alert threshold of "
        "nextUpdate.\n# TYPE ocsp_stapler_expiry_alerts_total counter\n");
    for (const auto& [name, t] : certs_)
        add(fmt::format("ocsp_stapler_expiry_alerts_total{{certificate=\"{}\"}} {}\n", label(name), t->expiry_alerts));
    return out;
}

}  // namespace ocspkit::stapler::daemon
