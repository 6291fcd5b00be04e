// The OCSP caching proxy on loopback sockets: clients (the stapler's own HTTP client) ask it about
// certificates, an upstream fake serves responses signed in-process (or garbage, or nothing). What a
// client is told, what is cached, what survives an outage and a restart, how many upstream requests
// a crowd of clients costs. Apache, nginx and the real responder meet the proxy in the integration tests.
#include "stapler/daemon/proxy_service.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/ocsp.h>
#include <spdlog/sinks/null_sink.h>

#include "stapler/client_check.hpp"
#include "stapler/daemon/fetcher.hpp"
#include "stapler/daemon/ocsp_request_builder.hpp"
#include "stapler/shm_reader.hpp"
#include "tests/support/loopback_server.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/unit/stapler/ocsp_fixtures.hpp"

namespace ocspkit::stapler::daemon {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using ocspkit::test::reference_time;
using stapler::test::make_error_response;
using stapler::test::make_response;
using stapler::test::response_spec;
using stapler::test::single_spec;

struct pki {
    ocspkit::test::issued ca = ocspkit::test::make_ca("Proxy Clients CA");
    ocspkit::test::issued stranger = ocspkit::test::make_ca("Proxy Stranger CA");
    static const pki& get() {
        static const pki p;
        return p;
    }
    // A client certificate of `ca` (or the stranger) with its own serial.
    ocspkit::test::issued client(const std::string& serial_hex, bool of_stranger = false) const {
        return ocspkit::test::make_cert(of_stranger ? stranger : ca, "client " + serial_hex, ocspkit::test::key_type::ec_p256,
                                        {.serial_hex = serial_hex, .client_auth = true});
    }
};

// `leaf`'s status signed by `signer` (the CA by default).
bytes signed_status(X509* leaf, cert_status status, sys_seconds this_update = reference_time - 1h,
                    int reason = OCSP_REVOKED_STATUS_NOSTATUS, const ocspkit::test::issued* signer = nullptr) {
    const auto& p = pki::get();
    const auto& s = signer ? *signer : p.ca;
    single_spec single{.leaf = leaf, .issuer = p.ca.cert.get(), .status = status, .this_update = this_update,
                       .next_update = this_update + 25h, .revocation_reason = reason, .extensions = {}};
    response_spec spec{.singles = {single}, .signer = s.cert.get(), .key = s.key.get(), .nonce = std::nullopt,
                       .extensions = {}};
    return make_response(spec);
}

std::string as_text(const bytes& b) { return {b.begin(), b.end()}; }

// Starts fetch(req) on `io`; the future is ready once it finished.
std::future<fetch_outcome> start_fetch(asio::io_context& io, fetch_request req) {
    auto done = std::make_shared<std::promise<fetch_outcome>>();
    auto ready = done->get_future();
    auto task = [req = std::move(req), done]() mutable -> asio::awaitable<void> {
        auto op = fetch(std::move(req));
        done->set_value(co_await std::move(op));
    };
    asio::co_spawn(io, std::move(task), asio::detached);
    return ready;
}

// What a client got: the OCSP responseStatus and, when successful, the bytes.
struct client_answer {
    int response_status = -1;  // -1: no HTTP 200 answer at all
    bytes der;
    std::optional<std::chrono::seconds> max_age;
};

class proxy_service_test : public ::testing::Test {
protected:
    proxy_service_test() {
        work_thread_ = std::thread([this] { io_.run(); });
        start_proxy();
    }
    ~proxy_service_test() override {
        proxy_.reset();
        work_.reset();
        io_.stop();
        work_thread_.join();
    }

