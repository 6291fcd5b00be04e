// stapler_daemon: the exports (nginx_file, <chain>.ocsp, the HAProxy runtime API) and the debounced
// nginx reload_command.
//
// Exports are synchronised, not fired once per new response: after every fetch, at start-up from a
// restored response, and on SIGHUP, each file is compared with the published response and rewritten
// when it is missing, holds other bytes or failed last time. So a folder that was missing when a new
// response came (issue 10: nginx then refused to start) is filled by the next `refresh` or SIGHUP even
// though the responder's answer has not changed, while an intact file is left alone (no rewrite, no
// nginx reload) when the same response comes back.
#include <fstream>
#include <iterator>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "common/atomic_file.hpp"
#include "stapler/daemon/command_runner.hpp"
#include "stapler/daemon/daemon.hpp"
#include "stapler/daemon/daemon_tracked.hpp"
#include "stapler/daemon/haproxy_runtime.hpp"

namespace ocspkit::stapler::daemon {
using namespace std::chrono_literals;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// True when `file` holds exactly `der`. Unreadable counts as different: the write that follows then
// reports the real problem.
bool holds(const std::filesystem::path& file, const std::vector<std::uint8_t>& der) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return false;
    const std::vector<std::uint8_t> content{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    return !in.bad() && content == der;
}
}  // namespace

std::string_view to_string(export_kind k) noexcept {
    switch (k) {
        case export_kind::nginx_file: return "nginx_file";
        case export_kind::haproxy_file: return "haproxy_file";
        case export_kind::haproxy_api: return "haproxy_api";
    }
    return "unknown";
}

std::string stapler_daemon::export_target(const tracked& t, export_kind k) const {
    switch (k) {
        case export_kind::nginx_file: return t.cert.nginx_file.string();
        case export_kind::haproxy_file: return t.cert.haproxy_file.string();
        case export_kind::haproxy_api:
            return t.cert.haproxy_file.empty() ? std::string() : config_.haproxy_stats_socket;
    }
    return {};
}

asio::awaitable<void> stapler_daemon::sync_exports(tracked_ptr t) {
    if (t->cert.nginx_file.empty() && t->cert.haproxy_file.empty()) co_return;
    if (t->exporting) {
        // The running pass may be writing older bytes: have it run once more, and return after that one.
        t->export_again = true;
        auto waiter = std::make_shared<asio::steady_timer>(io_, asio::steady_timer::time_point::max());
        t->export_waiters.push_back(waiter);
        co_await waiter->async_wait(use_tuple);
        co_return;
    }
    // One pass at a time: two passes writing through the two-thread disk pool could rename their files
    // in either order and leave the older response in place.
    t->exporting = true;
    do {
        t->export_again = false;
        auto op = export_pass(t);
        co_await std::move(op);
    } while (t->export_again && !stopping_ && !t->removed);
    t->exporting = false;
    for (auto& w : t->export_waiters) w->cancel();
    t->export_waiters.clear();
}

