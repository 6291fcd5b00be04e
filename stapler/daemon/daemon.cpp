#include "stapler/daemon/daemon.hpp"

#include <algorithm>
#include <set>
#include <type_traits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "common/asn1_time.hpp"
#include "common/duration.hpp"
#include "stapler/daemon/daemon_tracked.hpp"
#include "stapler/daemon/fetch_step.hpp"
#include "stapler/daemon/fetcher.hpp"
#include "stapler/daemon/ocsp_request_builder.hpp"

namespace ocspkit::stapler::daemon {
using namespace std::chrono_literals;
using std::chrono::milliseconds;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {
// The `refresh` reason and ocsp_stapler_publish_failures_total label of a failed shm put.
std::string shm_failure_reason(std::error_code ec) {
    if (ec == shm_errc::full) return "shm_full";
    if (ec == shm_errc::entry_too_large) return "shm_entry_too_large";
    return "shm_error";
}
}  // namespace


stapler_daemon::stapler_daemon(asio::io_context& io, stapler_config config, inventory inv, const clock_source& clock,
                               std::shared_ptr<spdlog::logger> log)
    : io_(io),
      config_(std::move(config)),
      inventory_(std::move(inv)),
      clock_(clock),
      log_(std::move(log)),
      store_(config_.state_dir),
      random_(std::random_device{}()),
      startup_timer_(std::make_unique<asio::steady_timer>(io)),
      reload_timer_(std::make_unique<asio::steady_timer>(io)) {}

stapler_daemon::~stapler_daemon() {
    // Queued writes finish (they are atomic either way); nothing new is started.
    disk_.join();
}

time_point stapler_daemon::now() const { return std::chrono::time_point_cast<milliseconds>(clock_.now()); }

double stapler_daemon::draw() { return std::uniform_real_distribution<double>(0.0, 1.0)(random_); }

schedule_params stapler_daemon::params() const {
    return {config_.min_refresh_interval, config_.retry_initial, config_.retry_max, config_.jitter};
}

void stapler_daemon::open() {
    if (auto ec = store_.prepare())
        throw std::runtime_error(fmt::format("state_dir {}: {}", config_.state_dir.string(), ec.message()));
    std::error_code ec;
    std::filesystem::create_directories(config_.shm_path.parent_path(), ec);
    shm_ = shm_writer::open(config_.shm_path, shm_options{config_.shm_capacity, config_.shm_slot_size}, ec);
    if (!shm_) throw std::runtime_error(fmt::format("shm_path {}: {}", config_.shm_path.string(), ec.message()));
    log_->info("shm cache {} ({}, {} slots of {} bytes)", config_.shm_path.string(),
               shm_->created() ? "created" : "reused", shm_->capacity(), config_.shm_slot_size);
}

stapler_daemon::tracked_ptr stapler_daemon::track(certificate cert) {
    auto t = std::make_shared<tracked>(io_, std::move(cert));
    certs_[t->cert.name] = t;
    return t;
}

asio::awaitable<void> stapler_daemon::start(std::function<void()> on_ready) {
    for (const auto& s : inventory_.skipped) log_->warn("{}", s);
    std::vector<tracked_ptr> all;
    for (auto& c : inventory_.certificates) all.push_back(track(std::move(c)));
    inventory_.certificates.clear();

    // Entries of certificates no longer configured would be stapled forever by readers otherwise.
    std::set<cache_key> keys;
    for (const auto& t : all) keys.insert(t->cert.key);
    for (const auto& [key, entry] : shm_->entries())
        if (!keys.contains(key)) shm_->remove(key);

    auto op_restore = restore(all);
    co_await std::move(op_restore);
    const time_point t0 = now();
    for (const auto& t : all) {
        if (t->state.next_refresh <= t0) {
            t->startup_pending = true;
            ++startup_pending_;
        }
    }
    log_->info("{} certificates, {} to fetch before ready (at most {})", all.size(), startup_pending_,
               format_duration(config_.startup_timeout));
    for (const auto& t : all) asio::co_spawn(io_, cert_loop(t), log_exceptions(log_, t->cert.name));
    if (startup_pending_ > 0) {
        startup_timer_->expires_after(config_.startup_timeout);
        co_await startup_timer_->async_wait(use_tuple);
    }
    if (stopping_) co_return;
    if (startup_pending_ > 0) log_->warn("start-up timeout: {} certificates still without a fetch result", startup_pending_);
    startup_pending_ = 0;
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now());
    for (auto& [name, t] : certs_) {
        t->startup_pending = false;
        // Readers must learn that a hard-fail certificate cannot be served rather than miss it.
        if (!t->state.usable(now_s)) put_entry(*t);
    }
    ready_ = true;
    log_->info("ready");
    if (on_ready) on_ready();
}

