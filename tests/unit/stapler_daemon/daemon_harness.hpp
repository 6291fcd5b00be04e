#pragma once
// The in-process harness of the daemon tests (daemon_publish_test, daemon_exports_test): a real
// stapler_daemon on its own io thread, a fake OCSP responder on 127.0.0.1 (port 0) serving responses
// signed here, a fake clock at the reference time, and helpers to build chains and responses.
#include <atomic>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>

#include "common/clock.hpp"
#include "stapler/daemon/control.hpp"
#include "stapler/daemon/daemon_tracked.hpp"
#include "tests/support/loopback_server.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/unit/stapler/ocsp_fixtures.hpp"


namespace ocspkit::stapler::daemon::harness {

namespace fixtures = ocspkit::stapler::test;
using bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;
using ocspkit::test::issued;
using ocspkit::test::reference_time;
using ocspkit::test::temp_dir;

// Answers every request with the body registered for the first segment of its path ("/www/<b64>" ->
// "www"). Bodies may be swapped from the test thread.
class fake_ocsp_server {
public:
    explicit fake_ocsp_server(asio::io_context& io) : http_(io, [this](const ocspkit::test::http_exchange& e) {
        return ocspkit::test::http_reply{ocspkit::test::http_ok(body_for(e.target))};
    }) {}
    std::string url(const std::string& name) const { return http_.url("/" + name); }
    void serve(const std::string& name, bytes body) {
        std::lock_guard lock(mutex_);
        bodies_[name] = std::move(body);
    }
    void close() { http_.close(); }

private:
    std::string body_for(const std::string& target) {
        const auto end = target.find('/', 1);
        const std::string name = target.substr(1, end == std::string::npos ? std::string::npos : end - 1);
        std::lock_guard lock(mutex_);
        const bytes& body = bodies_[name];
        return std::string(body.begin(), body.end());
    }

