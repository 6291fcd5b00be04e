#pragma once
// The control socket (a unix stream socket, mode 0660) and its clients, `ocsp-stapler status` and
// `ocsp-stapler refresh`. Line protocol: the client sends one line, "status", "refresh" or
// "refresh NAME"; the daemon answers with one JSON object and closes.
//
//   status        {"ready": true, "certificates": [{"name", "chain", "serial", "status", "action", "policy",
//                  "must_staple", "this_update", "next_update", "produced_at", "revocation_time",
//                  "revocation_reason", "last_fetch", "next_refresh", "fetch_failures", "last_error",
//                  "exports": [{"kind", "target", "state", "last_error", "written_at", "failures"}]}]}
//   refresh [N]   {"ready": true, "results": [{"name", "ok", "status", "reason", "detail"}]}
//   anything else {"error": "..."}
// The shared JSON conventions (docs/stapler.md, "status --json"): snake_case keys, times as ISO 8601 UTC
// strings ("2026-01-01T00:00:00Z") or null, serials as uppercase hex without colons, reasons in their
// RFC 5280 ASN.1 spelling ("keyCompromise"), null for what is absent.
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <spdlog/logger.h>

#include "stapler/daemon/daemon.hpp"
#include "stapler/daemon/proxy_service.hpp"

namespace ocspkit::stapler::daemon {

// `proxy`: the OCSP proxy's entries, listed under "proxy" (an empty array without a [proxy]).
std::string status_json(const status_snapshot& s, const std::vector<proxy_status_row>& proxy = {});
std::string refresh_json(bool ready, const std::vector<fetch_report>& reports);
std::string error_json(std::string_view message);

class control_server {
public:
    control_server(asio::io_context& io, stapler_daemon& daemon, std::filesystem::path path,
                   std::shared_ptr<spdlog::logger> log);
    ~control_server();
    // Binds (replacing a stale socket file) and sets mode 0660. Throws std::runtime_error.
    void open();
    void start();
    // Stops accepting and removes the socket file.
    void close();
    // The OCSP proxy (if configured): `status` lists its entries, `refresh` without a name refreshes
    // them too. Set before start().
    void attach_proxy(proxy_service* proxy) noexcept { proxy_ = proxy; }

private:
    asio::awaitable<void> accept_loop();
    asio::awaitable<void> session(asio::local::stream_protocol::socket socket);

    asio::io_context& io_;
    stapler_daemon& daemon_;
    std::filesystem::path path_;
    std::shared_ptr<spdlog::logger> log_;
    asio::local::stream_protocol::acceptor acceptor_;
    bool open_ = false;
    proxy_service* proxy_ = nullptr;
};

// Clients. Exit codes as docs/stapler.md states them:
//   status:  0 answered and ready, 3 answered but not ready, 1 unreachable
//   refresh: 0 every fetch (and its exports) succeeded, 4 one failed (or no such certificate), 1 unreachable
int status_command(const std::filesystem::path& socket, bool json, std::ostream& out, std::ostream& err);
int refresh_command(const std::filesystem::path& socket, const std::optional<std::string>& name, std::ostream& out,
                    std::ostream& err);

}  // namespace ocspkit::stapler::daemon