asio::awaitable<void> stapler_daemon::restore(const std::vector<tracked_ptr>& certs) {
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now());
    std::vector<const certificate*> list;
    for (const auto& t : certs) list.push_back(&t->cert);
    using restored_list = std::vector<state_store::restored>;
    auto job = [this, list, now_s] {
        restored_list out;
        for (const auto* c : list) out.push_back(store_.restore(*c, now_s, config_.max_skew));
        return out;
    };
    auto op = on_pool(std::move(job));
    restored_list results = co_await std::move(op);
    auto p = params();
    p.min_refresh_interval = 0ms;  // a response half-way through its life at start-up is fetched at once
    const time_point n = now();
    std::vector<tracked_ptr> to_export;
    for (std::size_t i = 0; i < certs.size(); ++i) {
        auto& t = *certs[i];
        auto& restored = results[i];
        if (restored.problem) log_->warn("{}: persisted response not used: {}", t.cert.name, *restored.problem);
        if (!restored.response) {
            t.state.next_refresh = n;
            continue;
        }
        const auto& r = *restored.response;
        if (r.next_update <= now_s) {
            // An expired permanent revocation (store.hpp): never stapled, only remembered so that the
            // publishing rules keep refusing a `good` for this certificate. Fetched again at once.
            log_->warn("{}: kept the expired {} response (thisUpdate {}, nextUpdate {}): a permanent revocation "
                       "is never replaced by good",
                       t.cert.name, to_string(r.status), to_iso8601(r.this_update), to_iso8601(r.next_update));
            t.state.current = std::move(restored.response);
            t.state.next_refresh = n;
            if (!t.removed) put_entry(t);
            continue;
        }
        t.state.next_refresh = next_refresh_after_success(p, to_time_point(r.this_update), to_time_point(r.next_update),
                                                          n, std::nullopt, draw());
        log_->info("{}: restored {} response (thisUpdate {}, nextUpdate {})", t.cert.name, to_string(r.status),
                   to_iso8601(r.this_update), to_iso8601(r.next_update));
        t.state.current = std::move(restored.response);
        if (t.removed) continue;
        put_entry(t);
        to_export.push_back(certs[i]);
    }
    // A new nginx_file, a deleted or outdated <chain>.ocsp: written from the restored response now, and
    // awaited, so that a web server started once the daemon is ready finds its file.
    auto op_export = sync_exports_of(std::move(to_export));
    co_await std::move(op_export);
}

asio::awaitable<void> stapler_daemon::cert_loop(tracked_ptr t) {
    while (!stopping_ && !t->removed) {
        check_expiry(*t);
        const time_point n = now();
        if (n >= t->state.next_refresh) {
            auto op = join_or_fetch(t);
            co_await std::move(op);
            continue;
        }
        // Wake for the refresh, the next expiry alert, or the end of the response, whichever is first; at
        // least every 5 minutes so that a wall-clock jump is noticed.
        time_point wake = std::min(t->state.next_refresh, n + milliseconds{5min});
        const auto now_s = std::chrono::floor<std::chrono::seconds>(n);
        if (const auto* r = t->state.usable(now_s)) {
            wake = std::min(wake, to_time_point(r->next_update));
            if (t->state.alerts_fired < config_.expiry_alert.size())
                wake = std::min(wake, to_time_point(r->next_update) - config_.expiry_alert[t->state.alerts_fired]);
        }
        t->wake.expires_after(std::max(wake - n, milliseconds{1}));
        co_await t->wake.async_wait(use_tuple);
    }
}

