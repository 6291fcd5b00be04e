#include "stapler/daemon/exports.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stapler/daemon/ocsp_request_builder.hpp"

extern char** environ;

namespace ocspkit::stapler::daemon {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

error errno_error(std::string_view what, const std::filesystem::path& path, int err) {
    return error{std::string(what) + " " + path.string() + ": " + std::strerror(err)};
}

// Closes on scope exit; the fd is -1 once released or closed explicitly.
class fd_guard {
public:
    explicit fd_guard(int fd) noexcept : fd_(fd) {}
    ~fd_guard() { reset(); }
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    int get() const noexcept { return fd_; }
    // close() can report a deferred write error (NFS), so the success path checks it.
    int reset() noexcept {
        int rc = 0;
        if (fd_ >= 0) rc = ::close(fd_);
        fd_ = -1;
        return rc;
    }

private:
    int fd_;
};

status write_all(int fd, std::span<const std::uint8_t> bytes, const std::filesystem::path& path) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error("cannot write", path, errno);
        }
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return success();
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
}

// Connect, send, read until the peer closes; the caller bounds it with a timer.
template <class Socket, class Endpoint>
asio::awaitable<status> cli_exchange(Socket& socket, Endpoint endpoint, std::string command, std::string where) {
    if (auto [ec] = co_await socket.async_connect(endpoint, use_tuple); ec) {
        co_return error{"cannot connect to HAProxy at " + where + ": " + ec.message()};
    }
    if (auto [ec, n] = co_await asio::async_write(socket, asio::buffer(command), use_tuple); ec) {
        co_return error{"cannot send to HAProxy at " + where + ": " + ec.message()};
    }
    // Without "prompt" HAProxy answers one command and closes, so EOF ends the reply. The cap only
    // guards against a peer that is not HAProxy.
    std::string reply;
    std::array<char, 1024> chunk{};
    for (;;) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), use_tuple);
        reply.append(chunk.data(), n);
        if (ec == asio::error::eof) break;
        if (ec) co_return error{"cannot read HAProxy's reply from " + where + ": " + ec.message()};
        if (reply.size() > 64 * 1024) break;
    }
    if (reply.find(haproxy_ocsp_updated) == std::string::npos) {
        co_return error{"HAProxy at " + where + " refused the OCSP response: '" + trimmed(reply) + "'"};
    }
    co_return success();
}

template <class Socket, class Endpoint>
asio::awaitable<status> bounded_exchange(Endpoint endpoint, std::string command, std::string where,
                                         std::chrono::milliseconds timeout) {
    using namespace asio::experimental::awaitable_operators;
    auto ex = co_await asio::this_coro::executor;
    Socket socket(ex);
    asio::steady_timer timer(ex, timeout);
    // Whichever finishes first cancels the other; socket operations honour that per-operation cancellation.
    // Operands are named first: GCC 12 mishandles temporaries inside a co_await full-expression.
    auto exchange = cli_exchange(socket, std::move(endpoint), std::move(command), where);
    auto expiry = timer.async_wait(asio::use_awaitable);
    auto race = std::move(exchange) || std::move(expiry);
    auto outcome = co_await std::move(race);
    if (outcome.index() == 1) co_return error{"HAProxy at " + where + " did not answer within the timeout"};
    co_return std::get<0>(std::move(outcome));
}

}  // namespace

status write_file_atomically(const std::filesystem::path& path, std::span<const std::uint8_t> bytes, mode_t mode) {
    // The pid keeps two processes (an old and a new daemon during a restart) from sharing a temporary.
    std::filesystem::path tmp = path;
    tmp += ".tmp." + std::to_string(::getpid());
    fd_guard fd{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)};
    if (fd.get() < 0) return errno_error("cannot create", tmp, errno);
    auto fail = [&](error e) {
        fd.reset();
        ::unlink(tmp.c_str());
        return status{std::move(e)};
    };
    // open() applied the umask; readers such as nginx workers need exactly `mode`.
    if (::fchmod(fd.get(), mode) != 0) return fail(errno_error("cannot chmod", tmp, errno));
    if (auto w = write_all(fd.get(), bytes, tmp); !w) return fail(error{w.error_message()});
    if (::fsync(fd.get()) != 0) return fail(errno_error("cannot fsync", tmp, errno));
    if (fd.reset() != 0) return fail(errno_error("cannot close", tmp, errno));
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno_error("cannot rename onto", path, errno));

    std::filesystem::path dir = path.parent_path();
    if (dir.empty()) dir = ".";
    fd_guard dfd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (dfd.get() < 0) return errno_error("cannot open directory", dir, errno);
    if (::fsync(dfd.get()) != 0) return errno_error("cannot fsync directory", dir, errno);
    return success();
}

