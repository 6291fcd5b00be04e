// libocspstaple through its C header only: error codes, lookups, and real TLS handshakes over a BIO
// pair with ocsp_staple_install() on the server's SSL_CTX.
#include "ocsp_staple.h"

#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/ossl_ptr.hpp"
#include "common/pem.hpp"
#include "stapler/shm_writer.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/unit/stapler/ocsp_fixtures.hpp"

namespace ocspkit::stapler {
namespace {

using namespace std::chrono_literals;
using ocspkit::test::temp_dir;
using bytes = std::vector<std::uint8_t>;

// libocspstaple reads the wall clock, so entries here are valid until 2100 (or expired since 2000).
constexpr sys_seconds far_future{std::chrono::seconds{4102444800}};
constexpr sys_seconds long_ago{std::chrono::seconds{946684800}};

struct cache_deleter {
    void operator()(ocsp_staple_cache* c) const noexcept { ocsp_staple_cache_free(c); }
};
using cache_ptr = std::unique_ptr<ocsp_staple_cache, cache_deleter>;
using ossl::ssl_ctx_ptr;
using ossl::ssl_ptr;

cache_entry entry(staple_action action, const bytes& der, sys_seconds next_update = far_future,
                  staple_action when_expired = staple_action::no_staple) {
    cache_entry e;
    e.status = cert_status::good;
    e.action = action;
    e.action_when_expired = when_expired;
    e.this_update = long_ago;
    e.next_update = next_update;
    e.der = der;
    return e;
}

cache_ptr open_cache(const std::filesystem::path& path) {
    ocsp_staple_cache* raw = nullptr;
    const int rc = ocsp_staple_cache_open(path.c_str(), &raw);
    EXPECT_EQ(rc, OCSP_STAPLE_OK) << ocsp_staple_error_string(rc);
    return cache_ptr{raw};
}

TEST(c_api, open_reports_error_codes) {
    temp_dir dir;
    ocsp_staple_cache* c = reinterpret_cast<ocsp_staple_cache*>(&dir);  // must be reset to NULL
    EXPECT_EQ(ocsp_staple_cache_open((dir / "absent").c_str(), &c), OCSP_STAPLE_ERR_OPEN);
    EXPECT_EQ(c, nullptr);
    EXPECT_EQ(ocsp_staple_cache_open(nullptr, &c), OCSP_STAPLE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ocsp_staple_cache_open((dir / "absent").c_str(), nullptr), OCSP_STAPLE_ERR_INVALID_ARGUMENT);
    { std::ofstream(dir / "text") << std::string(512, 'x'); }
    EXPECT_EQ(ocsp_staple_cache_open((dir / "text").c_str(), &c), OCSP_STAPLE_ERR_BAD_MAGIC);
    { std::ofstream(dir / "empty"); }
    EXPECT_EQ(ocsp_staple_cache_open((dir / "empty").c_str(), &c), OCSP_STAPLE_ERR_TRUNCATED);
    EXPECT_EQ(c, nullptr);
    ocsp_staple_cache_free(nullptr);
    EXPECT_EQ(ocsp_staple_cache_max_response_len(nullptr), 0U);
}

TEST(c_api, lookup_by_certificate_der) {
    temp_dir dir;
    std::error_code ec;
    auto w = shm_writer::open(dir / "cache", {64, 1024}, ec);
    ASSERT_TRUE(w) << ec.message();
    const bytes cert_a{'c', 'e', 'r', 't', 'A'};
    const bytes cert_b{'c', 'e', 'r', 't', 'B'};
    const bytes cert_c{'c', 'e', 'r', 't', 'C'};
    const bytes staple(700, 0x42);
    ASSERT_FALSE(w->put(*cache_key_of_der(cert_a), entry(staple_action::staple, staple)));
    ASSERT_FALSE(w->put(*cache_key_of_der(cert_b), entry(staple_action::not_servable, {})));
    ASSERT_FALSE(w->put(*cache_key_of_der(cert_c), entry(staple_action::staple, staple, long_ago,
                                                         staple_action::not_servable)));
    auto cache = open_cache(dir / "cache");
    ASSERT_TRUE(cache);
    EXPECT_EQ(ocsp_staple_cache_max_response_len(cache.get()), 960U);

    bytes out(2000);
    std::size_t len = 99;
    int verdict = -1;
    ASSERT_EQ(ocsp_staple_lookup(cache.get(), cert_a.data(), cert_a.size(), out.data(), out.size(), &len, &verdict),
              OCSP_STAPLE_OK);
    EXPECT_EQ(verdict, OCSP_STAPLE_VERDICT_STAPLE);
    ASSERT_EQ(len, staple.size());
    EXPECT_EQ(bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(len)), staple);

