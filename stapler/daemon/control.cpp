#include "stapler/daemon/control.hpp"

#include <array>
#include <cerrno>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/asn1_time.hpp"
#include "stapler/daemon/daemon_tracked.hpp"

namespace ocspkit::stapler::daemon {
namespace json = boost::json;
namespace fs = std::filesystem;
using local = asio::local::stream_protocol;
using namespace std::chrono_literals;

namespace {
json::value time_value(const std::optional<sys_seconds>& t) {
    if (!t) return nullptr;
    return json::value(to_iso8601(*t));
}

json::value text_or_null(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); }

// CRLReason (RFC 5280 §5.3.1) in its ASN.1 spelling, the form every ocspkit tool prints.
json::value reason_value(const std::optional<int>& reason) {
    if (!reason) return nullptr;
    return json::value(crl_reason_name(*reason));
}
}  // namespace

std::string status_json(const status_snapshot& s, const std::vector<proxy_status_row>& proxy) {
    json::array certs;
    for (const auto& r : s.certificates) {
        json::array exports;
        for (const auto& x : r.exports) {
            exports.push_back(json::object{{"kind", to_string(x.kind)},
                                           {"target", x.target},
                                           {"state", x.state},
                                           {"last_error", text_or_null(x.last_error)},
                                           {"written_at", time_value(x.written_at)},
                                           {"failures", x.failures}});
        }
        certs.push_back(json::object{{"name", r.name},
                                     {"chain", r.chain},
                                     {"serial", text_or_null(r.serial)},
                                     {"status", r.status},
                                     {"action", r.action},
                                     {"policy", r.policy},
                                     {"must_staple", r.must_staple},
                                     {"this_update", time_value(r.this_update)},
                                     {"next_update", time_value(r.next_update)},
                                     {"produced_at", time_value(r.produced_at)},
                                     {"revocation_time", time_value(r.revocation_time)},
                                     {"revocation_reason", reason_value(r.revocation_reason)},
                                     {"last_fetch", time_value(r.last_fetch)},
                                     {"next_refresh", time_value(r.next_refresh)},
                                     {"fetch_failures", r.fetch_failures},
                                     {"last_error", text_or_null(r.last_error)},
                                     {"exports", std::move(exports)}});
    }
    json::array entries;
    for (const auto& p : proxy) {
        json::array serials;
        for (const auto& n : p.serials) serials.push_back(json::value(n));
        entries.push_back(json::object{{"name", p.name},
                                       {"issuer", p.issuer},
                                       {"serials", std::move(serials)},
                                       {"status", p.status},
                                       {"this_update", time_value(p.this_update)},
                                       {"next_update", time_value(p.next_update)},
                                       {"last_fetch", time_value(p.last_fetch)},
                                       {"next_refresh", time_value(p.next_refresh)},
                                       {"fetch_failures", p.fetch_failures},
                                       {"last_error", text_or_null(p.last_error)}});
    }
    return json::serialize(
        json::object{{"ready", s.ready}, {"certificates", std::move(certs)}, {"proxy", std::move(entries)}});
}

std::string refresh_json(bool ready, const std::vector<fetch_report>& reports) {
    json::array results;
    for (const auto& r : reports) {
        results.push_back(json::object{{"name", r.name},
                                       {"ok", r.ok},
                                       {"status", r.ok ? json::value(r.status) : json::value(nullptr)},
                                       {"reason", r.ok ? json::value(nullptr) : json::value(r.reason)},
                                       {"not_published", r.not_published},
                                       {"detail", r.detail}});
    }
    return json::serialize(json::object{{"ready", ready}, {"results", std::move(results)}});
}

std::string error_json(std::string_view message) { return json::serialize(json::object{{"error", message}}); }

control_server::control_server(asio::io_context& io, stapler_daemon& daemon, fs::path path,
                               std::shared_ptr<spdlog::logger> log)
    : io_(io), daemon_(daemon), path_(std::move(path)), log_(std::move(log)), acceptor_(io) {}

control_server::~control_server() { close(); }

void control_server::open() {
    std::error_code ec;
    fs::create_directories(path_.parent_path(), ec);
    // A socket file left by a previous run is replaced; anything else at that path is an error.
    if (fs::is_socket(path_, ec)) fs::remove(path_, ec);
    boost::system::error_code bec;
    acceptor_.open(local(), bec);
    if (!bec) acceptor_.bind(local::endpoint(path_.string()), bec);
    if (!bec) acceptor_.listen(16, bec);
    if (bec) throw std::runtime_error(fmt::format("control_socket {}: {}", path_.string(), bec.message()));
    if (::chmod(path_.c_str(), 0660) != 0)
        throw std::runtime_error(fmt::format("control_socket {}: chmod: {}", path_.string(), std::strerror(errno)));
    open_ = true;
}

