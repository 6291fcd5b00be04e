#pragma once
// Running an external command (the nginx reload_command) without a shell, bounded by a timeout, without
// blocking the daemon's I/O thread.
#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/result.hpp"

namespace ocspkit::stapler::daemon {

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

}  // namespace ocspkit::stapler::daemon