    void start_proxy() {
        proxy_config config;
        config.listen = {{"127.0.0.1", 0}};
        config.upstream_timeout = 500ms;
        config.negative_ttl = 1min;
        config.max_upstream_fetches = 4;
        std::vector<proxy_issuer> issuers(1);
        issuers[0].name = "clients";
        issuers[0].ca = ossl::up_ref(pki::get().ca.cert.get());
        issuers[0].hashes = compute_issuer_hashes(issuers[0].ca.get());
        issuers[0].responder_url = upstream_url_;
        if (with_client_cache_) {
            config.client_cache = client_cache_path();
            config.client_cache_capacity = 64;
        }
        proxy_ = std::make_unique<proxy_service>(std::move(config), std::move(issuers), state_.path(),
                                                 schedule_params{1min, 10s, 10min, 0.0}, 300s, clock_, log_);
        proxy_->start();
        url_ = "http://127.0.0.1:" + std::to_string(proxy_->local_endpoints().front().port()) + "/";
    }
    void restart_proxy() {
        proxy_.reset();
        start_proxy();
    }
    std::filesystem::path client_cache_path() const { return state_.path() / "clients"; }
    // What libocspstaple would find for `leaf` in the client cache at the fake clock's now.
    std::optional<lookup_result> client_cache_answer(X509* leaf) const {
        std::error_code ec;
        auto reader = shm_reader::open(client_cache_path().c_str(), ec);
        if (!reader) return std::nullopt;
        const auto key = client_cache_key(*issuer_key_sha1(pki::get().ca.cert.get(), nullptr),
                                          X509_get0_serialNumber(leaf), nullptr);
        lookup_result r;
        if (reader->lookup_status(*key, clock_.now_seconds(), r)) return std::nullopt;
        return r;
    }
    // Sends a datagram to the proxy's miss socket, as libocspstaple does.
    void send_miss(const bytes& datagram) const {
        const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        const std::string path = client_cache_path().string() + ".misses";
        std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
        EXPECT_EQ(::sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a),
                  static_cast<ssize_t>(datagram.size()))
            << path;
        ::close(fd);
    }
    bytes miss_for(X509* leaf, X509* issuer = nullptr) const {
        issuer = issuer ? issuer : pki::get().ca.cert.get();
        std::array<std::uint8_t, client_miss_max_size> b{};
        const auto n = encode_client_miss(*issuer_name_sha1(issuer, nullptr), *issuer_key_sha1(issuer, nullptr),
                                          X509_get0_serialNumber(leaf), b);
        return bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    }
    // Waits (up to 10 s) for `condition`, checked every few milliseconds.
    static bool eventually(const std::function<bool()>& condition) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!condition()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::sleep_for(5ms);
        }
        return true;
    }

    client_answer ask(X509* leaf, bool get = true, bool nonce = false, X509* issuer = nullptr) {
        auto built = build_ocsp_request(leaf, issuer ? issuer : pki::get().ca.cert.get(), hash_alg::sha1, nonce);
        EXPECT_TRUE(built) << built.error_message();
        return ask_der(built->der, get);
    }
    client_answer ask_der(const bytes& der, bool get = true) {
        fetch_request req{url_, der, get, 5s, 64 * 1024};
        auto outcome = start_fetch(io_, std::move(req)).get();
        client_answer a;
        if (!outcome) return a;
        a.der = outcome->body;
        a.max_age = outcome->max_age;
        const unsigned char* p = a.der.data();
        ossl::ocsp_response_ptr resp{d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(a.der.size()))};
        a.response_status = resp ? OCSP_response_status(resp.get()) : -2;
        return a;
    }
    std::string metric(std::string_view line_start) const {
        const auto text = "\n" + proxy_->render_metrics();
        const auto at = text.find("\n" + std::string(line_start) + " ");
        if (at == std::string::npos) return "(absent)";
        const auto value = at + 1 + line_start.size() + 1;
        return text.substr(value, text.find('\n', value) - value);
    }
    std::size_t upstream_requests() const { return upstream_.seen().size(); }

    // What the upstream answers next; called on the upstream's thread.
    void upstream_answers(std::function<ocspkit::test::http_reply(const ocspkit::test::http_exchange&)> f) {
        std::lock_guard lock(reply_mutex_);
        reply_ = std::move(f);
    }

    asio::io_context io_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{asio::make_work_guard(io_)};
    std::mutex reply_mutex_;
    std::function<ocspkit::test::http_reply(const ocspkit::test::http_exchange&)> reply_ = [](const auto&) {
        return ocspkit::test::http_reply{"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"};
    };
    ocspkit::test::fake_http_server upstream_{io_, [this](const ocspkit::test::http_exchange& e) {
                                                   std::function<ocspkit::test::http_reply(const ocspkit::test::http_exchange&)> f;
                                                   {
                                                       std::lock_guard lock(reply_mutex_);
                                                       f = reply_;
                                                   }
                                                   return f(e);
                                               }};
    const std::string upstream_url_ = upstream_.url("/ocsp");  // kept: a closed upstream has no port
    std::thread work_thread_;
    fake_clock clock_{reference_time};
    ocspkit::test::temp_dir state_;
    std::shared_ptr<spdlog::logger> log_ = std::make_shared<spdlog::logger>("proxy-test", std::make_shared<spdlog::sinks::null_sink_mt>());
    bool with_client_cache_ = false;
    std::unique_ptr<proxy_service> proxy_;
    std::string url_;
};