void control_server::start() { asio::co_spawn(io_, accept_loop(), log_exceptions(log_, "control socket")); }

void control_server::close() {
    if (!open_) return;
    open_ = false;
    boost::system::error_code ec;
    acceptor_.close(ec);
    std::error_code fec;
    fs::remove(path_, fec);
}

asio::awaitable<void> control_server::accept_loop() {
    while (open_) {
        auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec) {
            if (!open_ || ec == asio::error::operation_aborted) co_return;
            log_->warn("control socket: accept: {}", ec.message());
            continue;
        }
        asio::co_spawn(io_, session(std::move(socket)), log_exceptions(log_, "control session"));
    }
}

asio::awaitable<void> control_server::session(local::socket socket) {
    // One line within 10 s, at most 1 KiB: a stuck or hostile client cannot hold a session.
    asio::steady_timer deadline(io_);
    deadline.expires_after(10s);
    deadline.async_wait([&socket](boost::system::error_code ec) {
        if (!ec) socket.close();
    });
    asio::streambuf buffer(1024);
    auto [ec, n] = co_await asio::async_read_until(socket, buffer, '\n', asio::as_tuple(asio::use_awaitable));
    deadline.cancel();
    // A client that closes its side after the command without a newline still gets its answer.
    if (ec && ec != asio::error::eof) co_return;
    if (ec) n = buffer.size();
    if (n == 0) co_return;
    std::string line(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + static_cast<std::ptrdiff_t>(n));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();

    std::string reply;
    if (line == "status") {
        reply = status_json(daemon_.status(), proxy_ ? proxy_->status() : std::vector<proxy_status_row>{});
    } else if (line == "refresh" || line.starts_with("refresh ")) {
        std::optional<std::string> name;
        if (line.size() > 8) name = line.substr(8);
        log_->info("control: {}", line);
        auto op = daemon_.refresh(name);
        auto reports = co_await std::move(op);
        if (reports && !name && proxy_) {
            // `refresh` without a name re-fetches the proxy's entries as well.
            auto proxy_op = proxy_->refresh_all();
            auto proxy_reports = co_await std::move(proxy_op);
            reports->insert(reports->end(), proxy_reports.begin(), proxy_reports.end());
        }
        reply = reports ? refresh_json(daemon_.ready(), *reports)
                        : error_json(fmt::format("no certificate named '{}'", name.value_or("")));
    } else {
        reply = error_json("unknown command: expected \"status\", \"refresh\" or \"refresh NAME\"");
    }
    reply += '\n';
    deadline.expires_after(10s);
    deadline.async_wait([&socket](boost::system::error_code wec) {
        if (!wec) socket.close();
    });
    co_await asio::async_write(socket, asio::buffer(reply), asio::as_tuple(asio::use_awaitable));
    deadline.cancel();
    boost::system::error_code ignored;
    socket.shutdown(local::socket::shutdown_both, ignored);
}

namespace {

// The whole reply to one request line; nullopt (with `why`) when the daemon cannot be reached.
std::optional<std::string> ask(const fs::path& path, const std::string& line, int timeout_seconds, std::string& why) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.string().size() >= sizeof(addr.sun_path)) {
        why = "socket path too long";
        return std::nullopt;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.string().size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        why = std::strerror(errno);
        return std::nullopt;
    }
    struct fd_guard {
        int fd;
        ~fd_guard() { ::close(fd); }
    } guard{fd};
    timeval tv{timeout_seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        why = std::strerror(errno);
        return std::nullopt;
    }
    const std::string request = line + "\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        why = std::strerror(errno);
        return std::nullopt;
    }
    std::string reply;
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            why = errno == EAGAIN ? std::string("no answer in time") : std::strerror(errno);
            return std::nullopt;
        }
        reply.append(buf, static_cast<std::size_t>(n));
    }
    return reply;
}

std::string text_of(const json::value& v) {
    if (v.is_string()) return std::string(v.as_string());
    if (v.is_null()) return "-";
    return json::serialize(v);
}

