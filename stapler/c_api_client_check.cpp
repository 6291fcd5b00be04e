// libocspstaple's client-certificate check (ocsp_client_check_install): OpenSSL's chain verification,
// then the verdict of the client cache (stapler/client_check.hpp) for the leaf, or for every certificate
// below the trust anchor. Like the rest of the C face it never throws across the ABI, never blocks and
// leaves OpenSSL's error queue as it found it; the one system call is the miss datagram.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include <fcntl.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "ocsp_staple.h"
#include "stapler/c_api_cache.hpp"
#include "stapler/client_check.hpp"

namespace stapler = ocspkit::stapler;
namespace c_api = ocspkit::stapler::c_api;

static_assert(OCSP_CLIENT_POLICY_HARD == static_cast<int>(stapler::client_policy::hard));
static_assert(OCSP_CLIENT_POLICY_SOFT == static_cast<int>(stapler::client_policy::soft));
static_assert(OCSP_CLIENT_POLICY_WARN_ONLY == static_cast<int>(stapler::client_policy::warn_only));

c_api::miss_socket::miss_socket(const char* cache_path) noexcept {
    address.sun_family = AF_UNIX;
    const std::size_t base = cache_path == nullptr ? 0 : std::strlen(cache_path);
    const auto suffix = stapler::client_miss_socket_suffix;
    if (base == 0 || base + suffix.size() >= sizeof address.sun_path) return;  // unusable: misses unsent
    std::memcpy(address.sun_path, cache_path, base);
    std::memcpy(address.sun_path + base, suffix.data(), suffix.size());
    address_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + base + suffix.size() + 1);
}

c_api::miss_socket::~miss_socket() {
    if (const int s = fd.load(); s >= 0) ::close(s);
}

