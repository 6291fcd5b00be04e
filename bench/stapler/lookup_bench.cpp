// How long a TLS handshake spends in libocspstaple: nanoseconds per lookup, measured with a plain
// steady_clock loop. Goal: <= 1 us for the status callback.
//
//   stapler_lookup_bench [ITERATIONS] [ENTRIES] [RESPONSE_BYTES]
//
// Reports, for a cache of ENTRIES entries (default 10000) of RESPONSE_BYTES each (default 1500):
//   reader.lookup   shm_reader::lookup by a precomputed key (copy of the DER included)
//   reader.miss     the same for a key that is absent
//   c.lookup        ocsp_staple_lookup() from certificate DER (SHA-256 of the DER included)
//   callback        the SSL_CTX status callback that ocsp_staple_install() sets, called directly on an
//                   SSL: key found by certificate pointer (hashed at install), lookup, OPENSSL_malloc,
//                   SSL_set_tlsext_status_ocsp_resp (which frees the previous iteration's staple)
//   client.check    what ocsp_client_check_install()'s callback adds to OpenSSL's chain verification
//                   for a client certificate: the issuer's SHA-1 key hash, the client key (SHA-256),
//                   lookup_status() in a client cache of ENTRIES entries, the verdict
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/ossl_ptr.hpp"
#include "ocsp_staple.h"
#include "stapler/client_check.hpp"
#include "stapler/shm_writer.hpp"

namespace {

using namespace ocspkit::stapler;
using clock_type = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "stapler_lookup_bench: %s\n", what);
    ERR_print_errors_fp(stderr);
    std::exit(1);
}

// A self-signed P-256 certificate of realistic size, made here so that the benchmark needs no test code.
struct self_signed {
    ocspkit::ossl::x509_ptr cert_owner{X509_new()};
    ocspkit::ossl::evp_pkey_ptr key_owner{EVP_EC_gen("P-256")};
    X509* cert = cert_owner.get();
    EVP_PKEY* key = key_owner.get();
    self_signed() {
        if (key == nullptr || cert == nullptr) die("key generation");
        X509_set_version(cert, X509_VERSION_3);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 0x1234567);
        X509_gmtime_adj(X509_getm_notBefore(cert), 0);
        X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * 365);
        X509_NAME* name = X509_get_subject_name(cert);
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("ocspkit bench"), -1, -1, 0);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("bench.example"), -1, -1, 0);
        X509_set_issuer_name(cert, name);
        X509_set_pubkey(cert, key);
        if (X509_sign(cert, key, EVP_sha256()) <= 0) die("X509_sign");
        // Servers load certificates from files. A parsed X509 keeps its DER and re-encodes cheaply; a
        // freshly signed one re-encodes its public key on every i2d, which would skew the callback.
        const auto encoded = der();
        const unsigned char* p = encoded.data();
        cert_owner.reset(d2i_X509(nullptr, &p, static_cast<long>(encoded.size())));
        cert = cert_owner.get();
        if (cert == nullptr) die("d2i_X509");
    }
    std::vector<std::uint8_t> der() const {
        const int len = i2d_X509(cert, nullptr);
        std::vector<std::uint8_t> out(static_cast<std::size_t>(len));
        unsigned char* p = out.data();
        i2d_X509(cert, &p);
        return out;
    }
};

using ocspkit::ossl::ssl_ctx_ptr;
using ocspkit::ossl::ssl_ptr;
using ocspkit::ossl::evp_md_ptr;
using cache_ptr = std::unique_ptr<ocsp_staple_cache, ocspkit::ossl::deleter<ocsp_staple_cache_free>>;

template <class F>
double ns_per_op(long iterations, F&& f) {
    for (long i = 0; i < iterations / 10; ++i) f(i);  // warm-up
    const auto start = clock_type::now();
    for (long i = 0; i < iterations; ++i) f(i);
    const auto elapsed = std::chrono::duration<double, std::nano>(clock_type::now() - start);
    return elapsed.count() / static_cast<double>(iterations);
}

cache_key key_n(std::uint32_t n) {
    std::vector<std::uint8_t> seed(8);
    for (int i = 0; i < 4; ++i) seed[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
    return *cache_key_of_der(seed);
}

}  // namespace