result<haproxy_endpoint> parse_haproxy_endpoint(std::string_view text) {
    haproxy_endpoint out;
    if (text.starts_with("unix:")) text.remove_prefix(5);
    if (text.empty()) return error{"empty HAProxy runtime API address"};
    if (text.find('/') != std::string_view::npos) {
        out.unix_path = std::string(text);
        return out;
    }
    std::string_view port_text;
    if (text.front() == '[') {
        const auto close = text.find("]:");
        if (close == std::string_view::npos) return error{"expected [IPv6]:port, got '" + std::string(text) + "'"};
        out.host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos || colon == 0) {
            return error{"expected a unix socket path or host:port, got '" + std::string(text) + "'"};
        }
        out.host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
    }
    unsigned port = 0;
    const auto* end = port_text.data() + port_text.size();
    const auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
    if (port_text.empty() || ec != std::errc{} || ptr != end || port == 0 || port > 65535) {
        return error{"bad port in HAProxy runtime API address '" + std::string(text) + "'"};
    }
    out.port = static_cast<std::uint16_t>(port);
    return out;
}

asio::awaitable<status> push_haproxy_ocsp(haproxy_endpoint endpoint, std::vector<std::uint8_t> der,
                                          std::chrono::milliseconds timeout) {
    // One line, base64 of the DER OCSPResponse (management guide, "set ssl ocsp-response <response>").
    std::string command = "set ssl ocsp-response " + base64_encode(der) + "\n";
    if (!endpoint.unix_path.empty()) {
        auto op = bounded_exchange<unix_stream::socket>(unix_stream::endpoint(endpoint.unix_path), std::move(command),
                                                        endpoint.unix_path, timeout);
        co_return co_await std::move(op);
    }
    const std::string where = endpoint.host + ":" + std::to_string(endpoint.port);
    boost::system::error_code ec;
    auto address = asio::ip::make_address(endpoint.host, ec);
    if (ec) {
        // A host name: resolve it first. getaddrinfo cannot be interrupted, so this part is bounded by
        // the system resolver's own timeouts; the runtime API is normally a literal or "localhost".
        auto ex = co_await asio::this_coro::executor;
        tcp::resolver resolver(ex);
        const std::string service = std::to_string(endpoint.port);
        auto [rec, results] = co_await resolver.async_resolve(endpoint.host, service, use_tuple);
        if (rec || results.empty()) {
            co_return error{"cannot resolve HAProxy at " + where + ": " + (rec ? rec.message() : "no address")};
        }
        address = results.begin()->endpoint().address();
    }
    auto op = bounded_exchange<tcp::socket>(tcp::endpoint(address, endpoint.port), std::move(command), where, timeout);
    co_return co_await std::move(op);
}

asio::awaitable<result<command_status>> run_command(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
    if (argv.empty() || argv.front().empty()) co_return error{"empty command"};
    // posix_spawnp reports a missing program only where the C library waits for the child's exec (glibc
    // does, emulators such as valgrind do not); a path is checked here so the error never depends on that.
    if (argv.front().find('/') != std::string::npos && ::access(argv.front().c_str(), X_OK) != 0) {
        co_return error{"cannot run '" + argv.front() + "': " + std::strerror(errno)};
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
    if (rc != 0) co_return error{"cannot run '" + argv.front() + "': " + std::strerror(rc)};

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
        if (r < 0 && errno != EINTR) co_return error{"cannot wait for '" + argv.front() + "': " + std::strerror(errno)};
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

void reload_debouncer::request(clock::time_point now) {
    if (pending_) return;  // coalesced into the reload already pending
    pending_ = true;
    requested_ = now;
}

std::optional<reload_debouncer::clock::time_point> reload_debouncer::due() const {
    if (!pending_) return std::nullopt;
    if (last_run_) return std::max(requested_, *last_run_ + min_interval_);
    return requested_;
}

bool reload_debouncer::should_run(clock::time_point now) const {
    const auto when = due();
    return when && now >= *when;
}

void reload_debouncer::ran(clock::time_point now) {
    pending_ = false;
    last_run_ = now;
}

}  // namespace ocspkit::stapler::daemon