void stapler_daemon::check_expiry(tracked& t) {
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now());
    for (auto left : t.state.due_alerts(config_.expiry_alert, now_s)) {
        ++t.expiry_alerts;
        log_->warn("{}: staple expires in less than {} (nextUpdate {}), last error: {}", t.cert.name,
                   format_duration(left), to_iso8601(t.state.current->next_update),
                   t.state.last_error.empty() ? "none" : t.state.last_error);
    }
    if (t.state.current && !t.state.usable(now_s) && !t.expiry_logged) {
        // The shm entry degrades by itself (action_when_expired); this only tells the operator.
        t.expiry_logged = true;
        log_->error("{}: response expired at {} without a replacement; now {}", t.cert.name,
                    to_iso8601(t.state.current->next_update),
                    to_string(action_without_response(t.cert.settings.policy, t.cert.must_staple)));
    }
}

asio::awaitable<fetch_report> stapler_daemon::join_or_fetch(tracked_ptr t) {
    if (t->fetching) {
        auto waiter = std::make_shared<asio::steady_timer>(io_, asio::steady_timer::time_point::max());
        t->waiters.push_back(waiter);
        co_await waiter->async_wait(use_tuple);
        if (t->last_report && !stopping_) co_return *t->last_report;
        co_return fetch_report{t->cert.name, false, "", "stopped", "the daemon is stopping"};
    }
    auto op = fetch_once(t);
    co_return co_await std::move(op);
}

asio::awaitable<fetch_report> stapler_daemon::fetch_once(tracked_ptr t) {
    t->fetching = true;
    fetch_report report{t->cert.name, false, "", "", ""};

    // The network: build the request and exchange it. Validation and the publishing rules are the pure
    // step below; the disk and the shm cache follow it.
    const auto& s = t->cert.settings;
    fetch_step_context context{t->cert.leaf.get(), t->cert.issuer.get(), {}, params()};
    context.validation.max_skew = config_.max_skew;
    context.validation.max_size = s.max_response_bytes;
    std::optional<fetch_input> input;
    auto built = build_ocsp_request(t->cert.leaf.get(), t->cert.issuer.get(), s.hash, s.nonce);
    if (!built) {
        input = fetch_problem{"internal_error", built.error_message()};
    } else {
        context.validation.expected_nonce = built->nonce;
        fetch_request req;
        req.url = t->cert.responder_url;
        req.ocsp_request_der = std::move(built->der);
        req.use_get = s.method == request_method::get;
        req.timeout = s.timeout;
        req.max_body = s.max_response_bytes;
        auto op = fetch(std::move(req));
        auto outcome = co_await std::move(op);
        if (!outcome)
            input = fetch_problem{std::string(to_string(fetch_error_of(outcome))), outcome.failure().message};
        else if (!stopping_ && !t->removed) {
            fetch_response response = std::move(outcome).value();
            input = fetched_body{std::move(response.body), response.max_age};
        }
    }

    if (stopping_ || t->removed) {
        report.reason = "stopped";
    } else {
        const auto step = on_fetch_result(t->state, context, std::move(*input), now(), draw());
        ++t->fetch_results[step.result];
        const auto level = step.severity == log_severity::error  ? spdlog::level::err
                           : step.severity == log_severity::warn ? spdlog::level::warn
                                                                 : spdlog::level::info;
        log_->log(level, "{}: {}", t->cert.name, step.log);
        switch (step.kind) {
            case fetch_step_kind::failed:
            case fetch_step_kind::not_published:
                report.not_published = step.kind == fetch_step_kind::not_published;
                report.reason = step.result;
                report.detail = step.detail;
                // Readers must learn that nothing can be stapled any more (hard-fail: not servable).
                if (step.no_usable_response && ready_) put_entry(*t);
                break;
            case fetch_step_kind::published: {
                t->expiry_logged = false;
                auto op_publish = publish(t);
                co_await std::move(op_publish);
                break;
            }
            case fetch_step_kind::unchanged:
                // Nothing new to publish, but what failed last time is tried again (the exports below as
                // well: a missing or outdated file is rewritten, an intact one is not).
                if (t->persist_failed) {
                    auto op_persist = persist(t);
                    co_await std::move(op_persist);
                }
                if (t->shm_error && !stopping_ && !t->removed) put_entry(*t);
                break;
        }
        if (step.kind == fetch_step_kind::published || step.kind == fetch_step_kind::unchanged) {
            report.ok = true;
            report.status = std::string(to_string(t->state.current->status));
            if (t->shm_error && !stopping_ && !t->removed) {
                // Fetched, but TLS servers find nothing: `refresh` must not say "ok".
                report.ok = false;
                report.status.clear();
                report.reason = shm_failure_reason(t->shm_error);
                report.detail = t->state.last_error;
            }
        }
    }

    if (!stopping_ && !t->removed) {
        // After every fetch, whatever its outcome: the exports follow the published response, and one
        // that failed (a folder that was missing, HAProxy down) is retried with it.
        auto op_export = sync_exports(t);
        co_await std::move(op_export);
        if (report.ok) {
            std::string failed;
            for (const auto k : export_kinds) {
                const auto& e = t->export_of(k);
                if (e.error.empty()) continue;
                if (!failed.empty()) failed += "; ";
                failed += fmt::format("{}: {}", to_string(k), e.error);
            }
            if (!failed.empty()) {
                // Fetched and in the shm cache, but the web server reading the export does not have it.
                report.ok = false;
                report.status.clear();
                report.reason = "export_failed";
                report.detail = std::move(failed);
            }
        }
    }

    t->fetching = false;
    t->last_report = report;
    for (auto& w : t->waiters) w->cancel();
    t->waiters.clear();
    t->wake.cancel();  // the loop recomputes its wake-up from the new schedule
    if (t->startup_pending) {
        t->startup_pending = false;
        if (--startup_pending_ == 0) startup_timer_->cancel();
    }
    co_return report;
}