class proxy_client_cache_test : public proxy_service_test {
protected:
    proxy_client_cache_test() {
        proxy_.reset();
        with_client_cache_ = true;
        start_proxy();
    }
};

TEST_F(proxy_service_test, a_miss_is_fetched_validated_and_then_answered_from_the_cache_with_rfc5019_headers) {
    const auto leaf = pki::get().client("1001");
    const auto good = signed_status(leaf.cert.get(), cert_status::good);
    upstream_answers([&](const auto&) { return ocspkit::test::http_reply{ocspkit::test::http_ok(as_text(good))}; });

    const auto first = ask(leaf.cert.get(), false);
    EXPECT_EQ(first.response_status, OCSP_RESPONSE_STATUS_SUCCESSFUL);
    EXPECT_EQ(first.der, good) << "relayed byte for byte";
    const auto second = ask(leaf.cert.get(), true);
    EXPECT_EQ(second.der, good);
    EXPECT_EQ(second.max_age, std::chrono::seconds(24h)) << "GET: max-age up to nextUpdate (thisUpdate -1h, +25h)";
    EXPECT_EQ(upstream_requests(), 1U);
    EXPECT_EQ(metric("ocsp_stapler_proxy_requests_total{result=\"miss\"}"), "1");
    EXPECT_EQ(metric("ocsp_stapler_proxy_requests_total{result=\"hit\"}"), "1");
    EXPECT_EQ(metric("ocsp_stapler_proxy_entries"), "1");
}

TEST_F(proxy_service_test, a_hundred_concurrent_misses_for_one_certificate_make_one_upstream_request) {
    const auto leaf = pki::get().client("1002");
    const auto good = signed_status(leaf.cert.get(), cert_status::good);
    constexpr std::size_t clients = 100;
    // The upstream answers once every client waits for it, so that all of them meet one fetch.
    upstream_answers([&](const auto&) {
        for (int i = 0; i < 2000 && proxy_->awaiting_upstream() < clients; ++i) std::this_thread::sleep_for(5ms);
        return ocspkit::test::http_reply{ocspkit::test::http_ok(as_text(good))};
    });
    auto built = build_ocsp_request(leaf.cert.get(), pki::get().ca.cert.get(), hash_alg::sha1, false);
    ASSERT_TRUE(built);
    asio::io_context client_io;
    std::vector<std::future<fetch_outcome>> answers;
    for (std::size_t i = 0; i < clients; ++i)
        answers.push_back(start_fetch(client_io, fetch_request{url_, built->der, i % 2 == 0, 20s, 64 * 1024}));
    client_io.run();
    for (auto& f : answers) {
        const auto a = f.get();
        ASSERT_TRUE(a) << a.error_message();
        EXPECT_EQ(a->body, good);
    }
    EXPECT_EQ(upstream_requests(), 1U);
    EXPECT_EQ(metric("ocsp_stapler_proxy_requests_total{result=\"miss\"}"), "1");
    EXPECT_EQ(metric("ocsp_stapler_proxy_requests_total{result=\"coalesced\"}"), std::to_string(clients - 1));
}

struct bad_upstream {
    const char* name;
    std::function<ocspkit::test::http_reply(X509* leaf)> reply;
};

