// The daemon's publish step end to end, in-process: a real stapler_daemon on its own io thread, a
// fake OCSP responder on 127.0.0.1 (port 0) serving responses signed here, a fake clock at the
// reference time. Two rules of docs/stapler.md ("Daemon", "Behaviour"):
//   * a fetch that brings back the published response byte for byte publishes nothing again: no
//     persist, no nginx_file rewrite, no reload_command (still a successful fetch);
//   * a certificate the shm cache has no room for is not reported as stapled: status, refresh (exit 4),
//     metrics and last_error say so, and a reload that frees a slot publishes it.
#include <atomic>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>

#include "common/clock.hpp"
#include "stapler/daemon/control.hpp"
#include "stapler/daemon/daemon_tracked.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/unit/stapler/ocsp_fixtures.hpp"

namespace ocspkit::stapler::daemon {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace fixtures = ocspkit::stapler::test;
using tcp = asio::ip::tcp;
using bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;
using ocspkit::test::issued;
using ocspkit::test::reference_time;
using ocspkit::test::temp_dir;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Answers every request with the body registered for the first segment of its path ("/www/<b64>" ->
// "www"). Bodies may be swapped from the test thread.
class fake_ocsp_server {
public:
    explicit fake_ocsp_server(asio::io_context& io) : io_(io), acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}) {
        auto loop = accept_loop();
        asio::co_spawn(io_, std::move(loop), asio::detached);
    }
    std::string url(const std::string& name) const {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/" + name;
    }
    void serve(const std::string& name, bytes body) {
        std::lock_guard lock(mutex_);
        bodies_[name] = std::move(body);
    }
    void close() {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
    }

private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
            if (ec) co_return;
            auto s = session(std::move(socket));
            asio::co_spawn(io_, std::move(s), asio::detached);
        }
    }
    asio::awaitable<void> session(tcp::socket socket) {
        beast::flat_buffer buffer;
        http::request<http::string_body> req;
        auto [ec, n] = co_await http::async_read(socket, buffer, req, use_tuple);
        if (ec) co_return;
        std::string target(req.target());
        const std::string name = target.substr(1, target.find('/', 1) == std::string::npos ? std::string::npos
                                                                                           : target.find('/', 1) - 1);
        bytes body;
        {
            std::lock_guard lock(mutex_);
            body = bodies_[name];
        }
        std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
        reply.append(body.begin(), body.end());
        auto written = co_await asio::async_write(socket, asio::buffer(reply), use_tuple);
        (void)written;  // a client that went away is its own problem
        boost::system::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_send, ignored);
    }

    asio::io_context& io_;
    tcp::acceptor acceptor_;
    std::mutex mutex_;
    std::map<std::string, bytes> bodies_;
};