asio::awaitable<void> stapler_daemon::export_pass(tracked_ptr t) {
    for (const auto k : export_kinds) {
        // A reload may point an export elsewhere: what is known about the old target does not carry over.
        auto& e = t->export_of(k);
        if (auto target = export_target(*t, k); target != e.target) {
            e = tracked::export_state{};
            e.target = std::move(target);
        }
    }
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now());
    const auto* r = t->state.usable(now_s);
    if (!r) co_return;
    // nginx and HAProxy staple whatever file they are given: only what decide() would staple goes there.
    if (decide(t->cert.settings.policy, t->cert.must_staple, t->state.current, now_s).action != staple_action::staple)
        co_return;
    const std::vector<std::uint8_t> der = r->der;

    const auto failed = [&](export_kind k, std::string why) {
        auto& e = t->export_of(k);
        e.attempted = true;
        ++e.failures;
        log_->error("{}: {} {}: {}", t->cert.name, to_string(k), e.target, why);
        e.error = std::move(why);
    };
    const auto delivered = [&](export_kind k, bool wrote) {
        auto& e = t->export_of(k);
        e.attempted = true;
        if (!e.error.empty()) log_->info("{}: {} {}: delivered again", t->cert.name, to_string(k), e.target);
        e.error.clear();
        e.delivered = der;
        if (wrote) e.written_at = std::chrono::floor<std::chrono::seconds>(now());
    };

    for (const auto k : {export_kind::nginx_file, export_kind::haproxy_file}) {
        const std::filesystem::path file = k == export_kind::nginx_file ? t->cert.nginx_file : t->cert.haproxy_file;
        if (file.empty()) continue;
        // (wrote, error): not written because it already held these bytes, written, or failed.
        auto job = [file, der]() -> std::pair<bool, std::string> {
            if (holds(file, der)) return {false, {}};
            auto s = write_file_atomically(file, der, 0644);
            return {static_cast<bool>(s), s ? std::string() : s.error_message()};
        };
        auto op = on_pool(std::move(job));
        auto [wrote, error] = co_await std::move(op);
        if (stopping_ || t->removed) co_return;
        if (!error.empty()) {
            failed(k, "cannot write: " + error);
            continue;
        }
        delivered(k, wrote);
        if (!wrote) continue;
        log_->debug("{}: wrote {}", t->cert.name, file.string());
        if (k == export_kind::nginx_file && !config_.nginx_reload_command.empty()) {
            debouncer_.request(std::chrono::steady_clock::now());
            if (!reload_running_) asio::co_spawn(io_, reload_runner(), log_exceptions(log_, "nginx reload"));
        }
    }

    // The runtime API: pushed whenever HAProxy has not acknowledged these bytes, independently of the
    // file (a push makes the running processes staple it even if the file could not be written).
    if (t->cert.haproxy_file.empty() || config_.haproxy_stats_socket.empty()) co_return;
    const auto& api = t->export_of(export_kind::haproxy_api);
    if (api.attempted && api.error.empty() && api.delivered == der) co_return;
    auto endpoint = parse_haproxy_endpoint(config_.haproxy_stats_socket);
    if (!endpoint) {
        failed(export_kind::haproxy_api, "[haproxy] stats_socket: " + endpoint.error_message());
        co_return;
    }
    auto op_push = push_haproxy_ocsp(*endpoint, der);
    auto pushed = co_await std::move(op_push);
    if (stopping_ || t->removed) co_return;
    if (!pushed) {
        failed(export_kind::haproxy_api, "push failed: " + pushed.error_message());
        co_return;
    }
    delivered(export_kind::haproxy_api, true);
    log_->info("{}: pushed to HAProxy at {}", t->cert.name, config_.haproxy_stats_socket);
}

asio::awaitable<void> stapler_daemon::sync_exports_of(std::vector<tracked_ptr> certs) {
    auto remaining = std::make_shared<std::size_t>(certs.size());
    auto done = std::make_shared<asio::steady_timer>(io_, asio::steady_timer::time_point::max());
    for (auto& t : certs) {
        asio::co_spawn(
            io_,
            [this, t, remaining, done]() -> asio::awaitable<void> {
                auto op = sync_exports(t);
                co_await std::move(op);
                if (--*remaining == 0) done->cancel();
            },
            log_exceptions(log_, t->cert.name + ": exports"));
    }
    if (*remaining > 0) co_await done->async_wait(use_tuple);
}

asio::awaitable<void> stapler_daemon::reload_runner() {
    reload_running_ = true;
    while (!stopping_) {
        const auto due = debouncer_.due();
        if (!due) break;
        reload_timer_->expires_at(*due);
        co_await reload_timer_->async_wait(use_tuple);
        if (stopping_) break;
        const auto n = std::chrono::steady_clock::now();
        if (!debouncer_.should_run(n)) continue;
        debouncer_.ran(n);
        auto op = run_command(config_.nginx_reload_command, 30s);
        auto ran = co_await std::move(op);
        if (!ran)
            log_->error("nginx reload_command could not start: {}", ran.error_message());
        else if (!ran->success())
            log_->error("nginx reload_command failed ({})",
                        ran->timed_out ? "timed out" : ran->exited ? fmt::format("exit {}", ran->exit_code)
                                                                   : fmt::format("signal {}", ran->signal));
        else
            log_->info("nginx reload_command ran");
    }
    reload_running_ = false;
}

}  // namespace ocspkit::stapler::daemon
