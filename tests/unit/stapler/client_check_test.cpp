// Client-certificate checks: the client cache's keys and verdicts (stapler/client_check.hpp), the miss
// datagram both ways, and ocsp_client_check_install() in real mTLS handshakes over a BIO pair, with the
// client cache written by shm_writer and the daemon's miss socket played by a datagram socket.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/cert_id.hpp"
#include "common/ossl_ptr.hpp"
#include "common/serial.hpp"
#include "ocsp_staple.h"
#include "stapler/client_check.hpp"
#include "stapler/client_miss.hpp"
#include "stapler/shm_writer.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler {
namespace {

using namespace std::chrono_literals;
using ocspkit::test::temp_dir;
using bytes = std::vector<std::uint8_t>;
using ossl::ssl_ctx_ptr;
using ossl::ssl_ptr;

sys_seconds wall_now() { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }

ocspkit::test::cert_options valid_now(std::string serial_hex, bool is_ca = false) {
    return {.serial_hex = std::move(serial_hex), .not_before = wall_now() - 1h, .not_after = wall_now() + 24h,
            .is_ca = is_ca, .client_auth = true};
}

struct client_pki {
    ocspkit::test::issued root = ocspkit::test::make_ca("Client Root CA", ocspkit::test::key_type::ec_p256,
                                                        {.not_before = wall_now() - 1h, .not_after = wall_now() + 24h});
    ocspkit::test::issued ca = ocspkit::test::make_cert(root, "Client Issuing CA", ocspkit::test::key_type::ec_p256,
                                                        valid_now("0A", true));
    ocspkit::test::issued alice = ocspkit::test::make_cert(ca, "alice", ocspkit::test::key_type::ec_p256, valid_now("A11CE0"));
    ocspkit::test::issued server = ocspkit::test::make_cert(root, "server.test", ocspkit::test::key_type::ec_p256,
                                                            valid_now("5E"));
    static const client_pki& get() {
        static const client_pki p;
        return p;
    }
};

// The key as the daemon computes it: from the issuer's CertID hashes and a serial_number.
cache_key daemon_key(X509* issuer, X509* cert) {
    const auto hashes = compute_issuer_hashes(issuer);
    sha1_digest key_hash{};
    std::copy(hashes[hash_alg::sha1].key_hash.begin(), hashes[hash_alg::sha1].key_hash.end(), key_hash.begin());
    const auto serial = serial_number::from_asn1(X509_get0_serialNumber(cert));
    EXPECT_TRUE(serial);
    return *client_cache_key(key_hash, serial->to_asn1().get(), nullptr);
}

TEST(client_check, the_library_and_the_daemon_compute_the_same_key) {
    const auto& p = client_pki::get();
    const auto library = client_cache_key(*issuer_key_sha1(p.ca.cert.get(), nullptr),
                                          X509_get0_serialNumber(p.alice.cert.get()), nullptr);
    ASSERT_TRUE(library);
    EXPECT_EQ(*library, daemon_key(p.ca.cert.get(), p.alice.cert.get()));
    // Another issuer, another serial, or the staple key of the same certificate: other keys.
    EXPECT_NE(*library, *client_cache_key(*issuer_key_sha1(p.root.cert.get(), nullptr),
                                          X509_get0_serialNumber(p.alice.cert.get()), nullptr));
    EXPECT_NE(*library, *client_cache_key(*issuer_key_sha1(p.ca.cert.get(), nullptr),
                                          X509_get0_serialNumber(p.server.cert.get()), nullptr));
    EXPECT_NE(*library, *cache_key_of(p.alice.cert.get()));
    // The SHA-1 hashes are a SHA-1 CertID's.
    const auto hashes = compute_issuer_hashes(p.ca.cert.get());
    const auto name = issuer_name_sha1(p.ca.cert.get(), nullptr);
    EXPECT_EQ(bytes(name->begin(), name->end()), hashes[hash_alg::sha1].name_hash);
}

TEST(client_check, answers_and_verdicts) {
    lookup_result r;
    r.action = staple_action::staple;
    r.status = cert_status::good;
    EXPECT_EQ(client_answer_of({}, r), client_answer::good);
    r.status = cert_status::revoked;
    EXPECT_EQ(client_answer_of({}, r), client_answer::revoked);
    r.status = cert_status::unknown;
    EXPECT_EQ(client_answer_of({}, r), client_answer::unknown);
    r.action = staple_action::not_servable;  // an expired permanent revocation
    EXPECT_EQ(client_answer_of({}, r), client_answer::revoked);
    r.action = staple_action::no_staple;  // expired otherwise
    EXPECT_EQ(client_answer_of({}, r), client_answer::none);
    r.action = staple_action::staple;
    r.status = cert_status::good;
    EXPECT_EQ(client_answer_of(shm_errc::not_found, r), client_answer::none);
    EXPECT_EQ(client_answer_of(shm_errc::busy, r), client_answer::none);

    for (auto policy : {client_policy::hard, client_policy::soft, client_policy::warn_only}) {
        EXPECT_EQ(decide(client_answer::good, policy), client_verdict::accept);
        EXPECT_EQ(decide(client_answer::revoked, policy), client_verdict::refuse_revoked);
        EXPECT_EQ(decide(client_answer::unknown, policy), client_verdict::refuse_unknown);
    }
    EXPECT_EQ(decide(client_answer::none, client_policy::hard), client_verdict::refuse_no_answer);
    EXPECT_EQ(decide(client_answer::none, client_policy::soft), client_verdict::accept);
    EXPECT_EQ(decide(client_answer::none, client_policy::warn_only), client_verdict::accept);

    EXPECT_EQ(client_actions(cert_status::revoked, true).action_when_expired, staple_action::not_servable);
    EXPECT_EQ(client_actions(cert_status::revoked, false).action_when_expired, staple_action::no_staple);
    EXPECT_EQ(client_actions(cert_status::good, false).action_when_expired, staple_action::no_staple);
}

TEST(client_check, miss_datagram_round_trip_and_rejects) {
    const auto& p = client_pki::get();
    std::array<std::uint8_t, client_miss_max_size> buffer{};
    const auto name = *issuer_name_sha1(p.ca.cert.get(), nullptr);
    const auto key = *issuer_key_sha1(p.ca.cert.get(), nullptr);
    const std::size_t n = encode_client_miss(name, key, X509_get0_serialNumber(p.alice.cert.get()), buffer);
    ASSERT_GT(n, client_miss_header_size);
    const bytes datagram(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
    const auto miss = decode_client_miss(datagram);
    ASSERT_TRUE(miss) << miss.error_message();
    EXPECT_EQ(miss->issuer_name_sha1, name);
    EXPECT_EQ(miss->issuer_key_sha1, key);
    EXPECT_EQ(miss->serial.to_hex(), "A11CE0");

    const auto rejected = [](bytes d) { return !decode_client_miss(d).has_value(); };
    EXPECT_TRUE(rejected({}));
    EXPECT_TRUE(rejected(bytes(datagram.begin(), datagram.begin() + static_cast<std::ptrdiff_t>(client_miss_header_size))));
    auto b = datagram;
    b[0] ^= 1;  // magic
    EXPECT_TRUE(rejected(b));
    b = datagram;
    b[client_miss_magic.size()] = 2;  // version
    EXPECT_TRUE(rejected(b));
    b = datagram;
    b.push_back(0);  // a byte after the INTEGER
    EXPECT_TRUE(rejected(b));
    b = datagram;
    b[client_miss_header_size] = 0x04;  // an OCTET STRING, not an INTEGER
    EXPECT_TRUE(rejected(b));
    b = bytes(datagram.begin(), datagram.begin() + static_cast<std::ptrdiff_t>(client_miss_header_size));
    for (std::uint8_t octet : {0x02, 0x01, 0xff}) b.push_back(octet);  // INTEGER -1
    EXPECT_EQ(decode_client_miss(b).code(), make_error_code(errc::out_of_range));
    b.resize(client_miss_max_size + 1, 0);
    EXPECT_TRUE(rejected(b));
}

// --- ocsp_client_check_install in handshakes -------------------------------------------------------

struct cache_deleter {
    void operator()(ocsp_staple_cache* c) const noexcept { ocsp_staple_cache_free(c); }
};
using cache_ptr = std::unique_ptr<ocsp_staple_cache, cache_deleter>;

// The daemon's end of the miss socket.
class miss_listener {
public:
    explicit miss_listener(const std::filesystem::path& cache_path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        const std::string path = cache_path.string() + ".misses";
        std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << path;
    }
    ~miss_listener() { ::close(fd_); }
    miss_listener(const miss_listener&) = delete;
    miss_listener& operator=(const miss_listener&) = delete;
    // Every datagram received so far.
    std::vector<bytes> drain() {
        std::vector<bytes> out;
        for (;;) {
            bytes b(512);
            const ssize_t n = ::recv(fd_, b.data(), b.size(), 0);
            if (n < 0) return out;
            b.resize(static_cast<std::size_t>(n));
            out.push_back(std::move(b));
        }
    }

private:
    int fd_ = -1;
};

struct mtls_result {
    bool ok = false;
    long verify_result = X509_V_OK;
    int alert_received = -1;  // by the client: the TLS alert description
};

void record_alert(const SSL* ssl, int where, int value) {
    if ((where & SSL_CB_READ_ALERT) != 0) {
        auto* r = static_cast<mtls_result*>(SSL_get_app_data(ssl));
        r->alert_received = value & 0xff;
    }
}

struct log_lines {
    std::vector<std::string> lines;
};
void collect_log(void* arg, const char* message) { static_cast<log_lines*>(arg)->lines.emplace_back(message); }

int accept_everything(int, X509_STORE_CTX*) { return 1; }

// One mTLS handshake: the server requires a client certificate chaining to the root, checked by
// ocsp_client_check_install(cache, policy); the client presents alice (and the issuing CA).
mtls_result mtls_handshake(ocsp_staple_cache* cache, int policy, int tls_version,
                           SSL_verify_cb server_verify_cb = nullptr) {
    const auto& p = client_pki::get();
    mtls_result out;
    ssl_ctx_ptr server_ctx{SSL_CTX_new(TLS_server_method())};
    ssl_ctx_ptr client_ctx{SSL_CTX_new(TLS_client_method())};
    EXPECT_EQ(SSL_CTX_use_certificate(server_ctx.get(), p.server.cert.get()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(server_ctx.get(), p.server.key.get()), 1);
    EXPECT_EQ(X509_STORE_add_cert(SSL_CTX_get_cert_store(server_ctx.get()), p.root.cert.get()), 1);
    SSL_CTX_set_verify(server_ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, server_verify_cb);
    EXPECT_EQ(ocsp_client_check_install(server_ctx.get(), cache, policy), OCSP_STAPLE_OK);

    EXPECT_EQ(SSL_CTX_use_certificate(client_ctx.get(), p.alice.cert.get()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(client_ctx.get(), p.alice.key.get()), 1);
    X509_up_ref(p.ca.cert.get());
    EXPECT_EQ(SSL_CTX_add_extra_chain_cert(client_ctx.get(), p.ca.cert.get()), 1);
    SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_info_callback(client_ctx.get(), record_alert);
    for (SSL_CTX* c : {server_ctx.get(), client_ctx.get()}) {
        SSL_CTX_set_min_proto_version(c, tls_version);
        SSL_CTX_set_max_proto_version(c, tls_version);
    }
    ssl_ptr server{SSL_new(server_ctx.get())};
    ssl_ptr client{SSL_new(client_ctx.get())};
    SSL_set_app_data(client.get(), &out);
    BIO* client_bio = nullptr;
    BIO* server_bio = nullptr;
    EXPECT_EQ(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0), 1);
    SSL_set_bio(client.get(), client_bio, client_bio);
    SSL_set_bio(server.get(), server_bio, server_bio);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());
    bool server_done = false;
    for (int round = 0; round < 20; ++round) {
        const int c = SSL_do_handshake(client.get());
        const int s = server_done ? 1 : SSL_do_handshake(server.get());
        server_done = s == 1;
        // TLS 1.3: the client finishes before the server has seen its certificate; a read brings the
        // server's verdict (data, or an alert).
        if (c == 1 && s == 1) {
            char byte = 0;
            SSL_write(server.get(), "x", 1);
            out.ok = SSL_read(client.get(), &byte, 1) == 1;
            break;
        }
        const int ce = c == 1 ? SSL_ERROR_NONE : SSL_get_error(client.get(), c);
        const int se = s == 1 ? SSL_ERROR_NONE : SSL_get_error(server.get(), s);
        const auto blocked = [](int e) { return e == SSL_ERROR_NONE || e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE; };
        if (!blocked(ce) || !blocked(se)) {
            // Let the client read the server's alert.
            char byte = 0;
            if (c == 1) SSL_read(client.get(), &byte, 1);
            else SSL_do_handshake(client.get());
            break;
        }
    }
    out.verify_result = SSL_get_verify_result(server.get());
    ERR_clear_error();
    return out;
}

class client_check_tls : public testing::TestWithParam<int> {
protected:
    void SetUp() override {
        std::error_code ec;
        writer_ = shm_writer::open(path_, {64, 2048}, ec);
        ASSERT_TRUE(writer_) << ec.message();
        ocsp_staple_cache* raw = nullptr;
        ASSERT_EQ(ocsp_staple_cache_open(path_.c_str(), &raw), OCSP_STAPLE_OK);
        cache_.reset(raw);
        ASSERT_EQ(ocsp_client_check_set_log(cache_.get(), collect_log, &log_), OCSP_STAPLE_OK);
    }
    void put(X509* issuer, X509* cert, cert_status status, bool permanent, sys_seconds next_update) {
        const auto actions = client_actions(status, permanent);
        const bytes der(300, 0x30);
        ASSERT_FALSE(writer_->put(daemon_key(issuer, cert),
                                  {status, actions.action, actions.action_when_expired, wall_now() - 1h, next_update, der}));
    }
    void put_alice(cert_status status, bool permanent = true, sys_seconds next_update = wall_now() + 1h) {
        const auto& p = client_pki::get();
        put(p.ca.cert.get(), p.alice.cert.get(), status, permanent, next_update);
    }
    ocsp_client_check_counts counts() const {
        ocsp_client_check_counts c{};
        EXPECT_EQ(ocsp_client_check_get_counts(cache_.get(), &c), OCSP_STAPLE_OK);
        return c;
    }

    temp_dir dir_;
    std::filesystem::path path_ = dir_ / "clients";
    std::unique_ptr<shm_writer> writer_;
    cache_ptr cache_;
    log_lines log_;
};

TEST_P(client_check_tls, good_is_accepted) {
    put_alice(cert_status::good);
    const auto r = mtls_handshake(cache_.get(), OCSP_CLIENT_POLICY_HARD, GetParam());
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.verify_result, X509_V_OK);
    EXPECT_EQ(counts().good, 1U);
    EXPECT_EQ(counts().misses_sent + counts().misses_unsent, 0U);
}

TEST_P(client_check_tls, revoked_is_refused_with_the_revoked_alert_under_every_policy) {
    put_alice(cert_status::revoked);
    for (int policy : {OCSP_CLIENT_POLICY_HARD, OCSP_CLIENT_POLICY_SOFT, OCSP_CLIENT_POLICY_WARN_ONLY}) {
        const auto r = mtls_handshake(cache_.get(), policy, GetParam());
        EXPECT_FALSE(r.ok) << policy;
        EXPECT_EQ(r.verify_result, X509_V_ERR_CERT_REVOKED);
        EXPECT_EQ(r.alert_received, SSL_AD_CERTIFICATE_REVOKED);
    }
    EXPECT_EQ(counts().revoked, 3U);
    EXPECT_TRUE(log_.lines.empty());
}

TEST_P(client_check_tls, unknown_is_refused) {
    put_alice(cert_status::unknown);
    const auto r = mtls_handshake(cache_.get(), OCSP_CLIENT_POLICY_SOFT, GetParam());
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.verify_result, X509_V_ERR_OCSP_CERT_UNKNOWN);
    EXPECT_EQ(counts().unknown, 1U);
}

