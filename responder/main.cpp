// ocsp-responder: loads the configuration, wires the service and the HTTP server, runs until SIGTERM.
//   ocsp-responder --config FILE [--check-config] [--ready-file PATH]
//   ocsp-responder --version
// Exit codes: 0 ok (and after a SIGTERM drain), 1 configuration, key, index or listen failure, or a
// runtime failure, 2 bad command line. docs/man/ocsp-responder.8 says the same.
#include <csignal>
#include <ctime>
#include <fstream>
#include <iostream>
#include <string_view>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#ifdef OCSPKIT_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "common/version.hpp"
#include "keys/pkcs11_helper.hpp"
#include "responder/config.hpp"
#include "responder/index_file.hpp"
#include "responder/http_server.hpp"
#include "responder/service.hpp"

namespace asio = boost::asio;
using namespace ocspkit;
using namespace ocspkit::responder;

namespace {

constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

void setup_logging(const log_config& log) {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto main_logger = std::make_shared<spdlog::logger>("responder", sink);
    main_logger->set_level(spdlog::level::from_str(log.level));
    apply_log_format(*main_logger, log.format);
    spdlog::register_logger(main_logger);
    spdlog::set_default_logger(main_logger);
    // The access log is asynchronous with a bounded queue: under overload old lines are dropped
    // rather than slowing answers.
    spdlog::init_thread_pool(16384, 1);
    auto access = std::make_shared<spdlog::async_logger>("access", std::make_shared<spdlog::sinks::stdout_sink_mt>(),
                                                         spdlog::thread_pool(),
                                                         spdlog::async_overflow_policy::overrun_oldest);
    apply_log_format(*access, log.format, "%Y-%m-%dT%H:%M:%S.%eZ %v");
    spdlog::register_logger(access);
}

// systemd Type=notify (sd_notify(3)); a no-op without NOTIFY_SOCKET or without libsystemd at build time.
void notify(const std::string& state) {
#ifdef OCSPKIT_HAVE_SYSTEMD
    sd_notify(0, state.c_str());
#else
    (void)state;
#endif
}

// RELOADING=1 carries the CLOCK_MONOTONIC time the reload started (systemd 253+ checks it).
std::string monotonic_usec() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::to_string(static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                          static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL);
}

// The index must be usable by the user we run as before anything opens it: SQLite alone would say
// "unable to open database file" or, later, "attempt to write a readonly database".
void check_index(const responder_config& config) {
    if (!config.database.is_file) return;  // a server: connecting (build_issuer_profiles) says what is wrong
    if (auto problem = index_access_problem(config.database.file()); !problem.empty())
        throw config_error(fmt::format("{}: database: {}", config.source.string(), problem));
}

}  // namespace