std::optional<json::object> parse_reply(const std::string& reply, std::ostream& err) {
    boost::system::error_code ec;
    auto v = json::parse(reply, ec);
    if (ec || !v.is_object()) {
        err << "ocsp-stapler: unreadable answer from the daemon: " << reply << "\n";
        return std::nullopt;
    }
    return v.as_object();
}

}  // namespace

int status_command(const fs::path& socket, bool as_json, std::ostream& out, std::ostream& err) {
    std::string why;
    auto reply = ask(socket, "status", 10, why);
    if (!reply) {
        err << "ocsp-stapler: cannot reach the daemon at " << socket.string() << ": " << why << "\n";
        return 1;
    }
    auto obj = parse_reply(*reply, err);
    if (!obj) return 1;
    const bool ready = obj->contains("ready") && obj->at("ready").is_bool() && obj->at("ready").as_bool();
    if (as_json) {
        out << json::serialize(*obj) << "\n";
    } else {
        out << fmt::format("{:<20} {:<8} {:<13} {:<20} {:<20} {:<20} {}\n", "NAME", "STATUS", "ACTION", "THIS_UPDATE",
                           "NEXT_UPDATE", "NEXT_REFRESH", "LAST_ERROR");
        if (obj->contains("certificates") && obj->at("certificates").is_array()) {
            for (const auto& c : obj->at("certificates").as_array()) {
                if (!c.is_object()) continue;
                const auto& o = c.as_object();
                auto f = [&o](const char* k) { return o.contains(k) ? text_of(o.at(k)) : std::string("-"); };
                out << fmt::format("{:<20} {:<8} {:<13} {:<20} {:<20} {:<20} {}\n", f("name"), f("status"), f("action"),
                                   f("this_update"), f("next_update"), f("next_refresh"), f("last_error"));
            }
        }
        if (obj->contains("proxy") && obj->at("proxy").is_array() && !obj->at("proxy").as_array().empty()) {
            out << fmt::format("\n{:<40} {:<8} {:<20} {:<20} {:<20} {}\n", "PROXY ENTRY", "STATUS", "THIS_UPDATE",
                               "NEXT_UPDATE", "NEXT_REFRESH", "LAST_ERROR");
            for (const auto& c : obj->at("proxy").as_array()) {
                if (!c.is_object()) continue;
                const auto& o = c.as_object();
                auto f = [&o](const char* k) { return o.contains(k) ? text_of(o.at(k)) : std::string("-"); };
                out << fmt::format("{:<40} {:<8} {:<20} {:<20} {:<20} {}\n", f("name"), f("status"), f("this_update"),
                                   f("next_update"), f("next_refresh"), f("last_error"));
            }
        }
        if (!ready) out << "(not ready yet: start-up fetches are still running)\n";
    }
    return ready ? 0 : 3;
}

int refresh_command(const fs::path& socket, const std::optional<std::string>& name, std::ostream& out,
                    std::ostream& err) {
    std::string why;
    // Fetches have their own timeouts; this only guards against a daemon that never answers.
    auto reply = ask(socket, name ? "refresh " + *name : "refresh", 900, why);
    if (!reply) {
        err << "ocsp-stapler: cannot reach the daemon at " << socket.string() << ": " << why << "\n";
        return 1;
    }
    auto obj = parse_reply(*reply, err);
    if (!obj) return 1;
    if (obj->contains("error")) {
        err << "ocsp-stapler: " << text_of(obj->at("error")) << "\n";
        return 4;
    }
    bool all_ok = true;
    if (obj->contains("results") && obj->at("results").is_array()) {
        for (const auto& r : obj->at("results").as_array()) {
            if (!r.is_object()) continue;
            const auto& o = r.as_object();
            auto f = [&o](const char* k) { return o.contains(k) ? text_of(o.at(k)) : std::string("-"); };
            const auto flag = [&o](const char* k) { return o.contains(k) && o.at(k).is_bool() && o.at(k).as_bool(); };
            const bool ok = flag("ok");
            all_ok = all_ok && ok;
            const std::string detail = f("detail") != "-" && !f("detail").empty() ? " (" + f("detail") + ")" : "";
            if (ok)
                out << f("name") << ": ok " << f("status") << "\n";
            else if (flag("not_published"))  // a valid answer, refused: what is stapled did not change
                out << f("name") << ": " << f("reason") << ": not published" << detail << "\n";
            else
                out << f("name") << ": failed " << f("reason") << detail << "\n";
        }
    }
    return all_ok ? 0 : 4;
}

}  // namespace ocspkit::stapler::daemon
