#include "stapler/daemon/command_runner.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace ocspkit::stapler::daemon {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

asio::awaitable<result<command_status>> run_command(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
    if (argv.empty() || argv.front().empty()) co_return error{errc::config, "empty command"};
    // posix_spawnp reports a missing program only where the C library waits for the child's exec (glibc
    // does, emulators such as valgrind do not); a path is checked here so the error never depends on that.
    if (argv.front().find('/') != std::string::npos && ::access(argv.front().c_str(), X_OK) != 0) {
        co_return error{errc::io, "cannot run '" + argv.front() + "': " + std::strerror(errno)};
    }
    std::vector<char*> cargv;
    cargv.reserve(argv.size() + 1);
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    // The child must not inherit the daemon's stdin, nor its blocked signals or handlers: a reload
    // command that cannot be interrupted, or sees SIGPIPE ignored, behaves unlike the same command
    // run by hand.
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    // Asio does not open its sockets close-on-exec; the reload command gets none of them.
    posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
#endif
    sigset_t empty_mask;
    sigset_t all_signals;
    sigemptyset(&empty_mask);
    sigfillset(&all_signals);
    posix_spawnattr_setsigmask(&attr, &empty_mask);
    posix_spawnattr_setsigdefault(&attr, &all_signals);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, cargv[0], &actions, &attr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) co_return error{errc::io, "cannot run '" + argv.front() + "': " + std::strerror(rc)};

    // Poll rather than wait on SIGCHLD: the daemon's signal handling stays its own business, and a
    // reload command is rare and short. Intervals grow so that a slow command costs few wake-ups.
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex);
    const auto deadline = steady::now() + timeout;
    auto interval = 2ms;
    command_status out;
    int wstatus = 0;
    for (;;) {
        const pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR)
            co_return error{errc::io, "cannot wait for '" + argv.front() + "': " + std::strerror(errno)};
        bool stop = steady::now() >= deadline;
        if (!stop) {
            timer.expires_after(std::min<steady::duration>(interval, deadline - steady::now()));
            interval = std::min(interval * 2, std::chrono::milliseconds{50});
            auto [ec] = co_await timer.async_wait(use_tuple);
            stop = ec == asio::error::operation_aborted;  // our coroutine was cancelled: do not leave it running
        }
        if (stop) {
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
            }
            out.timed_out = steady::now() >= deadline;
            break;
        }
    }
    if (WIFEXITED(wstatus)) {
        out.exited = true;
        out.exit_code = WEXITSTATUS(wstatus);
    } else if (WIFSIGNALED(wstatus)) {
        out.signal = WTERMSIG(wstatus);
    }
    co_return out;
}

}  // namespace ocspkit::stapler::daemon