int main(int argc, char** argv) {
    // A PKCS#11 helper this program started for a key in a token (keys/token_key.hpp): nothing else of
    // main applies to it.
    if (argc == 2 && std::string_view(argv[1]) == keys::pkcs11_helper_flag)
        return keys::run_pkcs11_helper(keys::pkcs11_helper_fd);
    CLI::App app{"ocsp-responder: an RFC 6960 / RFC 5019 OCSP responder answering from an ocspkit index"};
    std::string config_file;
    std::string ready_file;
    bool check_only = false;
    app.set_version_flag("--version", "ocsp-responder " + std::string(version_text));
    app.add_option("-c,--config", config_file, "configuration file (TOML)")->required();
    app.add_flag("--check-config", check_only, "validate the configuration, keys and index, then exit");
    app.add_option("--ready-file", ready_file,
                   "write the bound addresses (one host:port per line) to this file once listening");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);  // prints --help, --version or the usage error
        return code == 0 ? 0 : exit_usage;
    }

    responder_config config;
    try {
        config = load_config(config_file);
    } catch (const std::exception& e) {
        std::cerr << "ocsp-responder: " << e.what() << "\n";
        return exit_failure;
    }
    setup_logging(config.log);
    auto log = spdlog::get("responder");
    system_clock_source clock;

    if (check_only) {
        try {
            check_index(config);
            auto profiles = build_issuer_profiles(config, clock.now_seconds());
            for (const auto& p : profiles)
                std::cout << "issuer " << p.name << ": signer " << p.signing->description() << "\n";
            for (const auto& c : build_crl_issuers(config, profiles))
                std::cout << "issuer " << c.name << ": CRLs at /crl/" << c.name << ".crl signed with the "
                          << c.signer->description() << "\n";
            std::cout << config_file << ": OK\n";
            return 0;
        } catch (const std::exception& e) {
            std::cerr << "ocsp-responder: " << e.what() << "\n";
            return exit_failure;
        }
    }

    try {
        check_index(config);
        responder_metrics metrics;
        ocsp_service service(config, clock, metrics);
        http_server server(config.server.io_threads, service, metrics, clock);
        asio::io_context& io = server.control_context();
        server.listen();
        std::string bound;
        for (const auto& ep : server.local_endpoints()) {
            const auto host = ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
            bound += host + ":" + std::to_string(ep.port()) + "\n";
            log->info("listening on http://{}:{}{}", host, ep.port(), config.server.path);
        }
        asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
        asio::steady_timer drain_timer(io);
        std::function<void()> wait_signal;
        std::vector<std::thread> reloads;  // joined before the service goes away
        const auto drain_deadline = [&] { return std::chrono::steady_clock::now() + config.server.drain_timeout; };
        std::function<void(std::chrono::steady_clock::time_point)> drain_step = [&](auto deadline) {
            if (server.in_flight() == 0 || std::chrono::steady_clock::now() >= deadline) {
                log->info("stopped ({} requests in flight at exit)", server.in_flight());
                server.stop();
                return;
            }
            drain_timer.expires_after(std::chrono::milliseconds{10});
            drain_timer.async_wait([&, deadline](auto) { drain_step(deadline); });
        };
        wait_signal = [&] {
            signals.async_wait([&](const boost::system::error_code& ec, int signo) {
                if (ec) return;
                if (signo == SIGHUP) {
                    notify("RELOADING=1\nMONOTONIC_USEC=" + monotonic_usec() + "\nSTATUS=reloading");
                    // Reading keys is disk I/O: keep it off the network threads.
                    reloads.emplace_back([&] {
                        const status reloaded = service.reload();
                        if (reloaded) {
                            log->info("SIGHUP: configuration and keys reloaded");
                            notify("READY=1\nSTATUS=answering; configuration reloaded");
                        } else {
                            const std::string error = reloaded.error_message();
                            log->error("SIGHUP: reload failed, keeping the running configuration: {}", error);
                            // Still answering with the previous set: ready again, and the reason on display.
                            notify("READY=1\nSTATUS=answering; reload failed, kept the running configuration: " +
                                   error);
                        }
                    });
                    wait_signal();
                    return;
                }
                log->info("signal {}: draining", signo);
                notify("STOPPING=1\nSTATUS=draining");
                server.stop_accepting();
                drain_step(drain_deadline());
            });
        };
        wait_signal();
        // Only now: a SIGHUP sent by whoever waits for readiness must find its handler installed.
        if (!ready_file.empty()) {
            const std::string tmp = ready_file + ".tmp";
            std::ofstream(tmp) << bound;
            std::rename(tmp.c_str(), ready_file.c_str());
        }
        // The index is loaded and every socket bound: systemd may start what depends on us.
        notify("READY=1\nSTATUS=answering on " + std::to_string(server.local_endpoints().size()) + " address(es)");

        server.run();
        for (auto& t : reloads) t.join();
        service.stop();
        spdlog::shutdown();
        return 0;
    } catch (const std::exception& e) {
        log->critical("{}", e.what());
        spdlog::shutdown();
        return exit_failure;
    }
}