    EXPECT_EQ(ocsp_staple_lookup(cache.get(), cert_b.data(), cert_b.size(), out.data(), out.size(), &len, &verdict),
              OCSP_STAPLE_OK);
    EXPECT_EQ(verdict, OCSP_STAPLE_VERDICT_NOT_SERVABLE);
    EXPECT_EQ(len, 0U);

    // Expired since 2000: the fallback verdict, no bytes.
    EXPECT_EQ(ocsp_staple_lookup(cache.get(), cert_c.data(), cert_c.size(), out.data(), out.size(), &len, &verdict),
              OCSP_STAPLE_OK);
    EXPECT_EQ(verdict, OCSP_STAPLE_VERDICT_NOT_SERVABLE);
    EXPECT_EQ(len, 0U);

    const bytes unknown_cert{'n', 'o', 'p', 'e'};
    EXPECT_EQ(ocsp_staple_lookup(cache.get(), unknown_cert.data(), unknown_cert.size(), out.data(), out.size(), &len,
                                 &verdict),
              OCSP_STAPLE_ERR_NOT_FOUND);
    EXPECT_EQ(verdict, OCSP_STAPLE_VERDICT_NO_STAPLE);

    // Size query, then a buffer one byte short.
    EXPECT_EQ(ocsp_staple_lookup(cache.get(), cert_a.data(), cert_a.size(), nullptr, 0, &len, &verdict),
              OCSP_STAPLE_ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(len, staple.size());
    EXPECT_EQ(verdict, OCSP_STAPLE_VERDICT_NO_STAPLE);
    EXPECT_EQ(ocsp_staple_lookup(cache.get(), cert_a.data(), cert_a.size(), out.data(), staple.size() - 1, &len,
                                 &verdict),
              OCSP_STAPLE_ERR_BUFFER_TOO_SMALL);

    // Argument checks.
    EXPECT_EQ(ocsp_staple_lookup(nullptr, cert_a.data(), cert_a.size(), out.data(), out.size(), &len, &verdict),
              OCSP_STAPLE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ocsp_staple_lookup(cache.get(), nullptr, 5, out.data(), out.size(), &len, &verdict),
              OCSP_STAPLE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ocsp_staple_lookup(cache.get(), cert_a.data(), 0, out.data(), out.size(), &len, &verdict),
              OCSP_STAPLE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ocsp_staple_lookup(cache.get(), cert_a.data(), cert_a.size(), nullptr, 10, &len, &verdict),
              OCSP_STAPLE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ocsp_staple_lookup(cache.get(), cert_a.data(), cert_a.size(), out.data(), out.size(), nullptr, &verdict),
              OCSP_STAPLE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ocsp_staple_lookup(cache.get(), cert_a.data(), cert_a.size(), out.data(), out.size(), &len, nullptr),
              OCSP_STAPLE_ERR_INVALID_ARGUMENT);
}

TEST(c_api, a_replaced_file_is_reported) {
    temp_dir dir;
    std::error_code ec;
    const bytes cert{'x'};
    {
        auto w = shm_writer::open(dir / "cache", {16, 256}, ec);
        ASSERT_TRUE(w) << ec.message();
        ASSERT_FALSE(w->put(*cache_key_of_der(cert), entry(staple_action::staple, bytes(10, 1))));
    }
    auto cache = open_cache(dir / "cache");
    auto w = shm_writer::open(dir / "cache", {32, 256}, ec);
    ASSERT_TRUE(w) << ec.message();
    bytes out(256);
    std::size_t len = 0;
    int verdict = -1;
    const int rc = ocsp_staple_lookup(cache.get(), cert.data(), cert.size(), out.data(), out.size(), &len, &verdict);
    EXPECT_EQ(rc, OCSP_STAPLE_ERR_REPLACED);
    EXPECT_EQ(ocsp_staple_error_category(rc), OCSP_STAPLE_CATEGORY_CACHE);
    EXPECT_EQ(verdict, OCSP_STAPLE_VERDICT_NO_STAPLE);
    // Reopening finds the moved entry.
    auto fresh = open_cache(dir / "cache");
    EXPECT_EQ(ocsp_staple_lookup(fresh.get(), cert.data(), cert.size(), out.data(), out.size(), &len, &verdict),
              OCSP_STAPLE_OK);
    EXPECT_EQ(len, 10U);
}

TEST(c_api, error_strings_and_categories) {
    std::set<std::string> seen;
    for (int code = OCSP_STAPLE_OK; code <= OCSP_STAPLE_ERR_INTERNAL; ++code) {
        const char* s = ocsp_staple_error_string(code);
        ASSERT_NE(s, nullptr);
        EXPECT_TRUE(seen.insert(s).second) << "duplicate string for " << code;
        EXPECT_NE(std::string(s), "unknown error");
        // Same wording as the C++ category the codes mirror.
        if (code != OCSP_STAPLE_OK) {
            EXPECT_EQ(make_error_code(static_cast<shm_errc>(code)).message(), s);
        }
    }
    EXPECT_STREQ(ocsp_staple_error_string(-1), "unknown error");
    EXPECT_STREQ(ocsp_staple_error_string(1000), "unknown error");
    EXPECT_EQ(ocsp_staple_error_category(OCSP_STAPLE_OK), OCSP_STAPLE_CATEGORY_OK);
    EXPECT_EQ(ocsp_staple_error_category(OCSP_STAPLE_ERR_NOT_FOUND), OCSP_STAPLE_CATEGORY_MISS);
    EXPECT_EQ(ocsp_staple_error_category(OCSP_STAPLE_ERR_BUSY), OCSP_STAPLE_CATEGORY_MISS);
    EXPECT_EQ(ocsp_staple_error_category(OCSP_STAPLE_ERR_BUFFER_TOO_SMALL), OCSP_STAPLE_CATEGORY_USAGE);
    EXPECT_EQ(ocsp_staple_error_category(OCSP_STAPLE_ERR_BAD_MAGIC), OCSP_STAPLE_CATEGORY_CACHE);
    EXPECT_EQ(ocsp_staple_error_category(OCSP_STAPLE_ERR_NO_MEMORY), OCSP_STAPLE_CATEGORY_INTERNAL);
    EXPECT_EQ(ocsp_staple_error_category(77), OCSP_STAPLE_CATEGORY_INTERNAL);
}

TEST(c_api, install_checks_its_arguments) {
    ssl_ctx_ptr ctx{SSL_CTX_new(TLS_server_method())};
    ASSERT_TRUE(ctx);
    EXPECT_EQ(ocsp_staple_install(nullptr, nullptr), OCSP_STAPLE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ocsp_staple_install(ctx.get(), nullptr), OCSP_STAPLE_ERR_INVALID_ARGUMENT);
}

// --- TLS ---

struct client_seen {
    bool callback_ran = false;
    bytes staple;  // empty: none received
};

int client_status_cb(SSL* ssl, void* arg) {
    auto* seen = static_cast<client_seen*>(arg);
    seen->callback_ran = true;
    const unsigned char* p = nullptr;
    const long len = SSL_get_tlsext_status_ocsp_resp(ssl, &p);
    if (len > 0 && p != nullptr) seen->staple.assign(p, p + len);
    return 1;  // accept; this test checks bytes, not OCSP semantics
}

struct tls_fixture {
    ocspkit::test::issued ca = ocspkit::test::make_ca("TLS Test CA");
    ocspkit::test::issued leaf = ocspkit::test::make_cert(ca, "tls.example");
    ocspkit::test::issued other_leaf = ocspkit::test::make_cert(ca, "other-tls.example");
    bytes response;  // a real signed OCSP response for `leaf`