void stapler_daemon::put_entry(tracked& t) {
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now());
    const cache_entry e = t.state.entry(t.cert.settings.policy, t.cert.must_staple, now_s);
    const std::string shm_prefix = "shm: ";
    if (auto ec = shm_->put(t.cert.key, e)) {
        log_->error("{}: cannot publish into the shm cache: {}", t.cert.name, ec.message());
        // An older entry left in place would be served as if it were the current state (a good response
        // after a revocation); without one, every reader finds a miss and does what `status` then says.
        shm_->remove(t.cert.key);
        t.shm_error = ec;
        t.state.last_error = shm_prefix + ec.message();
        ++t.publish_failures[shm_failure_reason(ec)];
        return;
    }
    if (t.shm_error) {
        log_->info("{}: published into the shm cache", t.cert.name);
        t.shm_error.clear();
        if (t.state.last_error.starts_with(shm_prefix)) t.state.last_error.clear();
    }
}

asio::awaitable<void> stapler_daemon::persist(tracked_ptr t) {
    std::vector<std::uint8_t> der = t->state.current->der;
    std::string name = t->cert.name;
    auto job = [this, name, der] {
        auto s = store_.save(name, der);
        return s ? std::string() : s.error_message();
    };
    auto op = on_pool(std::move(job));
    auto error = co_await std::move(op);
    // Only if `current` is still what was saved: a newer response has its own save under way.
    if (t->state.current && t->state.current->der == der) t->persist_failed = !error.empty();
    if (!error.empty()) log_->error("{}: cannot persist the response: {}", name, error);
}

asio::awaitable<void> stapler_daemon::publish(tracked_ptr t) {
    // Persist first: after a crash the daemon restarts from what readers saw, never from less.
    auto op = persist(t);
    co_await std::move(op);
    if (stopping_ || t->removed) co_return;
    put_entry(*t);
    // The exports follow in fetch_once, after every fetch.
}

void stapler_daemon::forget(const tracked_ptr& t) {
    t->removed = true;
    t->wake.cancel();
    for (auto& w : t->waiters) w->cancel();
    t->waiters.clear();
    for (auto& w : t->export_waiters) w->cancel();
    t->export_waiters.clear();
    if (t->startup_pending) {
        t->startup_pending = false;
        if (--startup_pending_ == 0) startup_timer_->cancel();
    }
}

void stapler_daemon::stop() {
    if (stopping_) return;
    stopping_ = true;
    for (auto& [name, t] : certs_) {
        t->wake.cancel();
        for (auto& w : t->waiters) w->cancel();
        for (auto& w : t->export_waiters) w->cancel();
    }
    startup_timer_->cancel();
    reload_timer_->cancel();
}

}  // namespace ocspkit::stapler::daemon