TEST_F(proxy_service_test, a_bad_upstream_answer_is_never_relayed_nor_cached_and_the_client_is_told_try_later) {
    const auto& p = pki::get();
    const auto other = p.client("2fff");
    const std::vector<bad_upstream> cases{
        {"garbage", [](X509*) { return ocspkit::test::http_reply{ocspkit::test::http_ok("not an OCSP response")}; }},
        {"http_500", [](X509*) { return ocspkit::test::http_reply{"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"}; }},
        {"wrong_content_type",
         [](X509* leaf) {
             return ocspkit::test::http_reply{ocspkit::test::http_ok(as_text(signed_status(leaf, cert_status::good)), "text/html")};
         }},
        {"wrong_signer",
         [&](X509* leaf) {
             return ocspkit::test::http_reply{ocspkit::test::http_ok(
                 as_text(signed_status(leaf, cert_status::good, reference_time - 1h, OCSP_REVOKED_STATUS_NOSTATUS, &p.stranger)))};
         }},
        {"wrong_cert_id",
         [&](X509*) {
             return ocspkit::test::http_reply{ocspkit::test::http_ok(as_text(signed_status(other.cert.get(), cert_status::good)))};
         }},
        {"expired",
         [](X509* leaf) {
             return ocspkit::test::http_reply{ocspkit::test::http_ok(as_text(signed_status(leaf, cert_status::good, reference_time - 26h)))};
         }},
        {"try_later",
         [](X509*) { return ocspkit::test::http_reply{ocspkit::test::http_ok(as_text(make_error_response(OCSP_RESPONSE_STATUS_TRYLATER)))}; }},
    };
    int serial = 0x2000;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const auto leaf = p.client(fmt::format("{:x}", ++serial));
        upstream_answers([&](const auto&) { return c.reply(leaf.cert.get()); });
        const auto before = upstream_requests();
        const auto a = ask(leaf.cert.get());
        EXPECT_EQ(a.response_status, OCSP_RESPONSE_STATUS_TRYLATER);
        EXPECT_EQ(upstream_requests(), before + 1);
        // Remembered for negative_ttl: the upstream is not asked again for a while.
        const auto again = ask(leaf.cert.get());
        EXPECT_EQ(again.response_status, OCSP_RESPONSE_STATUS_TRYLATER);
        EXPECT_EQ(upstream_requests(), before + 1);
    }
    for (const auto& row : proxy_->status()) EXPECT_EQ(row.status, "none") << row.last_error;
    EXPECT_EQ(metric("ocsp_stapler_proxy_requests_total{result=\"hit\"}"), "0");
}

TEST_F(proxy_service_test, an_upstream_that_hangs_costs_a_client_at_most_the_upstream_timeout) {
    const auto leaf = pki::get().client("3001");
    upstream_.hold_unread = true;
    const auto a = ask(leaf.cert.get());
    EXPECT_EQ(a.response_status, OCSP_RESPONSE_STATUS_TRYLATER);
    EXPECT_EQ(metric("ocsp_stapler_proxy_upstream_fetches_total{result=\"timeout\"}"), "1");
}

TEST_F(proxy_service_test, seen_clients_keep_their_answers_through_an_upstream_outage_and_a_restart) {
    const auto& p = pki::get();
    const auto good_leaf = p.client("4001");
    const auto revoked_leaf = p.client("4002");
    const auto good = signed_status(good_leaf.cert.get(), cert_status::good);
    const auto revoked = signed_status(revoked_leaf.cert.get(), cert_status::revoked, reference_time - 1h, 1);
    std::atomic<int> answered{0};
    upstream_answers([&](const ocspkit::test::http_exchange&) {
        return ocspkit::test::http_reply{ocspkit::test::http_ok(as_text(answered++ == 0 ? good : revoked))};
    });
    ASSERT_EQ(ask(good_leaf.cert.get()).der, good);
    ASSERT_EQ(ask(revoked_leaf.cert.get()).der, revoked);

    upstream_.close();  // the responder is down from here on
    EXPECT_EQ(ask(good_leaf.cert.get()).der, good);
    EXPECT_EQ(ask(revoked_leaf.cert.get()).der, revoked);
    const auto unseen = ask(p.client("4003").cert.get());
    EXPECT_EQ(unseen.response_status, OCSP_RESPONSE_STATUS_TRYLATER) << "never good without a signed answer";

    restart_proxy();
    EXPECT_EQ(ask(good_leaf.cert.get()).der, good) << "restored from the state folder";
    EXPECT_EQ(ask(revoked_leaf.cert.get()).der, revoked);
    EXPECT_EQ(metric("ocsp_stapler_proxy_entries"), "2");
}

TEST_F(proxy_service_test, a_permanent_revocation_is_never_replaced_by_a_later_good) {
    const auto leaf = pki::get().client("5001");
    const auto revoked = signed_status(leaf.cert.get(), cert_status::revoked, reference_time - 1h, 1);
    const auto good_later = signed_status(leaf.cert.get(), cert_status::good, reference_time - 30min);
    std::atomic<bool> revoked_first{true};
    upstream_answers([&](const auto&) {
        return ocspkit::test::http_reply{ocspkit::test::http_ok(as_text(revoked_first ? revoked : good_later))};
    });
    ASSERT_EQ(ask(leaf.cert.get()).der, revoked);
    revoked_first = false;
    const auto refreshed = asio::co_spawn(io_, proxy_->refresh_all(), asio::use_future).get();
    ASSERT_EQ(refreshed.size(), 1U);
    EXPECT_EQ(refreshed[0].name, "proxy:clients:5001");
    EXPECT_FALSE(refreshed[0].ok);
    EXPECT_EQ(refreshed[0].reason, "contradiction") << refreshed[0].detail;
    EXPECT_TRUE(refreshed[0].not_published);
    EXPECT_EQ(ask(leaf.cert.get()).der, revoked);
}

