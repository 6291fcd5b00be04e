// ocsp-stapler: fetches, validates, persists and publishes OCSP staples (docs/stapler.md, "Daemon";
// docs/man/ocsp-stapler.8).
//   ocsp-stapler --config FILE [--check-config] [--ready-file PATH]     run (or only check the config)
//   ocsp-stapler status --config FILE [--json]                          ask the running daemon
//   ocsp-stapler refresh --config FILE [NAME]                           fetch now and report
//   ocsp-stapler --version
// Exit codes: 0 ok, 1 runtime failure / daemon unreachable, 2 bad usage or configuration,
// 3 status: not ready yet, 4 refresh: a fetch failed.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#ifdef OCSPKIT_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "common/log_format.hpp"
#include "common/version.hpp"
#include "stapler/daemon/config.hpp"
#include "stapler/daemon/control.hpp"
#include "stapler/daemon/daemon.hpp"
#include "stapler/daemon/daemon_tracked.hpp"
#include "stapler/daemon/metrics_http.hpp"
#include "stapler/daemon/proxy_service.hpp"

namespace asio = boost::asio;
using namespace ocspkit;
using namespace ocspkit::stapler::daemon;

namespace {

constexpr int exit_runtime = 1;
constexpr int exit_config = 2;

std::shared_ptr<spdlog::logger> make_logger(const stapler_config& config) {
    auto log = std::make_shared<spdlog::logger>("stapler", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    apply_log_format(*log, config.log_format);
    log->set_level(spdlog::level::from_str(config.log_level));
    spdlog::register_logger(log);
    return log;
}

void notify(const char* state) {
#ifdef OCSPKIT_HAVE_SYSTEMD
    sd_notify(0, state);  // a no-op without NOTIFY_SOCKET
#else
    (void)state;
#endif
}

bool write_ready_file(const std::string& path) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << "ready\n";
        if (!out) return false;
    }
    return std::rename(tmp.c_str(), path.c_str()) == 0;
}

int run(const std::string& config_file, bool check_only, const std::string& ready_file) {
    stapler_config config;
    inventory inv;
    std::vector<proxy_issuer> proxy_issuers;
    try {
        config = load_config(config_file);
        inv = build_inventory(config);
        if (config.proxy) proxy_issuers = build_proxy_issuers(*config.proxy, config.source);
        // As the user that runs this: `sudo -u ocsp-stapler ocsp-stapler --check-config` checks for the
        // service, and the daemon checks again at start-up.
        check_export_folders(config, inv);
    } catch (const std::exception& e) {
        // Every line: several export folders can be wrong at once.
        std::istringstream lines(e.what());
        for (std::string line; std::getline(lines, line);) std::cerr << "ocsp-stapler: " << line << "\n";
        return exit_config;
    }
    if (check_only) {
        for (const auto& s : inv.skipped) std::cout << "warning: " << s << "\n";
        for (const auto& c : inv.certificates)
            std::cout << "certificate " << c.name << ": " << c.chain.string() << " -> " << c.responder_url
                      << (c.must_staple ? " (Must-Staple: hard)" : "") << "\n";
        for (const auto& i : proxy_issuers) std::cout << "proxy issuer " << i.name << " -> " << i.responder_url << "\n";
        std::cout << config_file << ": OK\n";
        return 0;
    }
    auto log = make_logger(config);
    log->info("ocsp-stapler {} starting", ocspkit::version_text);
    if (config.deprecated_log_level)
        log->warn("{}: [stapler] log_level is deprecated; write it as [log] level", config.source.string());
    system_clock_source clock;
    try {
        asio::io_context io(1);
        stapler_daemon daemon(io, config, std::move(inv), clock, log);
        daemon.open();
        control_server control(io, daemon, config.control_socket, log);
        control.open();
        // The client-certificate proxy runs on its own thread beside the daemon (proxy_service.hpp).
        std::unique_ptr<proxy_service> proxy;
        if (config.proxy) {
            proxy = std::make_unique<proxy_service>(*config.proxy, std::move(proxy_issuers), config.state_dir,
                                                    schedule_params{config.min_refresh_interval, config.retry_initial,
                                                                    config.retry_max, config.jitter},
                                                    config.max_skew, clock, log);
            proxy->start();
            control.attach_proxy(proxy.get());
        }
        std::optional<metrics_server> metrics;
        if (!config.metrics_listen.empty()) {
            metrics.emplace(
                io, [&daemon, &proxy] { return daemon.render_metrics() + (proxy ? proxy->render_metrics() : ""); },
                [&daemon] {
                    auto h = daemon.health();
                    return std::pair<bool, std::string>{h.ok, std::move(h.reason)};
                },
                log);
            metrics->listen(config.metrics_listen);
            metrics->start();
        }
        control.start();

        asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
        std::function<void()> wait_signal = [&] {
            signals.async_wait([&](const boost::system::error_code& ec, int signo) {
                if (ec) return;
                if (signo == SIGHUP) {
                    log->info("SIGHUP: reloading {}", config.source.string());
                    asio::co_spawn(io, daemon.reload(), log_exceptions(log, "reload"));
                    wait_signal();
                    return;
                }
                log->info("signal {}: stopping", signo);
                notify("STOPPING=1");
                daemon.stop();
                if (proxy) proxy->stop();
                control.close();
                if (metrics) metrics->close();
                io.stop();  // in-flight fetches are abandoned; every file write is atomic
            });
        };
        wait_signal();

        asio::co_spawn(io, daemon.start([&] {
            if (!ready_file.empty() && !write_ready_file(ready_file))
                log->error("cannot write the ready file {}", ready_file);
            notify("READY=1");
        }), log_exceptions(log, "start-up"));
        io.run();
        log->info("stopped");
        return 0;
    } catch (const std::exception& e) {
        log->critical("{}", e.what());
        return exit_runtime;
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    CLI::App app{"ocsp-stapler: fetches, validates and publishes OCSP staples for TLS servers"};
    app.fallthrough();
    std::string config_file;
    std::string ready_file;
    bool check_only = false;
    app.set_version_flag("--version", "ocsp-stapler " + std::string(ocspkit::version_text),
                         "print the version and exit");
    app.add_option("-c,--config", config_file, "configuration file (TOML)");
    app.add_flag("--check-config", check_only, "validate the configuration and the certificates, then exit (0 or 2)");
    app.add_option("--ready-file", ready_file, "write \"ready\\n\" to this file once the start-up fetches are done");
    auto* status = app.add_subcommand("status", "show the running daemon's certificates (exit 3: not ready yet)");
    bool json = false;
    status->add_flag("--json", json, "one JSON object instead of the table");
    auto* refresh = app.add_subcommand("refresh", "fetch now, wait for the result (exit 4: a fetch failed)");
    std::string name;
    refresh->add_option("name", name, "only this certificate");
    app.require_subcommand(0, 1);
    try {
        app.parse(argc, argv);
        if (config_file.empty()) throw CLI::RequiredError("--config");
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : exit_config;
    }

    if (status->parsed() || refresh->parsed()) {
        stapler_config config;
        try {
            config = load_config(config_file);
        } catch (const std::exception& e) {
            std::cerr << "ocsp-stapler: " << e.what() << "\n";
            return exit_config;
        }
        if (status->parsed()) return status_command(config.control_socket, json, std::cout, std::cerr);
        return refresh_command(config.control_socket, name.empty() ? std::nullopt : std::optional<std::string>(name),
                               std::cout, std::cerr);
    }
    return run(config_file, check_only, ready_file);
}
