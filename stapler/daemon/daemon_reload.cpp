// stapler_daemon: SIGHUP reload, `refresh`, `status` and `/health` (the metrics text is in
// daemon_metrics.cpp).
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/log_format.hpp"
#include "common/serial.hpp"
#include "stapler/daemon/daemon.hpp"
#include "stapler/daemon/daemon_tracked.hpp"

namespace ocspkit::stapler::daemon {

asio::awaitable<void> stapler_daemon::reload() {
    const auto source = config_.source;
    std::pair<stapler_config, inventory> loaded;
    std::string refused;
    try {
        auto job = [source] {
            auto c = load_config(source);
            auto i = build_inventory(c);
            check_export_folders(c, i);
            return std::pair<stapler_config, inventory>{std::move(c), std::move(i)};
        };
        auto op = on_pool(std::move(job));
        loaded = co_await std::move(op);
    } catch (const std::exception& e) {
        refused = e.what();
    }
    if (stopping_) co_return;
    if (!refused.empty()) {
        log_->error("SIGHUP: configuration not reloaded, keeping the running one: {}", refused);
        // SIGHUP is also the operator's "try the exports again" (after creating a missing folder, say).
        std::vector<tracked_ptr> running;
        for (auto& [name, t] : certs_) running.push_back(t);
        auto op_export = sync_exports_of(std::move(running));
        co_await std::move(op_export);
        co_return;
    }
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
    // The proxy (its own thread, listener, cache and client cache) is built once at start-up.
    if (!same_settings(fresh.proxy, config_.proxy)) {
        log_->warn("SIGHUP: [proxy] changed; it takes effect at the next restart");
        fresh.proxy = config_.proxy;
    }
    log_->set_level(spdlog::level::from_str(fresh.log_level));
    if (fresh.log_format != config_.log_format) apply_log_format(*log_, fresh.log_format);
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
    std::vector<tracked_ptr> added, kept_certs;
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
            kept_certs.push_back(it->second);
            ++kept;
            continue;
        }
        added.push_back(track(std::move(c)));
    }
    // Kept certificates rewrite what is missing or outdated (the response may be unchanged; the file
    // may have been deleted, or its folder created since); added ones do the same in restore().
    auto op_export = sync_exports_of(std::move(kept_certs));
    co_await std::move(op_export);
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
        if (r) {
            row.produced_at = r->produced_at;
            if (r->revocation) {
                row.revocation_time = r->revocation->time;
                row.revocation_reason = r->revocation->reason;
            }
        }
        if (t->state.last_fetch) row.last_fetch = std::chrono::floor<std::chrono::seconds>(*t->state.last_fetch);
        if (auto serial = serial_number::from_asn1(X509_get0_serialNumber(t->cert.leaf.get()))) row.serial = serial->to_hex();
        row.last_error = t->state.last_error;
        for (const auto k : export_kinds) {
            const auto target = export_target(*t, k);
            if (target.empty()) continue;
            const auto& e = t->export_of(k);
            export_row x;
            x.kind = k;
            x.target = target;
            const bool known = e.target == target;  // else: configured by a reload, not tried yet
            x.state = !known || !e.attempted ? "pending" : e.error.empty() ? "ok" : "failed";
            if (known) {
                x.last_error = e.error;
                x.written_at = e.written_at;
                x.failures = e.failures;
            }
            if (!x.last_error.empty())
                row.last_error += fmt::format("{}{}: {}", row.last_error.empty() ? "" : "; ", to_string(k), x.last_error);
            row.exports.push_back(std::move(x));
        }
        row.fetch_failures = t->state.failures;
        row.policy = std::string(to_string(t->cert.effective_policy()));
        row.must_staple = t->cert.must_staple;
        s.certificates.push_back(std::move(row));
    }
    return s;
}

health_report stapler_daemon::health() const {
    if (!ready_) return {false, "not ready: the start-up fetches are still running"};
    const auto now_s = std::chrono::floor<std::chrono::seconds>(clock_.now());
    std::string problems;
    for (const auto& [name, t] : certs_) {
        if (t->cert.effective_policy() != staple_policy::hard) continue;
        std::string why;
        if (t->shm_error)
            why = "hard policy, but not in the shm cache (" + t->shm_error.message() + "): TLS servers do not enforce it";
        else if (t->state.entry(t->cert.settings.policy, t->cert.must_staple, now_s).action == staple_action::not_servable)
            why = t->state.usable(now_s) ? "hard policy and an unknown status: TLS servers refuse its handshakes"
                                         : "hard policy and no usable response: TLS servers refuse its handshakes";
        else
            continue;
        if (!t->state.last_error.empty()) why += " (last error: " + t->state.last_error + ")";
        problems += fmt::format("{}{}: {}", problems.empty() ? "" : "\n", name, why);
    }
    if (!problems.empty()) return {false, problems};
    return {true, "ok"};
}

}  // namespace ocspkit::stapler::daemon
