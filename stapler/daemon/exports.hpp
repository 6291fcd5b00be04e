#pragma once
// Side effects of publishing a staple outside the daemon's own state: files for nginx/HAProxy, HAProxy's
// runtime API, and the nginx reload command. Expected failures are values; nothing here throws for I/O.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <sys/types.h>

#include "common/result.hpp"

namespace ocspkit::stapler::daemon {

// Success without a value.
using status = result<std::monostate>;
inline status success() { return status{std::monostate{}}; }

// Readers see either the old or the new content, never a torn file, and the new content survives a
// crash once this returned: write "<path>.tmp.<pid>" with `mode`, fsync it, rename() over `path`, fsync
// the directory (rename is atomic within one file system, and the directory entry is durable only
// after the directory's fsync). The temporary file is removed on failure.
status write_file_atomically(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                             mode_t mode = 0644);

// --- HAProxy runtime API (management guide "set ssl ocsp-response") ---

// "unix:/path", "/path" (anything with a '/') -> unix stream socket; "host:port" or "[v6]:port" -> TCP.
struct haproxy_endpoint {
    std::string unix_path{};  // non-empty for a unix socket
    std::string host{};       // otherwise host and port
    std::uint16_t port = 0;
};
result<haproxy_endpoint> parse_haproxy_endpoint(std::string_view text);

// The text HAProxy answers on success ("OCSP Response updated!" since 1.5, unchanged in 2.6+).
inline constexpr std::string_view haproxy_ocsp_updated = "OCSP Response updated";

// Sends "set ssl ocsp-response <base64(der)>\n" to `endpoint`, reads the reply until HAProxy closes
// (non-interactive CLI) or `timeout` passes (total: connect + write + read), and succeeds iff the reply
// contains haproxy_ocsp_updated. The error carries HAProxy's reply (trimmed) or the socket error.
// Runs on the awaiting coroutine's executor; never blocks the thread.
boost::asio::awaitable<status> push_haproxy_ocsp(haproxy_endpoint endpoint, std::vector<std::uint8_t> der,
                                                 std::chrono::milliseconds timeout = std::chrono::seconds{5});

// --- nginx reload_command ---

struct command_status {
    bool exited = false;  // false: killed by a signal (including our SIGKILL at the timeout)
    int exit_code = -1;   // when exited
    int signal = 0;       // when !exited
    bool timed_out = false;
    bool success() const noexcept { return exited && exit_code == 0 && !timed_out; }
};

// Runs argv[0] (searched in PATH) with argv, no shell, stdin from /dev/null, stdout/stderr inherited,
// default signal dispositions and an empty signal mask in the child. Waits without blocking the thread
// (polls waitpid(WNOHANG) on a timer), kills with SIGKILL and reaps at `timeout`. An error only when
// the command could not be started (empty argv, not found, spawn failure). Cancelling the awaiting
// coroutine kills and reaps the child too. Requires SIGCHLD not to be SIG_IGN (the child must stay
// reapable).
boost::asio::awaitable<result<command_status>> run_command(std::vector<std::string> argv,
                                                           std::chrono::milliseconds timeout);

// When to run the nginx reload: at most once per `min_interval`, coalescing every request made while
// one is pending. Pure: time is injected (house rule 9).
class reload_debouncer {
public:
    using clock = std::chrono::steady_clock;
    explicit reload_debouncer(clock::duration min_interval = std::chrono::seconds{1}) : min_interval_(min_interval) {}

    // A file nginx reads changed at `now`.
    void request(clock::time_point now);
    // When the pending reload should run; nullopt when none is pending.
    std::optional<clock::time_point> due() const;
    // True when a reload is pending and due at `now`.
    bool should_run(clock::time_point now) const;
    // The reload was started at `now`; clears the pending request.
    void ran(clock::time_point now);
    bool pending() const noexcept { return pending_; }

private:
    clock::duration min_interval_;
    bool pending_ = false;
    clock::time_point requested_{};
    std::optional<clock::time_point> last_run_;
};

}  // namespace ocspkit::stapler::daemon
