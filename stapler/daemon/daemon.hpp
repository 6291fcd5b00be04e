#pragma once
// The ocsp-stapler daemon: one io_context thread runs every certificate's refresh loop, the control
// socket and the metrics endpoint; blocking disk work (reading and fsync-ing files) goes to a small
// thread pool. All state below is touched only on the io thread, so nothing here needs a lock.
//
// Start-up (run()):
//   1. restore `<state_dir>/<name>.der` of every certificate, validate it again at now, publish usable
//      ones into the shm cache (a corrupt or invalid file is logged and removed, then refetched);
//   2. drop shm entries of certificates that are no longer configured;
//   3. fetch every certificate without a usable response or past its refresh time, in parallel, for at
//      most startup_timeout;
//   4. publish "no response" entries (action_without_response) for what is still missing, then ready:
//      --ready-file, sd_notify("READY=1"), `status` says ready.
// Exports (nginx_file, <chain>.ocsp, the HAProxy runtime API) of the responses restored in 1 and fetched
// in 3 are written (or have failed and been counted) before the daemon says ready, so that a web server
// started after readiness finds its files.
// Then each certificate sleeps until its next refresh (schedule.hpp), an expiry alert or its nextUpdate.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/logger.h>

#include "common/clock.hpp"
#include "stapler/daemon/cert_state.hpp"
#include "stapler/daemon/config.hpp"
#include "stapler/daemon/fetch_report.hpp"
#include "stapler/daemon/nginx_reload.hpp"
#include "stapler/daemon/store.hpp"
#include "stapler/shm_writer.hpp"

namespace ocspkit::stapler::daemon {

namespace asio = boost::asio;


// Where a certificate's response goes besides the shm cache; the `kind` label of
// ocsp_stapler_export_failures_total and of `status`'s exports.
enum class export_kind : std::uint8_t { nginx_file, haproxy_file, haproxy_api };
inline constexpr std::array<export_kind, 3> export_kinds{export_kind::nginx_file, export_kind::haproxy_file,
                                                         export_kind::haproxy_api};
std::string_view to_string(export_kind k) noexcept;

// One export of one certificate, as `status` shows it.
struct export_row {
    export_kind kind = export_kind::nginx_file;
    std::string target;       // the file, or the runtime API address
    std::string state;        // ok | failed | pending (nothing delivered yet: no response to staple)
    std::string last_error;   // of the last attempt, while it is failed
    std::optional<sys_seconds> written_at;  // the last write or push by this process
    std::uint64_t failures = 0;             // since start-up (the metric)
};

// One row of `status`.
struct status_row {
    std::string name;
    std::string chain;
    std::string serial;  // the leaf's, uppercase hex as `openssl x509 -serial` prints it
    std::string status;  // good | revoked | unknown | none (none also while the shm put fails)
    std::string action;  // staple | no_staple | not_servable: what TLS servers reading the shm cache do
    std::optional<sys_seconds> this_update, next_update, produced_at, next_refresh, last_fetch;
    std::optional<sys_seconds> revocation_time;  // of a revoked response
    std::optional<int> revocation_reason;        // CRLReason, when the responder gave one
    // "<reason>: <detail>" of the last failed fetch, "shm: ..." while not in the shm cache, and
    // "<kind>: ..." for each failed export, joined by "; "; empty when all is well.
    std::string last_error;
    unsigned fetch_failures = 0;
    std::string policy;  // soft | hard (hard for Must-Staple)
    bool must_staple = false;
    std::vector<export_row> exports;
};
struct status_snapshot {
    bool ready = false;
    std::vector<status_row> certificates;
};

// GET /health: healthy when ready and no certificate is in a state that fails a hard policy (TLS
// servers refuse its handshakes, or do not enforce it because it is missing from the shm cache).
struct health_report {
    bool ok = false;
    std::string reason;  // one line per problem, or "ok"
};

class stapler_daemon {
public:
    // `inv` is the inventory built from `config`. Nothing is opened until open().
    stapler_daemon(asio::io_context& io, stapler_config config, inventory inv, const clock_source& clock,
                   std::shared_ptr<spdlog::logger> log);
    ~stapler_daemon();
    stapler_daemon(const stapler_daemon&) = delete;
    stapler_daemon& operator=(const stapler_daemon&) = delete;