TEST_P(client_check_tls, a_miss_is_reported_to_the_daemon_and_the_policy_decides) {
    miss_listener daemon(path_);
    auto r = mtls_handshake(cache_.get(), OCSP_CLIENT_POLICY_HARD, GetParam());
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.verify_result, X509_V_ERR_OCSP_VERIFY_FAILED);
    const auto misses = daemon.drain();
    ASSERT_EQ(misses.size(), 1U);
    const auto miss = decode_client_miss(misses[0]);
    ASSERT_TRUE(miss) << miss.error_message();
    EXPECT_EQ(miss->serial.to_hex(), "A11CE0");
    EXPECT_EQ(miss->issuer_key_sha1, *issuer_key_sha1(client_pki::get().ca.cert.get(), nullptr));

    r = mtls_handshake(cache_.get(), OCSP_CLIENT_POLICY_SOFT, GetParam());
    EXPECT_TRUE(r.ok);
    ASSERT_EQ(log_.lines.size(), 1U);
    EXPECT_NE(log_.lines[0].find("A11CE0"), std::string::npos) << log_.lines[0];
    EXPECT_NE(log_.lines[0].find("soft-fail"), std::string::npos) << log_.lines[0];

    r = mtls_handshake(cache_.get(), OCSP_CLIENT_POLICY_WARN_ONLY, GetParam());
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(log_.lines.size(), 1U);  // counted, not logged
    EXPECT_EQ(daemon.drain().size(), 2U);

    // The daemon publishes; the next handshake finds the answer and sends nothing.
    put_alice(cert_status::good);
    r = mtls_handshake(cache_.get(), OCSP_CLIENT_POLICY_HARD, GetParam());
    EXPECT_TRUE(r.ok);
    EXPECT_TRUE(daemon.drain().empty());
    const auto c = counts();
    EXPECT_EQ(c.no_answer_refused, 1U);
    EXPECT_EQ(c.no_answer_accepted, 2U);
    EXPECT_EQ(c.good, 1U);
    EXPECT_EQ(c.misses_sent, 3U);
    EXPECT_EQ(c.misses_unsent, 0U);
}

