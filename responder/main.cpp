// ocsp-responder: loads the configuration, wires the service and the HTTP server, runs until SIGTERM.
#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "responder/config.hpp"
#include "responder/http_server.hpp"
#include "responder/service.hpp"

namespace asio = boost::asio;
using namespace ocspkit;
using namespace ocspkit::responder;

namespace {

void setup_logging(const log_config& log) {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto main_logger = std::make_shared<spdlog::logger>("responder", sink);
    main_logger->set_level(spdlog::level::from_str(log.level));
    spdlog::register_logger(main_logger);
    spdlog::set_default_logger(main_logger);
    // The access log is asynchronous with a bounded queue: under overload old lines are dropped
    // rather than slowing answers.
    spdlog::init_thread_pool(16384, 1);
    auto access = std::make_shared<spdlog::async_logger>("access", std::make_shared<spdlog::sinks::stdout_sink_mt>(),
                                                         spdlog::thread_pool(),
                                                         spdlog::async_overflow_policy::overrun_oldest);
    access->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %v", spdlog::pattern_time_type::utc);
    spdlog::register_logger(access);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ [%n] %l: %v", spdlog::pattern_time_type::utc);
    access->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %v", spdlog::pattern_time_type::utc);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ocsp-responder: an RFC 6960 / RFC 5019 OCSP responder answering from an ocspkit index"};
    std::string config_file;
    std::string ready_file;
    bool check_only = false;
    app.add_option("-c,--config", config_file, "configuration file (TOML)")->required();
    app.add_flag("--check-config", check_only, "validate the configuration, keys and index, then exit");
    app.add_option("--ready-file", ready_file,
                   "write the bound addresses (one host:port per line) to this file once listening");
    CLI11_PARSE(app, argc, argv);

    responder_config config;
    try {
        config = load_config(config_file);
    } catch (const std::exception& e) {
        std::cerr << "ocsp-responder: " << e.what() << "\n";
        return 1;
    }
    setup_logging(config.log);
    auto log = spdlog::get("responder");
    system_clock_source clock;

    if (check_only) {
        try {
            auto profiles = build_issuer_profiles(config, clock.now_seconds());
            for (const auto& p : profiles)
                std::cout << "issuer " << p.name << ": signer " << p.signing->description() << "\n";
            std::cout << config_file << ": OK\n";
            return 0;
        } catch (const std::exception& e) {
            std::cerr << "ocsp-responder: " << e.what() << "\n";
            return 1;
        }
    }

    try {
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
        if (!ready_file.empty()) {
            const std::string tmp = ready_file + ".tmp";
            std::ofstream(tmp) << bound;
            std::rename(tmp.c_str(), ready_file.c_str());
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
                    // Reading keys is disk I/O: keep it off the network threads.
                    reloads.emplace_back([&] {
                        auto error = service.reload();
                        if (error.empty())
                            log->info("SIGHUP: configuration and keys reloaded");
                        else
                            log->error("SIGHUP: reload failed, keeping the running configuration: {}", error);
                    });
                    wait_signal();
                    return;
                }
                log->info("signal {}: draining", signo);
                server.stop_accepting();
                drain_step(drain_deadline());
            });
        };
        wait_signal();

        server.run();
        for (auto& t : reloads) t.join();
        service.stop();
        spdlog::shutdown();
        return 0;
    } catch (const std::exception& e) {
        log->critical("{}", e.what());
        spdlog::shutdown();
        return 1;
    }
}