    tls_fixture() {
        test::single_spec s;
        s.leaf = leaf.cert.get();
        s.issuer = ca.cert.get();
        s.this_update = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) - 1h;
        s.next_update = far_future;
        test::response_spec r;
        r.singles = {s};
        r.signer = ca.cert.get();
        r.key = ca.key.get();
        response = test::make_response(r);
    }
    static const tls_fixture& get() {
        static const tls_fixture instance;
        return instance;
    }
};

struct handshake_result {
    bool ok = false;
    client_seen seen;
};

enum class install_order { after_certificates, before_certificates };

handshake_result handshake(ocsp_staple_cache* cache, const ocspkit::test::issued& server_cert, int tls_version,
                           bool request_status = true, install_order order = install_order::after_certificates) {
    handshake_result out;
    ssl_ctx_ptr server_ctx{SSL_CTX_new(TLS_server_method())};
    ssl_ctx_ptr client_ctx{SSL_CTX_new(TLS_client_method())};
    EXPECT_TRUE(server_ctx && client_ctx);
    // Installed first, the library has no precomputed hash and hashes the certificate per handshake.
    if (order == install_order::before_certificates) {
        EXPECT_EQ(ocsp_staple_install(server_ctx.get(), cache), OCSP_STAPLE_OK);
    }
    EXPECT_EQ(SSL_CTX_use_certificate(server_ctx.get(), server_cert.cert.get()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(server_ctx.get(), server_cert.key.get()), 1);
    if (order == install_order::after_certificates) {
        EXPECT_EQ(ocsp_staple_install(server_ctx.get(), cache), OCSP_STAPLE_OK);
    }
    for (SSL_CTX* c : {server_ctx.get(), client_ctx.get()}) {
        SSL_CTX_set_min_proto_version(c, tls_version);
        SSL_CTX_set_max_proto_version(c, tls_version);
    }
    SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_NONE, nullptr);
    // The SSL_CTX_set_tlsext_status_cb macro hides a C cast; this is the same call without it.
    SSL_CTX_callback_ctrl(client_ctx.get(), SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB,
                          reinterpret_cast<void (*)(void)>(client_status_cb));
    SSL_CTX_set_tlsext_status_arg(client_ctx.get(), &out.seen);

    ssl_ptr server{SSL_new(server_ctx.get())};
    ssl_ptr client{SSL_new(client_ctx.get())};
    BIO* client_bio = nullptr;
    BIO* server_bio = nullptr;
    EXPECT_EQ(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0), 1);
    SSL_set_bio(client.get(), client_bio, client_bio);  // each SSL owns its end
    SSL_set_bio(server.get(), server_bio, server_bio);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());
    if (request_status) SSL_set_tlsext_status_type(client.get(), TLSEXT_STATUSTYPE_ocsp);

    for (int round = 0; round < 20; ++round) {
        const int c = SSL_do_handshake(client.get());
        const int s = SSL_do_handshake(server.get());
        if (c == 1 && s == 1) {
            out.ok = true;
            break;
        }
        const int ce = c == 1 ? SSL_ERROR_NONE : SSL_get_error(client.get(), c);
        const int se = s == 1 ? SSL_ERROR_NONE : SSL_get_error(server.get(), s);
        const auto blocked = [](int e) { return e == SSL_ERROR_NONE || e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE; };
        if (!blocked(ce) || !blocked(se)) break;
    }
    ERR_clear_error();  // a refused handshake leaves its reason queued; that is the expected outcome here
    return out;
}

