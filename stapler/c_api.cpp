// libocspstaple: the C face of shm_reader, for the server's own certificates (client checks are in
// c_api_client_check.cpp). Every exported function catches everything (house rule 10:
// no exception crosses the C ABI), never logs, and leaves OpenSSL's error queue as it found it on the
// paths that can fail.
#include "ocsp_staple.h"

#include <chrono>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/ossl_ptr.hpp"
#include "stapler/c_api_cache.hpp"
#include "stapler/shm_reader.hpp"

namespace stapler = ocspkit::stapler;
namespace c_api = ocspkit::stapler::c_api;

// The C numbering is the shm_errc numbering; the tests and the error strings rely on it.
static_assert(OCSP_STAPLE_ERR_INVALID_ARGUMENT == static_cast<int>(stapler::shm_errc::invalid_argument));
static_assert(OCSP_STAPLE_ERR_NOT_FOUND == static_cast<int>(stapler::shm_errc::not_found));
static_assert(OCSP_STAPLE_ERR_BUFFER_TOO_SMALL == static_cast<int>(stapler::shm_errc::buffer_too_small));
static_assert(OCSP_STAPLE_ERR_BUSY == static_cast<int>(stapler::shm_errc::busy));
static_assert(OCSP_STAPLE_ERR_OPEN == static_cast<int>(stapler::shm_errc::open_failed));
static_assert(OCSP_STAPLE_ERR_BAD_MAGIC == static_cast<int>(stapler::shm_errc::bad_magic));
static_assert(OCSP_STAPLE_ERR_UNSUPPORTED_VERSION == static_cast<int>(stapler::shm_errc::unsupported_version));
static_assert(OCSP_STAPLE_ERR_TRUNCATED == static_cast<int>(stapler::shm_errc::truncated));
static_assert(OCSP_STAPLE_ERR_CORRUPT == static_cast<int>(stapler::shm_errc::corrupt));
static_assert(OCSP_STAPLE_ERR_REPLACED == static_cast<int>(stapler::shm_errc::replaced));
static_assert(OCSP_STAPLE_ERR_NO_MEMORY == static_cast<int>(stapler::shm_errc::no_memory));
static_assert(OCSP_STAPLE_ERR_INTERNAL == static_cast<int>(stapler::shm_errc::internal));
static_assert(OCSP_STAPLE_VERDICT_STAPLE == static_cast<int>(stapler::staple_action::staple));
static_assert(OCSP_STAPLE_VERDICT_NO_STAPLE == static_cast<int>(stapler::staple_action::no_staple));
static_assert(OCSP_STAPLE_VERDICT_NOT_SERVABLE == static_cast<int>(stapler::staple_action::not_servable));

namespace {

using ocspkit::ossl::evp_md_ptr;

using c_api::known_cert;
using c_api::staple_binding;
using c_api::to_c_error;
using c_api::wall_clock_now;

int lookup_key(const ocsp_staple_cache* cache, const stapler::cache_key& key, uint8_t* out, size_t out_cap,
               size_t* out_len, int* out_verdict) noexcept {
    stapler::lookup_result r;
    const std::error_code ec =
        cache->reader.lookup(key, std::span<std::uint8_t>{out, out == nullptr ? 0 : out_cap}, wall_clock_now(), r);
    if (ec) {
        *out_len = ec == stapler::shm_errc::buffer_too_small ? r.der_len : 0;
        return to_c_error(ec);
    }
    *out_verdict = static_cast<int>(r.action);
    *out_len = r.action == stapler::staple_action::staple ? r.der_len : 0;
    return OCSP_STAPLE_OK;
}

bool digest_cert(const ocsp_staple_cache* cache, X509* cert, stapler::cache_key& key) noexcept {
    unsigned int len = 0;
    if (X509_digest(cert, cache->sha256.get(), key.data(), &len) != 1 || len != key.size()) {
        ERR_clear_error();
        return false;
    }
    return true;
}

// The server's OCSP status callback (SSL_CTX_set_tlsext_status_cb). OpenSSL calls it after choosing the
// certificate, only when the client sent status_request. It only compares pointers, copies bytes, and
// hashes a certificate that was not on the SSL_CTX at install time (house rule 11).
//
// Why hashes are precomputed per binding rather than per handshake or in X509 ex_data: hashing costs
// about 0.5-1 us per handshake (DER re-encoding, allocation, SHA-256), which is most of the callback;
// ex_data written from concurrent handshakes on a shared X509 would race. The SSL shares the SSL_CTX's
// X509 objects, so a pointer comparison finds them, and the binding's reference keeps a pointer from
// being reused by another certificate.
int status_callback(SSL* ssl, void* arg) noexcept {
    try {
        const auto* b = static_cast<const staple_binding*>(arg);
        X509* cert = SSL_get_certificate(ssl);
        if (b == nullptr || cert == nullptr) return SSL_TLSEXT_ERR_NOACK;
        const ocsp_staple_cache* cache = b->cache;
        stapler::cache_key key{};
        const known_cert* known = nullptr;
        for (const auto& k : b->known) {
            if (k.cert.get() == cert) {
                known = &k;
                break;
            }
        }
        if (known != nullptr) {
            key = known->key;
        } else if (!digest_cert(cache, cert, key)) {
            return SSL_TLSEXT_ERR_NOACK;
        }

        const size_t cap = cache->reader.max_der_len();
        auto* buf = static_cast<uint8_t*>(OPENSSL_malloc(cap));
        if (buf == nullptr) {
            ERR_clear_error();
            return SSL_TLSEXT_ERR_NOACK;
        }
        size_t len = 0;
        int verdict = OCSP_STAPLE_VERDICT_NO_STAPLE;
        const int rc = lookup_key(cache, key, buf, cap, &len, &verdict);
        if (rc == OCSP_STAPLE_OK && verdict == OCSP_STAPLE_VERDICT_STAPLE) {
            // OpenSSL takes ownership of `buf` and frees it with the SSL.
            if (SSL_set_tlsext_status_ocsp_resp(ssl, buf, static_cast<long>(len)) == 1) return SSL_TLSEXT_ERR_OK;
            ERR_clear_error();
        }
        OPENSSL_free(buf);
        if (rc == OCSP_STAPLE_OK && verdict == OCSP_STAPLE_VERDICT_NOT_SERVABLE) return SSL_TLSEXT_ERR_ALERT_FATAL;
        return SSL_TLSEXT_ERR_NOACK;
    } catch (...) {
        return SSL_TLSEXT_ERR_NOACK;
    }
}

}  // namespace