    // Opens the shm writer and the state directory; throws std::runtime_error naming what failed.
    void open();
    // The start-up sequence, then returns (the loops it spawned keep running). `on_ready` runs once,
    // on the io thread, when the daemon is ready.
    asio::awaitable<void> start(std::function<void()> on_ready);
    // SIGTERM: cancels every loop and timer; in-flight fetches are abandoned (files stay consistent:
    // every write is atomic). Disk work already queued finishes before the destructor returns.
    void stop();
    // SIGHUP: re-reads the configuration file; certificates added are started, removed ones are taken
    // out of the shm cache. A bad file is logged and the running configuration kept.
    asio::awaitable<void> reload();

    // Fetches now (every certificate, or the named one) and reports once each fetch has finished. A
    // fetch already in flight is joined rather than doubled. nullopt: no such certificate.
    asio::awaitable<std::optional<std::vector<fetch_report>>> refresh(std::optional<std::string> name);

    status_snapshot status() const;
    health_report health() const;
    std::string render_metrics() const;

    bool ready() const noexcept { return ready_; }
    // No nginx reload_command is waiting for its debounce or running: every one requested so far has run.
    bool nginx_reload_idle() const noexcept { return !debouncer_.pending() && !reload_running_; }
    const stapler_config& config() const noexcept { return config_; }

private:
    struct tracked;
    using tracked_ptr = std::shared_ptr<tracked>;

    tracked_ptr track(certificate cert);
    asio::awaitable<void> restore(const std::vector<tracked_ptr>& certs);
    asio::awaitable<void> cert_loop(tracked_ptr t);
    asio::awaitable<fetch_report> fetch_once(tracked_ptr t);
    asio::awaitable<fetch_report> join_or_fetch(tracked_ptr t);
    asio::awaitable<void> publish(tracked_ptr t);
    asio::awaitable<void> persist(tracked_ptr t);
    // Brings every export of `t` up to the published response: a file that is missing, holds other
    // bytes, or failed last time is (re)written; the runtime API gets what it has not acknowledged. Runs
    // one pass at a time per certificate; a call during a pass waits for one more pass.
    asio::awaitable<void> sync_exports(tracked_ptr t);
    asio::awaitable<void> export_pass(tracked_ptr t);
    // sync_exports of each, in parallel; returns when all are done.
    asio::awaitable<void> sync_exports_of(std::vector<tracked_ptr> certs);
    std::string export_target(const tracked& t, export_kind k) const;
    asio::awaitable<void> reload_runner();
    void put_entry(tracked& t);
    void check_expiry(tracked& t);
    void forget(const tracked_ptr& t);
    schedule_params params() const;
    double draw();
    time_point now() const;

    template <class F>
    auto on_pool(F f) -> asio::awaitable<decltype(f())>;

    asio::io_context& io_;
    stapler_config config_;
    inventory inventory_;
    const clock_source& clock_;
    std::shared_ptr<spdlog::logger> log_;
    asio::thread_pool disk_{2};
    state_store store_;
    std::unique_ptr<shm_writer> shm_;
    std::map<std::string, tracked_ptr> certs_;
    std::mt19937_64 random_;
    bool ready_ = false;
    bool stopping_ = false;
    std::size_t startup_pending_ = 0;
    std::unique_ptr<asio::steady_timer> startup_timer_;
    reload_debouncer debouncer_;
    bool reload_running_ = false;
    std::unique_ptr<asio::steady_timer> reload_timer_;
};

}  // namespace ocspkit::stapler::daemon