class c_api_tls : public testing::TestWithParam<int> {
protected:
    void SetUp() override {
        const auto& f = tls_fixture::get();
        std::error_code ec;
        writer_ = shm_writer::open(dir_ / "cache", {64, 4096}, ec);
        ASSERT_TRUE(writer_) << ec.message();
        cache_ = open_cache(dir_ / "cache");
        ASSERT_TRUE(cache_);
        key_ = *cache_key_of(f.leaf.cert.get());
    }
    temp_dir dir_;
    std::unique_ptr<shm_writer> writer_;
    cache_ptr cache_;
    cache_key key_{};
};

TEST_P(c_api_tls, staples_exactly_the_cached_bytes) {
    const auto& f = tls_fixture::get();
    ASSERT_FALSE(writer_->put(key_, entry(staple_action::staple, f.response)));
    const auto r = handshake(cache_.get(), f.leaf, GetParam());
    ASSERT_TRUE(r.ok);
    EXPECT_TRUE(r.seen.callback_ran);
    EXPECT_EQ(r.seen.staple, f.response);
}

TEST_P(c_api_tls, a_certificate_loaded_after_install_is_found_by_its_hash) {
    const auto& f = tls_fixture::get();
    ASSERT_FALSE(writer_->put(key_, entry(staple_action::staple, f.response)));
    const auto r = handshake(cache_.get(), f.leaf, GetParam(), true, install_order::before_certificates);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.seen.staple, f.response);
    ASSERT_FALSE(writer_->put(key_, entry(staple_action::not_servable, {})));
    EXPECT_FALSE(handshake(cache_.get(), f.leaf, GetParam(), true, install_order::before_certificates).ok);
}