int c_api::to_c_error(const std::error_code& ec) noexcept {
    if (!ec) return OCSP_STAPLE_OK;
    if (ec.category() == stapler::shm_category()) {
        const int v = ec.value();
        return v >= OCSP_STAPLE_ERR_INVALID_ARGUMENT && v <= OCSP_STAPLE_ERR_INTERNAL ? v : OCSP_STAPLE_ERR_INTERNAL;
    }
    return OCSP_STAPLE_ERR_OPEN;  // a failing open(2), fstat(2) or mmap(2); errno still holds the cause
}

extern "C" {

int ocsp_staple_cache_open(const char* path, ocsp_staple_cache** out_cache) {
    if (out_cache == nullptr) return OCSP_STAPLE_ERR_INVALID_ARGUMENT;
    *out_cache = nullptr;
    try {
        std::error_code ec;
        auto reader = stapler::shm_reader::open(path, ec);
        if (!reader) return to_c_error(ec);
        evp_md_ptr md{EVP_MD_fetch(nullptr, "SHA256", nullptr)};
        if (!md) {
            ERR_clear_error();
            return OCSP_STAPLE_ERR_INTERNAL;
        }
        evp_md_ptr sha1{EVP_MD_fetch(nullptr, "SHA1", nullptr)};
        if (!sha1) {
            ERR_clear_error();
            return OCSP_STAPLE_ERR_INTERNAL;
        }
        *out_cache = new ocsp_staple_cache(std::move(*reader), std::move(md), std::move(sha1), path);
        return OCSP_STAPLE_OK;
    } catch (const std::bad_alloc&) {
        return OCSP_STAPLE_ERR_NO_MEMORY;
    } catch (...) {
        return OCSP_STAPLE_ERR_INTERNAL;
    }
}

void ocsp_staple_cache_free(ocsp_staple_cache* cache) {
    try {
        delete cache;
    } catch (...) {
    }
}

size_t ocsp_staple_cache_max_response_len(const ocsp_staple_cache* cache) {
    return cache == nullptr ? 0 : cache->reader.max_der_len();
}

int ocsp_staple_lookup(const ocsp_staple_cache* cache, const uint8_t* cert_der, size_t cert_der_len, uint8_t* out,
                       size_t out_cap, size_t* out_len, int* out_verdict) {
    try {
        if (out_len != nullptr) *out_len = 0;
        if (out_verdict != nullptr) *out_verdict = OCSP_STAPLE_VERDICT_NO_STAPLE;
        if (cache == nullptr || cert_der == nullptr || cert_der_len == 0 || out_len == nullptr ||
            out_verdict == nullptr || (out == nullptr && out_cap != 0)) {
            return OCSP_STAPLE_ERR_INVALID_ARGUMENT;
        }
        stapler::cache_key key{};
        unsigned int len = 0;
        if (EVP_Digest(cert_der, cert_der_len, key.data(), &len, cache->sha256.get(), nullptr) != 1 ||
            len != key.size()) {
            ERR_clear_error();
            return OCSP_STAPLE_ERR_INTERNAL;
        }
        return lookup_key(cache, key, out, out_cap, out_len, out_verdict);
    } catch (...) {
        return OCSP_STAPLE_ERR_INTERNAL;
    }
}

const char* ocsp_staple_error_string(int error) {
    switch (error) {
    case OCSP_STAPLE_OK: return "success";
    case OCSP_STAPLE_ERR_INVALID_ARGUMENT: return "invalid argument";
    case OCSP_STAPLE_ERR_NOT_FOUND: return "no entry for this certificate";
    case OCSP_STAPLE_ERR_BUFFER_TOO_SMALL: return "buffer too small for the response";
    case OCSP_STAPLE_ERR_BUSY: return "entry was being rewritten; try again";
    case OCSP_STAPLE_ERR_OPEN: return "cannot open or map the cache file";
    case OCSP_STAPLE_ERR_BAD_MAGIC: return "not a staple cache file";
    case OCSP_STAPLE_ERR_UNSUPPORTED_VERSION: return "unsupported cache layout version";
    case OCSP_STAPLE_ERR_TRUNCATED: return "cache file is truncated";
    case OCSP_STAPLE_ERR_CORRUPT: return "cache file is corrupt";
    case OCSP_STAPLE_ERR_REPLACED: return "cache file was replaced; reopen it";
    case OCSP_STAPLE_ERR_NO_MEMORY: return "out of memory";
    case OCSP_STAPLE_ERR_INTERNAL: return "internal error";
    default: return "unknown error";
    }
}

int ocsp_staple_error_category(int error) {
    switch (error) {
    case OCSP_STAPLE_OK: return OCSP_STAPLE_CATEGORY_OK;
    case OCSP_STAPLE_ERR_NOT_FOUND:
    case OCSP_STAPLE_ERR_BUSY: return OCSP_STAPLE_CATEGORY_MISS;
    case OCSP_STAPLE_ERR_INVALID_ARGUMENT:
    case OCSP_STAPLE_ERR_BUFFER_TOO_SMALL: return OCSP_STAPLE_CATEGORY_USAGE;
    case OCSP_STAPLE_ERR_OPEN:
    case OCSP_STAPLE_ERR_BAD_MAGIC:
    case OCSP_STAPLE_ERR_UNSUPPORTED_VERSION:
    case OCSP_STAPLE_ERR_TRUNCATED:
    case OCSP_STAPLE_ERR_CORRUPT:
    case OCSP_STAPLE_ERR_REPLACED: return OCSP_STAPLE_CATEGORY_CACHE;
    default: return OCSP_STAPLE_CATEGORY_INTERNAL;
    }
}

int ocsp_staple_install(struct ssl_ctx_st* ctx, ocsp_staple_cache* cache) {
    try {
        if (ctx == nullptr || cache == nullptr) return OCSP_STAPLE_ERR_INVALID_ARGUMENT;
        auto b = std::make_unique<staple_binding>();
        b->cache = cache;
        // Hash every certificate the context holds now (one per key type). Walking them moves the
        // context's "current certificate", which later SSL_CTX_use_PrivateKey calls depend on, so it is
        // put back afterwards.
        X509* current = SSL_CTX_get0_certificate(ctx);
        for (long more = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); more == 1;
             more = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
            X509* cert = SSL_CTX_get0_certificate(ctx);
            known_cert k{};
            if (cert == nullptr || !digest_cert(cache, cert, k.key)) continue;
            X509_up_ref(cert);
            k.cert.reset(cert);
            b->known.push_back(std::move(k));
        }
        for (long more = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST);
             more == 1 && SSL_CTX_get0_certificate(ctx) != current;
             more = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
        }
        ERR_clear_error();

        staple_binding* arg = b.get();
        {
            const std::lock_guard lock(cache->bindings_mutex);
            cache->bindings.push_back(std::move(b));
        }
        if (SSL_CTX_set_tlsext_status_cb(ctx, status_callback) != 1 || SSL_CTX_set_tlsext_status_arg(ctx, arg) != 1) {
            ERR_clear_error();
            return OCSP_STAPLE_ERR_INTERNAL;
        }
        return OCSP_STAPLE_OK;
    } catch (const std::bad_alloc&) {
        return OCSP_STAPLE_ERR_NO_MEMORY;
    } catch (...) {
        return OCSP_STAPLE_ERR_INTERNAL;
    }
}

}  // extern "C"