int main(int argc, char** argv) {
    const long iterations = argc > 1 ? std::atol(argv[1]) : 2'000'000;
    const std::uint32_t entries = argc > 2 ? static_cast<std::uint32_t>(std::atol(argv[2])) : 10'000;
    const std::size_t response_len = argc > 3 ? static_cast<std::size_t>(std::atol(argv[3])) : 1500;
    if (iterations <= 0 || entries == 0 || response_len == 0 || response_len > 4032) die("bad arguments");

    std::string dir_template = (std::filesystem::temp_directory_path() / "stapler-bench-XXXXXX").string();
    if (::mkdtemp(dir_template.data()) == nullptr) die("mkdtemp");
    const std::filesystem::path dir = dir_template;
    const auto path = dir / "cache";

    self_signed leaf;
    const auto leaf_der = leaf.der();
    const std::vector<std::uint8_t> response(response_len, 0x5a);
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    const cache_entry e{cert_status::good, staple_action::staple, staple_action::no_staple, now - std::chrono::hours{1},
                        now + std::chrono::hours{24 * 7}, response};

    std::error_code ec;
    auto writer = shm_writer::open(path, {entries * 2, 4096}, ec);
    if (!writer) die(ec.message().c_str());
    for (std::uint32_t i = 0; i + 1 < entries; ++i) {
        if (writer->put(key_n(i), e)) die("put");
    }
    if (writer->put(*cache_key_of(leaf.cert), e)) die("put leaf");

    auto reader = shm_reader::open(path.c_str(), ec);
    if (!reader) die(ec.message().c_str());
    std::vector<cache_key> keys;
    for (std::uint32_t i = 0; i < std::min<std::uint32_t>(entries - 1, 4096); ++i) keys.push_back(key_n(i));
    const cache_key absent = key_n(entries + 12345);
    std::vector<std::uint8_t> buf(reader->max_der_len());
    std::size_t sink = 0;

    const double t_lookup = ns_per_op(iterations, [&](long i) {
        lookup_result r;
        (void)reader->lookup(keys[static_cast<std::size_t>(i) % keys.size()], buf, now, r);
        sink += r.der_len;
    });
    const double t_miss = ns_per_op(iterations, [&](long) {
        lookup_result r;
        sink += reader->lookup(absent, buf, now, r) ? 1 : 0;
    });

    ocsp_staple_cache* raw_cache = nullptr;
    if (ocsp_staple_cache_open(path.c_str(), &raw_cache) != OCSP_STAPLE_OK) die("ocsp_staple_cache_open");
    const cache_ptr cache{raw_cache};
    const double t_c = ns_per_op(iterations, [&](long) {
        std::size_t len = 0;
        int verdict = 0;
        if (ocsp_staple_lookup(cache.get(), leaf_der.data(), leaf_der.size(), buf.data(), buf.size(), &len, &verdict) !=
            OCSP_STAPLE_OK) {
            die("ocsp_staple_lookup");
        }
        sink += len;
    });

    const ssl_ctx_ptr ctx{SSL_CTX_new(TLS_server_method())};
    if (!ctx || SSL_CTX_use_certificate(ctx.get(), leaf.cert) != 1 || SSL_CTX_use_PrivateKey(ctx.get(), leaf.key) != 1 ||
        ocsp_staple_install(ctx.get(), cache.get()) != OCSP_STAPLE_OK) {
        die("SSL_CTX setup");
    }
    // The callback ocsp_staple_install() set, fetched back so that it can be timed without a handshake.
    // (SSL_CTX_get_tlsext_status_cb is a macro with a C cast; this is the same call without it.)
    int (*callback)(SSL*, void*) = nullptr;
    SSL_CTX_ctrl(ctx.get(), SSL_CTRL_GET_TLSEXT_STATUS_REQ_CB, 0, reinterpret_cast<void*>(&callback));
    void* arg = nullptr;
    SSL_CTX_get_tlsext_status_arg(ctx.get(), &arg);
    const ssl_ptr ssl{SSL_new(ctx.get())};
    if (callback == nullptr || !ssl) die("callback");
    const long callback_iterations = iterations / 4;
    const double t_cb = ns_per_op(callback_iterations, [&](long) {
        if (callback(ssl.get(), arg) != SSL_TLSEXT_ERR_OK) die("callback did not staple");
    });

    // The client cache: the same entries, the leaf filed under its client key (itself as the issuer).
    const auto client_path = dir / "clients";
    auto client_writer = shm_writer::open(client_path, {entries * 2, 4096}, ec);
    if (!client_writer) die(ec.message().c_str());
    for (std::uint32_t i = 0; i + 1 < entries; ++i) {
        if (client_writer->put(key_n(i), e)) die("put");
    }
    evp_md_ptr sha1{EVP_MD_fetch(nullptr, "SHA1", nullptr)};
    evp_md_ptr sha256{EVP_MD_fetch(nullptr, "SHA256", nullptr)};
    const auto leaf_key_hash = issuer_key_sha1(leaf.cert, sha1.get());
    if (!leaf_key_hash) die("issuer_key_sha1");
    if (client_writer->put(*client_cache_key(*leaf_key_hash, X509_get0_serialNumber(leaf.cert), sha256.get()), e))
        die("put client");
    auto client_reader = shm_reader::open(client_path.c_str(), ec);
    if (!client_reader) die(ec.message().c_str());
    const double t_client = ns_per_op(iterations, [&](long) {
        const auto key_hash = issuer_key_sha1(leaf.cert, sha1.get());
        const auto key = client_cache_key(*key_hash, X509_get0_serialNumber(leaf.cert), sha256.get());
        lookup_result r;
        const auto found = client_reader->lookup_status(*key, now, r);
        if (decide(client_answer_of(found, r), client_policy::hard) != client_verdict::accept) die("client check");
        sink += r.der_len;
    });

    std::printf("entries=%u response_bytes=%zu cert_der_bytes=%zu iterations=%ld\n", entries, response_len,
                leaf_der.size(), iterations);
    std::printf("reader.lookup  %8.1f ns/op\n", t_lookup);
    std::printf("reader.miss    %8.1f ns/op\n", t_miss);
    std::printf("c.lookup       %8.1f ns/op   (incl. SHA-256 of the certificate)\n", t_c);
    std::printf("callback       %8.1f ns/op   (key precomputed at install + lookup + OPENSSL_malloc + set_ocsp_resp)\n", t_cb);
    std::printf("client.check   %8.1f ns/op   (issuer key SHA-1 + client key SHA-256 + lookup_status + verdict)\n",
                t_client);
    std::fprintf(stderr, "(checksum %zu)\n", sink);

    client_reader.reset();
    client_writer.reset();
    reader.reset();
    writer.reset();
    std::filesystem::remove_all(dir, ec);
    return 0;
}