    std::mutex mutex_;
    std::map<std::string, bytes> bodies_;
    ocspkit::test::fake_http_server http_;  // last: it calls body_for()
};

inline bytes read_bytes(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::size_t line_count(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
}

inline ino_t inode_of(const std::filesystem::path& file) {
    struct stat st {};
    return ::stat(file.c_str(), &st) == 0 ? st.st_ino : 0;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
    for (auto waited = 0ms; waited < limit; waited += 20ms) {
        if (pred()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return pred();
}

// The daemon, its responder and the io thread they share. Everything the daemon owns is touched on the
// io thread only: the test reaches it through on_io() / await_on().
class running_daemon {
public:
    // `at_ready` runs on the io thread at the moment the daemon declares itself ready (what a web server
    // started then would find).
    running_daemon(const std::filesystem::path& config_file, fake_ocsp_server*& server_out,
                   const std::function<void(fake_ocsp_server&)>& before_start,
                   std::function<void()> at_ready = {})
        : server_(io_), log_(make_log(log_text_)), at_ready_(std::move(at_ready)) {
        server_out = &server_;
        before_start(server_);
        config_ = load_config(config_file);
        auto inv = build_inventory(config_);
        daemon_ = std::make_unique<stapler_daemon>(io_, config_, std::move(inv), clock_, log_);
        daemon_->open();
        control_ = std::make_unique<control_server>(io_, *daemon_, config_.control_socket, log_);
        control_->open();
        control_->start();
        asio::co_spawn(io_, daemon_->start([this] {
                           if (at_ready_) at_ready_();
                           ready_ = true;
                       }), log_exceptions(log_, "start"));
        runner_ = std::thread([this] { io_.run(); });
    }
    ~running_daemon() {
        asio::post(io_, [this] {
            daemon_->stop();
            control_->close();
            server_.close();
            work_.reset();
            io_.stop();
        });
        runner_.join();
    }

    bool wait_ready() { return eventually([this] { return ready_.load(); }, 10s); }
    const stapler_config& config() const { return config_; }

    template <class F>
    auto on_io(F f) -> decltype(f()) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto result = task.get_future();
        asio::post(io_, [&task] { task(); });
        return result.get();
    }
    // Runs the awaitable `make()` returns on the io thread (it is created there too) and waits for it.
    template <class T, class Make>
    T await_on(Make make) {
        std::promise<T> p;
        auto result = p.get_future();
        asio::post(io_, [this, &p, &make] {
            auto op = make();
            asio::co_spawn(io_, std::move(op), [&p](std::exception_ptr e, T v) {
                if (e)
                    p.set_exception(e);
                else
                    p.set_value(std::move(v));
            });
        });
        if (result.wait_for(30s) != std::future_status::ready) throw std::runtime_error("operation did not finish");
        return result.get();
    }

    std::vector<fetch_report> refresh(const std::string& name) {
        auto out = await_on<std::optional<std::vector<fetch_report>>>([this, name] { return daemon_->refresh(name); });
        if (!out) throw std::runtime_error("no certificate " + name);
        return *out;
    }
    bool reload() {
        return await_on<bool>([this]() -> asio::awaitable<bool> {
            auto op = daemon_->reload();
            co_await std::move(op);
            co_return true;
        });
    }
    status_row row(const std::string& name) {
        auto s = on_io([this] { return daemon_->status(); });
        for (auto& r : s.certificates)
            if (r.name == name) return r;
        throw std::runtime_error("no status row " + name);
    }
    std::string metrics() {
        return on_io([this] { return daemon_->render_metrics(); });
    }
    health_report health() {
        return on_io([this] { return daemon_->health(); });
    }
    // Every nginx reload requested so far has run (a file rewrite requests one, debounced by 1 s).
    bool nginx_reload_idle() {
        return on_io([this] { return daemon_->nginx_reload_idle(); });
    }
    std::string log_text() {
        return on_io([this] { return log_text_.str(); });
    }

private:
    static std::shared_ptr<spdlog::logger> make_log(std::ostringstream& out) {
        auto log = std::make_shared<spdlog::logger>("daemon_publish_test",
                                                    std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
        log->set_level(spdlog::level::debug);
        return log;
    }

    std::ostringstream log_text_;  // first: outlives everything that may log
    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
    fake_ocsp_server server_;
    std::shared_ptr<spdlog::logger> log_;
    fake_clock clock_{reference_time};
    stapler_config config_;
    std::unique_ptr<stapler_daemon> daemon_;
    std::unique_ptr<control_server> control_;
    std::function<void()> at_ready_;
    std::atomic<bool> ready_{false};
    std::thread runner_;
};

// A leaf of `ca` whose AIA points at `url`, and a good response for it with the given thisUpdate.
inline issued make_leaf(const issued& ca, const std::string& cn, const std::string& serial_hex, const std::string& url) {
    ocspkit::test::cert_options o;
    o.serial_hex = serial_hex;
    o.ocsp_url = url;
    return ocspkit::test::make_cert(ca, cn, ocspkit::test::key_type::ec_p256, o);
}

inline bytes good_response(const issued& ca, const issued& leaf, sys_seconds this_update) {
    fixtures::response_spec spec;
    fixtures::single_spec single;
    single.leaf = leaf.cert.get();
    single.issuer = ca.cert.get();
    single.this_update = this_update;
    single.next_update = reference_time + 24h;
    spec.singles.push_back(single);
    spec.signer = ca.cert.get();
    spec.key = ca.key.get();
    return fixtures::make_response(spec);
}

inline void write_chain(const std::filesystem::path& file, const issued& leaf, const issued& ca) {
    ocspkit::test::write_pem(file, leaf.cert.get());
    ocspkit::test::append_pem(file, ca.cert.get());
}

inline const std::string common_stapler =
    "[stapler]\nstate_dir = \"state\"\nshm_path = \"staples\"\ncontrol_socket = \"control.sock\"\n"
    "startup_timeout = \"10s\"\n";

}  // namespace ocspkit::stapler::daemon::harness
