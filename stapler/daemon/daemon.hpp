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
// Then each certificate sleeps until its next refresh (schedule.hpp), an expiry alert or its nextUpdate.
#include <chrono>
#include <cstdint>
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
#include "stapler/daemon/exports.hpp"
#include "stapler/daemon/store.hpp"
#include "stapler/shm_cache.hpp"

namespace ocspkit::stapler::daemon {

namespace asio = boost::asio;

// The outcome of one fetch, as `refresh` reports it.
struct fetch_report {
    std::string name;
    bool ok = false;
    std::string status;  // ok: good | revoked | unknown (of the published response)
    std::string reason;  // failed: connect_failed, timeout, ..., a reject_reason, stale_good, shm_full, ...
    std::string detail;
};

// One row of `status`.
struct status_row {
    std::string name;
    std::string chain;
    std::string status;  // good | revoked | unknown | none (none also while the shm put fails)
    std::string action;  // staple | no_staple | not_servable: what TLS servers reading the shm cache do
    std::optional<sys_seconds> this_update, next_update, next_refresh;
    std::string last_error;
    unsigned fetch_failures = 0;
    std::string policy;  // soft | hard (hard for Must-Staple)
};
struct status_snapshot {
    bool ready = false;
    std::vector<status_row> certificates;
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
    std::string render_metrics() const;

    bool ready() const noexcept { return ready_; }
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
    asio::awaitable<void> export_files(tracked_ptr t);
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