TEST_P(c_api_tls, follows_updates_without_reopening) {
    const auto& f = tls_fixture::get();
    ASSERT_FALSE(writer_->put(key_, entry(staple_action::staple, bytes(64, 0x11))));
    EXPECT_EQ(handshake(cache_.get(), f.leaf, GetParam()).seen.staple, bytes(64, 0x11));
    ASSERT_FALSE(writer_->put(key_, entry(staple_action::staple, f.response)));
    EXPECT_EQ(handshake(cache_.get(), f.leaf, GetParam()).seen.staple, f.response);
}

TEST_P(c_api_tls, no_staple_verdict_completes_without_a_staple) {
    const auto& f = tls_fixture::get();
    ASSERT_FALSE(writer_->put(key_, entry(staple_action::no_staple, {})));
    const auto r = handshake(cache_.get(), f.leaf, GetParam());
    EXPECT_TRUE(r.ok);
    EXPECT_TRUE(r.seen.staple.empty());
}

TEST_P(c_api_tls, a_certificate_not_in_the_cache_gets_no_staple) {
    const auto& f = tls_fixture::get();
    ASSERT_FALSE(writer_->put(key_, entry(staple_action::staple, f.response)));
    const auto r = handshake(cache_.get(), f.other_leaf, GetParam());
    EXPECT_TRUE(r.ok);
    EXPECT_TRUE(r.seen.staple.empty());
}

TEST_P(c_api_tls, an_expired_staple_is_not_sent) {
    const auto& f = tls_fixture::get();
    ASSERT_FALSE(writer_->put(key_, entry(staple_action::staple, f.response, long_ago, staple_action::no_staple)));
    const auto r = handshake(cache_.get(), f.leaf, GetParam());
    EXPECT_TRUE(r.ok);
    EXPECT_TRUE(r.seen.staple.empty());
}

TEST_P(c_api_tls, not_servable_fails_the_handshake) {
    const auto& f = tls_fixture::get();
    ASSERT_FALSE(writer_->put(key_, entry(staple_action::not_servable, {})));
    EXPECT_FALSE(handshake(cache_.get(), f.leaf, GetParam()).ok);
    // So does a hard-policy entry whose response expired.
    ASSERT_FALSE(writer_->put(key_, entry(staple_action::staple, f.response, long_ago, staple_action::not_servable)));
    EXPECT_FALSE(handshake(cache_.get(), f.leaf, GetParam()).ok);
}

TEST_P(c_api_tls, clients_that_do_not_ask_are_not_affected) {
    // OpenSSL runs the status callback only for clients that send status_request.
    const auto& f = tls_fixture::get();
    ASSERT_FALSE(writer_->put(key_, entry(staple_action::not_servable, {})));
    const auto r = handshake(cache_.get(), f.leaf, GetParam(), /*request_status=*/false);
    EXPECT_TRUE(r.ok);
    EXPECT_TRUE(r.seen.staple.empty());
}

INSTANTIATE_TEST_SUITE_P(stapler, c_api_tls, testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const testing::TestParamInfo<int>& p) {
                             return std::string(p.param == TLS1_3_VERSION ? "tls13" : "tls12");
                         });

}  // namespace
}  // namespace ocspkit::stapler