// An OCSPRequest for several certificates, as OpenSSL builds one (SHA-1 CertIDs, no nonce).
bytes multi_request(std::initializer_list<X509*> leaves) {
    ossl::ocsp_request_ptr req{OCSP_REQUEST_new()};
    for (X509* leaf : leaves) OCSP_request_add0_id(req.get(), OCSP_cert_to_id(nullptr, leaf, pki::get().ca.cert.get()));
    unsigned char* der = nullptr;
    const int len = i2d_OCSP_REQUEST(req.get(), &der);
    bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

TEST_F(proxy_service_test, a_request_for_several_certificates_is_cached_as_one_entry_for_exactly_that_set) {
    const auto& p = pki::get();
    const auto a = p.client("8001");
    const auto b = p.client("8002");
    single_spec sa{.leaf = a.cert.get(), .issuer = p.ca.cert.get(), .extensions = {}};
    single_spec sb{.leaf = b.cert.get(), .issuer = p.ca.cert.get(), .status = cert_status::revoked,
                   .revocation_reason = 1, .extensions = {}};
    const auto both = make_response(response_spec{.singles = {sa, sb}, .signer = p.ca.cert.get(), .key = p.ca.key.get(),
                                                  .nonce = std::nullopt, .extensions = {}});
    const auto only_a = signed_status(a.cert.get(), cert_status::good);
    upstream_answers([&](const ocspkit::test::http_exchange&) {
        return ocspkit::test::http_reply{ocspkit::test::http_ok(as_text(upstream_requests() == 1 ? both : only_a))};
    });
    EXPECT_EQ(ask_der(multi_request({a.cert.get(), b.cert.get()}), false).der, both);
    EXPECT_EQ(ask_der(multi_request({a.cert.get(), b.cert.get()}), true).der, both) << "answered from the cache";
    EXPECT_EQ(upstream_requests(), 1U);
    EXPECT_EQ(ask(a.cert.get()).der, only_a) << "one of the set alone is another entry";
    EXPECT_EQ(upstream_requests(), 2U);
    EXPECT_EQ(metric("ocsp_stapler_proxy_entries"), "2");

    // A response that answers only part of a set is not used for it.
    const auto c = p.client("8003");
    EXPECT_EQ(ask_der(multi_request({a.cert.get(), c.cert.get()}), false).response_status, OCSP_RESPONSE_STATUS_TRYLATER);
}

TEST_F(proxy_service_test, nonce_requests_are_forwarded_every_time_and_never_cached) {
    const auto leaf = pki::get().client("6001");
    const auto good = signed_status(leaf.cert.get(), cert_status::good);
    upstream_answers([&](const auto&) { return ocspkit::test::http_reply{ocspkit::test::http_ok(as_text(good))}; });
    EXPECT_EQ(ask(leaf.cert.get(), false, true).der, good);
    EXPECT_EQ(ask(leaf.cert.get(), false, true).der, good);
    EXPECT_EQ(upstream_requests(), 2U);
    EXPECT_EQ(metric("ocsp_stapler_proxy_requests_total{result=\"nonce_forwarded\"}"), "2");
    EXPECT_EQ(metric("ocsp_stapler_proxy_entries"), "0");
}

TEST_F(proxy_service_test, unknown_issuers_are_unauthorized_and_garbage_is_malformed_without_asking_upstream) {
    const auto& p = pki::get();
    const auto foreign = p.client("7001", true);
    EXPECT_EQ(ask(foreign.cert.get(), true, false, p.stranger.cert.get()).response_status, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
    EXPECT_EQ(ask_der({0x30, 0x03, 0x02, 0x01, 0x01}, false).response_status, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    EXPECT_EQ(upstream_requests(), 0U);
    EXPECT_EQ(metric("ocsp_stapler_proxy_requests_total{result=\"unauthorized\"}"), "1");
    EXPECT_EQ(metric("ocsp_stapler_proxy_requests_total{result=\"malformed\"}"), "1");
}

}  // namespace
}  // namespace ocspkit::stapler::daemon

namespace ocspkit::stapler::daemon {
namespace {

TEST_F(proxy_client_cache_test, cached_answers_are_published_for_libocspstaple_and_survive_a_restart) {
    const auto& p = pki::get();
    const auto good_leaf = p.client("6001");
    const auto revoked_leaf = p.client("6002");
    const auto good = signed_status(good_leaf.cert.get(), cert_status::good);
    const auto revoked = signed_status(revoked_leaf.cert.get(), cert_status::revoked, reference_time - 1h, 1);
    upstream_answers([&](const ocspkit::test::http_exchange&) {
        return ocspkit::test::http_reply{ocspkit::test::http_ok(as_text(upstream_requests() == 1 ? good : revoked))};
    });
    EXPECT_FALSE(client_cache_answer(good_leaf.cert.get())) << "nothing before anyone asked";
    ASSERT_EQ(ask(good_leaf.cert.get()).der, good);
    ASSERT_EQ(ask(revoked_leaf.cert.get()).der, revoked);
    auto a = client_cache_answer(good_leaf.cert.get());
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, cert_status::good);
    EXPECT_EQ(a->action, staple_action::staple);
    EXPECT_EQ(a->der_len, good.size());
    a = client_cache_answer(revoked_leaf.cert.get());
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, cert_status::revoked);
    EXPECT_EQ(metric("ocsp_stapler_proxy_client_cache_entries"), "2");

    upstream_.close();
    restart_proxy();
    EXPECT_EQ(client_cache_answer(good_leaf.cert.get())->status, cert_status::good);
    EXPECT_EQ(client_cache_answer(revoked_leaf.cert.get())->status, cert_status::revoked);
    EXPECT_EQ(metric("ocsp_stapler_proxy_client_cache_entries"), "2");
}

TEST_F(proxy_client_cache_test, a_miss_reported_by_the_library_is_fetched_once_and_published) {
    const auto& p = pki::get();
    const auto leaf = p.client("7001");
    const auto good = signed_status(leaf.cert.get(), cert_status::good);
    upstream_answers([&](const auto&) { return ocspkit::test::http_reply{ocspkit::test::http_ok(as_text(good))}; });
    send_miss(miss_for(leaf.cert.get()));
    ASSERT_TRUE(eventually([&] { return client_cache_answer(leaf.cert.get()).has_value(); }));
    EXPECT_EQ(client_cache_answer(leaf.cert.get())->status, cert_status::good);
    EXPECT_EQ(upstream_requests(), 1U);
    EXPECT_EQ(metric("ocsp_stapler_proxy_client_misses_total{result=\"fetching\"}"), "1");
    // The entry is the proxy's like any other: an HTTP client asking for the same CertID gets it cached.
    EXPECT_EQ(ask(leaf.cert.get()).der, good);
    EXPECT_EQ(upstream_requests(), 1U);

    // Reported again (a handshake that raced the fetch): answered from the cache, not fetched.
    send_miss(miss_for(leaf.cert.get()));
    ASSERT_TRUE(eventually([&] { return metric("ocsp_stapler_proxy_client_misses_total{result=\"cached\"}") == "1"; }));
    // A certificate of an issuer the proxy is not configured for, and garbage: never fetched.
    const auto stranger = p.client("7002", true);
    send_miss(miss_for(stranger.cert.get(), p.stranger.cert.get()));
    send_miss(bytes{'n', 'o', 'p', 'e'});
    ASSERT_TRUE(eventually([&] {
        return metric("ocsp_stapler_proxy_client_misses_total{result=\"unknown_issuer\"}") == "1" &&
               metric("ocsp_stapler_proxy_client_misses_total{result=\"malformed\"}") == "1";
    }));
    EXPECT_EQ(upstream_requests(), 1U);
}

TEST_F(proxy_client_cache_test, a_failed_miss_publishes_nothing) {
    const auto leaf = pki::get().client("7101");
    upstream_answers([&](const auto&) { return ocspkit::test::http_reply{ocspkit::test::http_ok("garbage")}; });
    send_miss(miss_for(leaf.cert.get()));
    ASSERT_TRUE(eventually([&] { return upstream_requests() == 1; }));
    ASSERT_TRUE(eventually([&] { return metric("ocsp_stapler_proxy_upstream_fetches_total{result=\"ok\"}") == "0" &&
                                        proxy_->status().front().fetch_failures == 1; }));
    EXPECT_FALSE(client_cache_answer(leaf.cert.get()));
    EXPECT_EQ(metric("ocsp_stapler_proxy_client_cache_entries"), "0");
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