bool c_api::miss_socket::ready() noexcept {
    if (fd.load() >= 0) return true;  // installs are serialised by the cache's bindings_mutex
    fd.store(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    return fd.load() >= 0;
}

bool c_api::miss_socket::send(const std::uint8_t* data, std::size_t len) const noexcept {
    const int s = fd.load(std::memory_order_acquire);
    if (s < 0 || address_len == 0) return false;
    const int saved_errno = errno;  // the server's errno is not ours to change
    const ssize_t sent = ::sendto(s, data, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                                  reinterpret_cast<const sockaddr*>(&address), address_len);
    errno = saved_errno;
    return sent == static_cast<ssize_t>(len);
}

namespace {

// Serial as uppercase hex, into `out` (for the soft-fail log line); truncated if it does not fit.
void serial_hex(const ASN1_INTEGER* serial, char* out, std::size_t cap) noexcept {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::size_t at = 0;
    const unsigned char* data = ASN1_STRING_get0_data(serial);
    const int len = ASN1_STRING_length(serial);
    for (int i = 0; i < len && at + 2 < cap; ++i) {
        out[at++] = digits[data[i] >> 4];
        out[at++] = digits[data[i] & 0xf];
    }
    out[at] = '\0';
}

void log_soft_accept(ocsp_staple_cache* cache, X509* cert, std::size_t depth) noexcept {
    const ocsp_client_check_log_fn fn = cache->log_fn.load();
    if (fn == nullptr) return;
    char serial[2 * 64 + 1];
    serial_hex(X509_get0_serialNumber(cert), serial, sizeof serial);
    char issuer[256];
    if (X509_NAME_oneline(X509_get_issuer_name(cert), issuer, sizeof issuer) == nullptr) {
        ERR_clear_error();
        std::strcpy(issuer, "?");
    }
    char line[512];
    std::snprintf(line, sizeof line,
                  "client certificate serial %s (issuer %s, chain depth %zu): no OCSP answer in the client cache; "
                  "accepted (soft-fail)",
                  serial, issuer, depth);
    fn(cache->log_arg.load(), line);
}

// Tells the daemon about a certificate the cache has no usable answer for.
void send_miss(ocsp_staple_cache* cache, X509* issuer, const stapler::sha1_digest& key_hash,
               const ASN1_INTEGER* serial) noexcept {
    const auto name_hash = stapler::issuer_name_sha1(issuer, cache->sha1.get());
    std::uint8_t datagram[stapler::client_miss_max_size];
    const std::size_t len =
        name_hash ? stapler::encode_client_miss(*name_hash, key_hash, serial, std::span(datagram)) : 0;
    if (len != 0 && cache->misses.send(datagram, len)) {
        cache->counts.misses_sent.fetch_add(1, std::memory_order_relaxed);
    } else {
        cache->counts.misses_unsent.fetch_add(1, std::memory_order_relaxed);
    }
}

// The verdict for `cert`, issued by `issuer`; counts it.
stapler::client_verdict check_one(const c_api::client_binding& b, X509* cert, X509* issuer, std::size_t depth) noexcept {
    ocsp_staple_cache* cache = b.cache;
    const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
    const auto key_hash = stapler::issuer_key_sha1(issuer, cache->sha1.get());
    const auto key = key_hash ? stapler::client_cache_key(*key_hash, serial, cache->sha256.get()) : std::nullopt;
    stapler::lookup_result found;
    std::error_code ec = stapler::shm_errc::internal;
    if (key) ec = cache->reader.lookup_status(*key, c_api::wall_clock_now(), found);
    const auto answer = stapler::client_answer_of(ec, found);
    // Never asked, or its answer expired: the daemon fetches it for the next handshake. (A slot being
    // rewritten, or an unusable cache, is not the daemon's to mend.)
    if (key_hash && answer == stapler::client_answer::none && (ec == stapler::shm_errc::not_found || !ec))
        send_miss(cache, issuer, *key_hash, serial);

    const auto verdict = stapler::decide(answer, b.policy);
    auto& counts = cache->counts;
    switch (verdict) {
        case stapler::client_verdict::accept:
            if (answer == stapler::client_answer::good) {
                counts.good.fetch_add(1, std::memory_order_relaxed);
            } else {
                counts.no_answer_accepted.fetch_add(1, std::memory_order_relaxed);
                if (b.policy == stapler::client_policy::soft) log_soft_accept(cache, cert, depth);
            }
            break;
        case stapler::client_verdict::refuse_revoked: counts.revoked.fetch_add(1, std::memory_order_relaxed); break;
        case stapler::client_verdict::refuse_unknown: counts.unknown.fetch_add(1, std::memory_order_relaxed); break;
        case stapler::client_verdict::refuse_no_answer:
            counts.no_answer_refused.fetch_add(1, std::memory_order_relaxed);
            break;
    }
    return verdict;
}

int verify_error_of(stapler::client_verdict v) noexcept {
    switch (v) {
        case stapler::client_verdict::refuse_revoked: return X509_V_ERR_CERT_REVOKED;
        case stapler::client_verdict::refuse_unknown: return X509_V_ERR_OCSP_CERT_UNKNOWN;
        case stapler::client_verdict::refuse_no_answer: return X509_V_ERR_OCSP_VERIFY_FAILED;
        case stapler::client_verdict::accept: break;
    }
    return X509_V_OK;
}

// SSL_CTX_set_cert_verify_callback: OpenSSL's verification first, then the cache for each certificate
// to check. A refusal is offered to the application's verify callback as OpenSSL offers its own errors,
// so a server that overrides verification errors keeps doing so; ssl_verify_alarm_type() turns the
// error into the alert (certificate_revoked for a revoked certificate).
int verify_client(X509_STORE_CTX* store, void* arg) noexcept {
    const int verified = X509_verify_cert(store);
    if (verified <= 0) return verified;
    const auto* b = static_cast<const c_api::client_binding*>(arg);
    STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(store);
    const int n = chain == nullptr ? 0 : sk_X509_num(chain);
    // The last certificate is the trust anchor: it has no issuer to ask about.
    const int checked = b->whole_chain ? n - 1 : std::min(n - 1, 1);
    for (int depth = 0; depth < checked; ++depth) {
        X509* cert = sk_X509_value(chain, depth);
        const auto verdict = check_one(*b, cert, sk_X509_value(chain, depth + 1), static_cast<std::size_t>(depth));
        if (verdict == stapler::client_verdict::accept) continue;
        X509_STORE_CTX_set_error_depth(store, depth);
        X509_STORE_CTX_set_current_cert(store, cert);
        X509_STORE_CTX_set_error(store, verify_error_of(verdict));
        const X509_STORE_CTX_verify_cb app_callback = X509_STORE_CTX_get_verify_cb(store);
        if (app_callback != nullptr && app_callback(0, store) != 0) continue;
        return 0;
    }
    return 1;
}

}  // namespace

extern "C" {

int ocsp_client_check_install(struct ssl_ctx_st* ctx, ocsp_staple_cache* cache, int policy) {
    try {
        const int base = policy & ~OCSP_CLIENT_CHECK_CHAIN;
        if (ctx == nullptr || cache == nullptr || base < OCSP_CLIENT_POLICY_HARD || base > OCSP_CLIENT_POLICY_WARN_ONLY)
            return OCSP_STAPLE_ERR_INVALID_ARGUMENT;
        auto b = std::make_unique<c_api::client_binding>(
            c_api::client_binding{cache, static_cast<stapler::client_policy>(base), (policy & OCSP_CLIENT_CHECK_CHAIN) != 0});
        c_api::client_binding* arg = b.get();
        {
            const std::lock_guard lock(cache->bindings_mutex);
            // Without a socket misses go unsent (and counted); the checks themselves still work.
            cache->misses.ready();
            cache->client_bindings.push_back(std::move(b));
        }
        SSL_CTX_set_cert_verify_callback(ctx, verify_client, arg);
        return OCSP_STAPLE_OK;
    } catch (const std::bad_alloc&) {
        return OCSP_STAPLE_ERR_NO_MEMORY;
    } catch (...) {
        return OCSP_STAPLE_ERR_INTERNAL;
    }
}

int ocsp_client_check_get_counts(const ocsp_staple_cache* cache, ocsp_client_check_counts* out) {
    if (cache == nullptr || out == nullptr) return OCSP_STAPLE_ERR_INVALID_ARGUMENT;
    const auto& c = cache->counts;
    out->good = c.good.load();
    out->revoked = c.revoked.load();
    out->unknown = c.unknown.load();
    out->no_answer_refused = c.no_answer_refused.load();
    out->no_answer_accepted = c.no_answer_accepted.load();
    out->misses_sent = c.misses_sent.load();
    out->misses_unsent = c.misses_unsent.load();
    return OCSP_STAPLE_OK;
}

int ocsp_client_check_set_log(ocsp_staple_cache* cache, ocsp_client_check_log_fn fn, void* arg) {
    if (cache == nullptr) return OCSP_STAPLE_ERR_INVALID_ARGUMENT;
    cache->log_arg.store(arg);
    cache->log_fn.store(fn);
    return OCSP_STAPLE_OK;
}

}  // extern "C"
