#pragma once
// Private to the daemon's translation units: the per-certificate record behind stapler_daemon.
#include <array>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/logger.h>

#include "stapler/daemon/daemon.hpp"

namespace ocspkit::stapler::daemon {

// Everything the daemon knows about one certificate. Owned by certs_ and by the coroutines working on
// it, so that a certificate removed by a reload stays alive until they notice `removed`.
struct stapler_daemon::tracked {
    certificate cert;
    cert_state state;
    asio::steady_timer wake;  // the refresh loop sleeps on it; cancelled to make it look again
    bool removed = false;
    bool fetching = false;
    bool startup_pending = false;
    bool expiry_logged = false;
    std::vector<std::shared_ptr<asio::steady_timer>> waiters;  // refreshes joining the fetch in flight
    std::optional<fetch_report> last_report;
    std::map<std::string, std::uint64_t, std::less<>> fetch_results;  // ocsp_stapler_fetch_total
    // The last shm put failed (cache full, ...): readers find no entry, so nothing is published for this
    // certificate whatever `state` holds. Cleared by the next put that succeeds.
    std::error_code shm_error;
    bool persist_failed = false;  // the last save of `state.current` failed: an identical fetch retries it
    std::map<std::string, std::uint64_t, std::less<>> publish_failures;  // ocsp_stapler_publish_failures_total
    std::uint64_t expiry_alerts = 0;

    // One per export_kind, indexed by its value.
    struct export_state {
        std::string target;                      // what the fields below are about (a reload may change it)
        bool attempted = false;                  // false: "pending"
        std::string error;                       // the last attempt failed: why
        std::vector<std::uint8_t> delivered;     // the bytes the last successful attempt left there
        std::optional<sys_seconds> written_at;   // the last write or push
        std::uint64_t failures = 0;              // ocsp_stapler_export_failures_total
    };
    std::array<export_state, export_kinds.size()> exports;
    bool exporting = false;      // a sync_exports pass is running
    bool export_again = false;   // ... and someone asked for another one after it
    std::vector<std::shared_ptr<asio::steady_timer>> export_waiters;
    export_state& export_of(export_kind k) { return exports[static_cast<std::size_t>(k)]; }
    const export_state& export_of(export_kind k) const { return exports[static_cast<std::size_t>(k)]; }

    tracked(asio::io_context& io, certificate c) : cert(std::move(c)), wake(io) {}
};

// co_spawn completion for fire-and-forget coroutines: an escaped exception is a bug, logged, never fatal.
inline auto log_exceptions(std::shared_ptr<spdlog::logger> log, std::string what) {
    return [log = std::move(log), what = std::move(what)](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            log->error("{}: {}", what, ex.what());
        }
    };
}

// Runs blocking work on the disk pool; the awaiting coroutine resumes on its own executor afterwards.
template <class F>
auto stapler_daemon::on_pool(F f) -> asio::awaitable<decltype(f())> {
    using R = decltype(f());
    // Lambdas and other temporaries are kept out of co_await full-expressions on purpose: GCC 12
    // destroys some of them twice there (PR 99576 and relatives). Name them, then co_await.
    auto task = [g = std::move(f)]() mutable -> asio::awaitable<R> {
        if constexpr (std::is_void_v<R>)
            g();
        else
            co_return g();
    };
    auto op = asio::co_spawn(disk_, std::move(task), asio::use_awaitable);
    co_return co_await std::move(op);
}

}  // namespace ocspkit::stapler::daemon