bytes read_bytes(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::size_t line_count(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
}

ino_t inode_of(const std::filesystem::path& file) {
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
    running_daemon(const std::filesystem::path& config_file, fake_ocsp_server*& server_out,
                   const std::function<void(fake_ocsp_server&)>& before_start)
        : server_(io_), log_(make_log(log_text_)) {
        server_out = &server_;
        before_start(server_);
        config_ = load_config(config_file);
        auto inv = build_inventory(config_);
        daemon_ = std::make_unique<stapler_daemon>(io_, config_, std::move(inv), clock_, log_);
        daemon_->open();
        control_ = std::make_unique<control_server>(io_, *daemon_, config_.control_socket, log_);
        control_->open();
        control_->start();
        asio::co_spawn(io_, daemon_->start([this] { ready_ = true; }), log_exceptions(log_, "start"));
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
    std::atomic<bool> ready_{false};
    std::thread runner_;
};

// A leaf of `ca` whose AIA points at `url`, and a good response for it with the given thisUpdate.
issued make_leaf(const issued& ca, const std::string& cn, const std::string& serial_hex, const std::string& url) {
    ocspkit::test::cert_options o;
    o.serial_hex = serial_hex;
    o.ocsp_url = url;
    return ocspkit::test::make_cert(ca, cn, ocspkit::test::key_type::ec_p256, o);
}

bytes good_response(const issued& ca, const issued& leaf, sys_seconds this_update) {
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

void write_chain(const std::filesystem::path& file, const issued& leaf, const issued& ca) {
    ocspkit::test::write_pem(file, leaf.cert.get());
    ocspkit::test::append_pem(file, ca.cert.get());
}

const std::string common_stapler =
    "[stapler]\nstate_dir = \"state\"\nshm_path = \"staples\"\ncontrol_socket = \"control.sock\"\n"
    "startup_timeout = \"10s\"\n";

TEST(daemon_publish, identical_response_is_not_published_again) {
    temp_dir dir;
    const issued ca = ocspkit::test::make_ca("Daemon Publish CA");
    fake_ocsp_server* server = nullptr;
    std::optional<issued> leaf;
    bytes first, second;
    const auto runs = dir / "runs.txt";
    const auto nginx_file = dir / "www.der";
    const auto state_file = dir / "state" / "www.der";
    {
        std::ofstream(dir / "stapler.toml")
            << common_stapler << "shm_capacity = 16\n[nginx]\nreload_command = [\"/bin/sh\", \"-c\", \"echo ran >> '"
            << runs.string() << "'\"]\n[[certificate]]\nchain = \"www.pem\"\nnginx_file = \"www.der\"\n";
    }
    running_daemon d(dir / "stapler.toml", server, [&](fake_ocsp_server& s) {
        leaf = make_leaf(ca, "www.example", "0A", s.url("www"));
        write_chain(dir / "www.pem", *leaf, ca);
        first = good_response(ca, *leaf, reference_time - 1h);
        second = good_response(ca, *leaf, reference_time - 30min);
        s.serve("www", first);
    });
    ASSERT_TRUE(d.wait_ready()) << d.log_text();
    ASSERT_EQ(read_bytes(nginx_file), first) << d.log_text();
    ASSERT_EQ(read_bytes(state_file), first);
    ASSERT_TRUE(eventually([&] { return line_count(runs) == 1; })) << d.log_text();
    const ino_t nginx_inode = inode_of(nginx_file);
    const ino_t state_inode = inode_of(state_file);

    // The responder answers from its cache: the same bytes. A success, rescheduled, and nothing else.
    auto reports = d.refresh("www");
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_TRUE(reports[0].ok) << reports[0].reason << ": " << reports[0].detail;
    EXPECT_EQ(reports[0].status, "good");
    std::this_thread::sleep_for(1500ms);  // past the reload debounce: a requested reload would have run
    EXPECT_EQ(inode_of(nginx_file), nginx_inode) << "nginx_file rewritten with identical bytes";
    EXPECT_EQ(inode_of(state_file), state_inode) << "response persisted again";
    EXPECT_EQ(line_count(runs), 1u) << "reload_command ran although no file changed";
    EXPECT_NE(d.log_text().find("www: fetched good (thisUpdate 2025-12-31T23:00:00Z, nextUpdate "
                                "2026-01-02T00:00:00Z), unchanged: not published again"),
              std::string::npos)
        << d.log_text();
    const auto row = d.row("www");
    EXPECT_EQ(row.action, "staple");
    EXPECT_EQ(row.fetch_failures, 0u);
    ASSERT_TRUE(row.next_refresh);
    EXPECT_GT(*row.next_refresh, reference_time);
    EXPECT_NE(d.metrics().find("ocsp_stapler_fetch_total{certificate=\"www\",result=\"ok\"} 2"), std::string::npos)
        << d.metrics();

    // Same status, newer thisUpdate: a new response, published as before.
    server->serve("www", second);
    reports = d.refresh("www");
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_TRUE(reports[0].ok) << reports[0].reason << ": " << reports[0].detail;
    EXPECT_EQ(read_bytes(nginx_file), second);
    EXPECT_EQ(read_bytes(state_file), second);
    EXPECT_NE(inode_of(nginx_file), nginx_inode);
    EXPECT_TRUE(eventually([&] { return line_count(runs) == 2; })) << d.log_text();
}

// More certificates than the cache holds. [[certificate]] entries are refused at load (config_test);
// [[directory]] ones are only found at run time, so two directories of one chain each meet a cache of 2
// slots (1 entry). Which one wins the slot depends on which fetch finishes first.
TEST(daemon_publish, certificate_without_a_shm_slot_is_reported_unpublished) {
    temp_dir dir;
    const issued ca = ocspkit::test::make_ca("Daemon Shm Full CA");
    fake_ocsp_server* server = nullptr;
    std::map<std::string, issued> leaves;
    std::filesystem::create_directories(dir / "a");
    std::filesystem::create_directories(dir / "b");
    const std::string directories = "[[directory]]\npath = \"a\"\n[[directory]]\npath = \"b\"\n";
    std::ofstream(dir / "stapler.toml") << common_stapler << "shm_capacity = 2\n[defaults]\npolicy = \"hard\"\n"
                                        << directories;
    running_daemon d(dir / "stapler.toml", server, [&](fake_ocsp_server& s) {
        for (const std::string name : {"a", "b"}) {
            auto leaf = make_leaf(ca, name + ".example", name == "a" ? "1A" : "1B", s.url(name));
            write_chain(dir / name / (name + ".pem"), leaf, ca);
            s.serve(name, good_response(ca, leaf, reference_time - 1h));
            leaves.emplace(name, std::move(leaf));
        }
    });
    ASSERT_TRUE(d.wait_ready()) << d.log_text();

    std::error_code ec;
    auto reader = shm_reader::open((dir / "staples").c_str(), ec);
    ASSERT_TRUE(reader) << ec.message();
    const auto found = [&](const std::string& name) {
        std::vector<std::uint8_t> buffer(4096);
        lookup_result result;
        return !reader->lookup(*cache_key_of(leaves.at(name).cert.get()), buffer, reference_time, result) &&
               result.action == staple_action::staple;
    };
    ASSERT_NE(found("a"), found("b")) << d.log_text();
    const std::string published = found("a") ? "a" : "b";
    const std::string missing = found("a") ? "b" : "a";

    const auto ok_row = d.row(published);
    EXPECT_EQ(ok_row.status, "good");
    EXPECT_EQ(ok_row.action, "staple");
    const auto row = d.row(missing);
    // TLS servers find no entry: no staple, whatever the policy says (a hard certificate is not enforced).
    EXPECT_EQ(row.status, "none");
    EXPECT_EQ(row.action, "no_staple");
    EXPECT_EQ(row.policy, "hard");
    EXPECT_EQ(row.last_error, "shm: cache is full");
    EXPECT_FALSE(row.this_update);

    const std::string metrics = d.metrics();
    EXPECT_NE(metrics.find("ocsp_stapler_publish_failures_total{certificate=\"" + missing + "\",reason=\"shm_full\"} "),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("ocsp_stapler_staple_status{certificate=\"" + missing + "\",status=\"good\"} 0"),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("ocsp_stapler_staple_status{certificate=\"" + missing + "\",status=\"none\"} 1"),
              std::string::npos)
        << metrics;
    EXPECT_EQ(metrics.find("ocsp_stapler_publish_failures_total{certificate=\"" + published + "\""), std::string::npos)
        << metrics;

    // `refresh` fetches the same response again; publishing it still fails, and says so (exit 4).
    std::ostringstream out, err;
    EXPECT_EQ(refresh_command(d.config().control_socket, missing, out, err), 4) << err.str();
    EXPECT_EQ(out.str(), missing + ": failed shm_full (shm: cache is full)\n");
    EXPECT_EQ(d.row(missing).action, "no_staple");

    // A reload that drops the published certificate frees its slot for the missing one.
    std::ofstream(dir / "stapler.toml") << common_stapler << "shm_capacity = 2\n[defaults]\npolicy = \"hard\"\n"
                                        << "[[directory]]\npath = \"" << missing << "\"\n";
    ASSERT_TRUE(d.reload());
    const auto after = d.row(missing);
    EXPECT_EQ(after.status, "good") << d.log_text();
    EXPECT_EQ(after.action, "staple");
    EXPECT_EQ(after.last_error, "");
    EXPECT_TRUE(found(missing));
    EXPECT_FALSE(found(published));
    auto reports = d.refresh(missing);
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_TRUE(reports[0].ok) << reports[0].reason << ": " << reports[0].detail;
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