TEST_P(client_check_tls, daemon_down_misses_are_counted_unsent) {
    EXPECT_FALSE(mtls_handshake(cache_.get(), OCSP_CLIENT_POLICY_HARD, GetParam()).ok);
    EXPECT_TRUE(mtls_handshake(cache_.get(), OCSP_CLIENT_POLICY_SOFT, GetParam()).ok);
    EXPECT_EQ(counts().misses_unsent, 2U);
    EXPECT_EQ(counts().misses_sent, 0U);
}

TEST_P(client_check_tls, an_expired_permanent_revocation_stays_refused_an_expired_good_is_no_answer) {
    put_alice(cert_status::revoked, /*permanent=*/true, wall_now() - 1s);
    auto r = mtls_handshake(cache_.get(), OCSP_CLIENT_POLICY_SOFT, GetParam());
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.verify_result, X509_V_ERR_CERT_REVOKED);

    put_alice(cert_status::revoked, /*permanent=*/false, wall_now() - 1s);  // an expired certificateHold
    miss_listener daemon(path_);
    EXPECT_TRUE(mtls_handshake(cache_.get(), OCSP_CLIENT_POLICY_SOFT, GetParam()).ok);
    put_alice(cert_status::good, true, wall_now() - 1s);
    EXPECT_FALSE(mtls_handshake(cache_.get(), OCSP_CLIENT_POLICY_HARD, GetParam()).ok);
    EXPECT_EQ(daemon.drain().size(), 2U);  // expired answers are fetched again
}

TEST_P(client_check_tls, the_applications_verify_callback_keeps_the_last_word) {
    put_alice(cert_status::revoked);
    EXPECT_TRUE(mtls_handshake(cache_.get(), OCSP_CLIENT_POLICY_HARD, GetParam(), accept_everything).ok);
}

TEST_P(client_check_tls, chain_mode_checks_the_intermediate_too) {
    const auto& p = client_pki::get();
    put_alice(cert_status::good);
    put(p.root.cert.get(), p.ca.cert.get(), cert_status::revoked, true, wall_now() + 1h);
    EXPECT_TRUE(mtls_handshake(cache_.get(), OCSP_CLIENT_POLICY_HARD, GetParam()).ok);
    const auto r = mtls_handshake(cache_.get(), OCSP_CLIENT_POLICY_HARD | OCSP_CLIENT_CHECK_CHAIN, GetParam());
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.verify_result, X509_V_ERR_CERT_REVOKED);
}

INSTANTIATE_TEST_SUITE_P(versions, client_check_tls, testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const testing::TestParamInfo<int>& i) {
                             return i.param == TLS1_3_VERSION ? std::string("tls13") : std::string("tls12");
                         });

TEST(client_check_api, checks_its_arguments) {
    temp_dir dir;
    std::error_code ec;
    auto w = shm_writer::open(dir / "clients", {8, 1024}, ec);
    ASSERT_TRUE(w);
    ocsp_staple_cache* raw = nullptr;
    ASSERT_EQ(ocsp_staple_cache_open((dir / "clients").c_str(), &raw), OCSP_STAPLE_OK);
    cache_ptr cache{raw};
    ssl_ctx_ptr ctx{SSL_CTX_new(TLS_server_method())};
    EXPECT_EQ(ocsp_client_check_install(nullptr, cache.get(), OCSP_CLIENT_POLICY_HARD), OCSP_STAPLE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ocsp_client_check_install(ctx.get(), nullptr, OCSP_CLIENT_POLICY_HARD), OCSP_STAPLE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ocsp_client_check_install(ctx.get(), cache.get(), 3), OCSP_STAPLE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ocsp_client_check_install(ctx.get(), cache.get(), -1), OCSP_STAPLE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ocsp_client_check_install(ctx.get(), cache.get(), OCSP_CLIENT_POLICY_SOFT | OCSP_CLIENT_CHECK_CHAIN),
              OCSP_STAPLE_OK);
    ocsp_client_check_counts c{};
    EXPECT_EQ(ocsp_client_check_get_counts(nullptr, &c), OCSP_STAPLE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ocsp_client_check_get_counts(cache.get(), nullptr), OCSP_STAPLE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ocsp_client_check_set_log(nullptr, nullptr, nullptr), OCSP_STAPLE_ERR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace ocspkit::stapler
