/*
 * libocspstaple: OCSP staples for TLS servers, read from the shared-memory cache that the ocspkit
 * stapling daemon fills (docs/stapler.md).
 *
 * The library runs inside someone else's server, so it:
 *   - never throws, never logs, never aborts; every function returns an int error code (OCSP_STAPLE_OK
 *     is 0) that ocsp_staple_error_string() names;
 *   - never blocks and makes no system call after ocsp_staple_cache_open(): a lookup hashes the
 *     certificate and copies bytes out of a read-only mapping;
 *   - is thread-safe: one cache may be used from any number of threads at once; ocsp_staple_cache_free()
 *     must not run concurrently with other uses of the same cache.
 *
 * Naming follows BoringSSL: `_len` is a byte count, `out_` marks outputs, `_cap` a buffer's capacity.
 */
#ifndef OCSP_STAPLE_H
#define OCSP_STAPLE_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define OCSP_STAPLE_API __attribute__((visibility("default")))
#else
#define OCSP_STAPLE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* OpenSSL's SSL_CTX, declared here so that this header does not require OpenSSL's. */
struct ssl_ctx_st;

/* A read-only mapping of one cache file. Opaque. */
typedef struct ocsp_staple_cache ocsp_staple_cache;

/* Error codes. The values are stable ABI. */
enum {
    OCSP_STAPLE_OK = 0,
    OCSP_STAPLE_ERR_INVALID_ARGUMENT = 1,
    OCSP_STAPLE_ERR_NOT_FOUND = 2,           /* no entry for this certificate */
    OCSP_STAPLE_ERR_BUFFER_TOO_SMALL = 3,    /* *out_len holds the size needed */
    OCSP_STAPLE_ERR_BUSY = 4,                /* the entry kept changing during the lookup; a miss */
    OCSP_STAPLE_ERR_OPEN = 5,                /* the file cannot be opened or mapped (see errno) */
    OCSP_STAPLE_ERR_BAD_MAGIC = 6,           /* not a staple cache file */
    OCSP_STAPLE_ERR_UNSUPPORTED_VERSION = 7, /* written by a different layout version */
    OCSP_STAPLE_ERR_TRUNCATED = 8,           /* shorter than its header says */
    OCSP_STAPLE_ERR_CORRUPT = 9,             /* values out of range */
    OCSP_STAPLE_ERR_REPLACED = 10,           /* the daemon moved to a new file: open it again */
    OCSP_STAPLE_ERR_NO_MEMORY = 11,
    OCSP_STAPLE_ERR_INTERNAL = 12
};

/* Error categories: what the caller should do about an error code. */
enum {
    OCSP_STAPLE_CATEGORY_OK = 0,
    OCSP_STAPLE_CATEGORY_MISS = 1,     /* no staple for now (NOT_FOUND, BUSY); normal operation */
    OCSP_STAPLE_CATEGORY_USAGE = 2,    /* the caller's mistake (INVALID_ARGUMENT, BUFFER_TOO_SMALL) */
    OCSP_STAPLE_CATEGORY_CACHE = 3,    /* the cache file is unusable or replaced: reopen it later */
    OCSP_STAPLE_CATEGORY_INTERNAL = 4  /* NO_MEMORY, INTERNAL, and unknown codes */
};

/* Verdicts: what to do with the certificate's handshake. Stable ABI. */
enum {
    OCSP_STAPLE_VERDICT_STAPLE = 0,      /* staple the returned bytes */
    OCSP_STAPLE_VERDICT_NO_STAPLE = 1,   /* continue without a staple */
    OCSP_STAPLE_VERDICT_NOT_SERVABLE = 2 /* hard-fail policy or Must-Staple without a usable response:
                                            refuse the handshake */
};

/* Maps the cache file at `path` read-only. On success *out_cache owns the mapping (release it with
 * ocsp_staple_cache_free); on failure *out_cache is set to NULL. Opening makes system calls: call it at
 * start-up or reload, never inside a handshake. */
OCSP_STAPLE_API int ocsp_staple_cache_open(const char *path, ocsp_staple_cache **out_cache);

/* Unmaps the cache. NULL is accepted and ignored. */
OCSP_STAPLE_API void ocsp_staple_cache_free(ocsp_staple_cache *cache);

/* The largest response the cache can hold: a buffer of this size never gets BUFFER_TOO_SMALL. 0 for NULL. */
OCSP_STAPLE_API size_t ocsp_staple_cache_max_response_len(const ocsp_staple_cache *cache);

/* Looks up the certificate whose DER is cert_der[0, cert_der_len) (the key is its SHA-256).
 * Returns OCSP_STAPLE_OK when the cache has an entry; *out_verdict then says what to do, and when it is
 * OCSP_STAPLE_VERDICT_STAPLE the DER OCSPResponse was copied to out[0, *out_len). A response whose
 * nextUpdate has passed is never returned: the entry's fallback verdict applies instead.
 * On any error *out_verdict is OCSP_STAPLE_VERDICT_NO_STAPLE and *out_len is 0, except for
 * BUFFER_TOO_SMALL, where *out_len is the size needed. The contents of `out` are unspecified unless the
 * call returns OK with a STAPLE verdict. `out` may be NULL when out_cap is 0; out_len and out_verdict
 * must not be NULL. */
OCSP_STAPLE_API int ocsp_staple_lookup(const ocsp_staple_cache *cache, const uint8_t *cert_der, size_t cert_der_len,
                                       uint8_t *out, size_t out_cap, size_t *out_len, int *out_verdict);

/* A static, human-readable string for an error code; never NULL. */
OCSP_STAPLE_API const char *ocsp_staple_error_string(int error);

/* One of OCSP_STAPLE_CATEGORY_* for an error code. */
OCSP_STAPLE_API int ocsp_staple_error_category(int error);

/* Installs an OCSP status callback (SSL_CTX_set_tlsext_status_cb) on an OpenSSL server context, so that
 * every handshake whose client sends status_request gets the staple of the certificate chosen for it:
 *   STAPLE       -> the cached response is stapled (SSL_TLSEXT_ERR_OK);
 *   NO_STAPLE, a miss, or any cache error -> no staple (SSL_TLSEXT_ERR_NOACK);
 *   NOT_SERVABLE -> the handshake fails (SSL_TLSEXT_ERR_ALERT_FATAL, an internal_error alert).
 * It replaces any status callback and argument already set on `ctx`. `cache` is borrowed: it must stay
 * open until `ctx` and every SSL made from it are freed. `ctx` is an SSL_CTX*.
 * Call it after the certificates and keys are loaded: their SHA-256 is computed here, once, and the
 * cache keeps a reference to them until it is freed; a certificate set later still works but is hashed
 * in every handshake. Not thread-safe with respect to handshakes on `ctx` (call it before serving). */
OCSP_STAPLE_API int ocsp_staple_install(struct ssl_ctx_st *ctx, ocsp_staple_cache *cache);

/*
 * Client certificates (mTLS). The stapling daemon's OCSP proxy publishes every answer it caches into a
 * cache file of its own, the client cache ([proxy] client_cache, docs/stapler.md "Checking client
 * certificates"); open it with ocsp_staple_cache_open() like the staple cache.
 */

/* What to do with a client certificate for which the cache holds no usable answer. A certificate whose
 * answer is revoked, or unknown to the responder, is refused under every policy; one whose answer is
 * good is accepted. Stable ABI. */
enum {
    OCSP_CLIENT_POLICY_HARD = 0,      /* refuse the handshake (verify error X509_V_ERR_OCSP_VERIFY_FAILED) */
    OCSP_CLIENT_POLICY_SOFT = 1,      /* accept, and pass a message to the log function if one is set */
    OCSP_CLIENT_POLICY_WARN_ONLY = 2  /* accept, and only count it */
};
/* Or'ed into the policy: check every certificate of the verified chain but the last (the trust anchor),
 * each against the one above it, instead of the leaf only. */
#define OCSP_CLIENT_CHECK_CHAIN 0x100

/* Installs a certificate verification callback (SSL_CTX_set_cert_verify_callback) that runs OpenSSL's
 * chain verification and then, when the chain verified, looks the client certificate up in `cache`:
 *   good    -> accepted;
 *   revoked -> refused with X509_V_ERR_CERT_REVOKED: the client gets the certificate_revoked alert;
 *   unknown -> refused with X509_V_ERR_OCSP_CERT_UNKNOWN;
 *   no usable answer (never asked, expired, daemon gone) -> as `policy` says.
 * The callback set with SSL_CTX_set_verify() still has the last word on each of these errors, as it has
 * on OpenSSL's own. On a miss the callback hands the certificate's issuer and serial to the daemon with
 * one non-blocking datagram to the socket "<cache path>.misses"; the daemon fetches the answer, and a
 * later handshake finds it. The handshake never waits on the network: the datagram is the one system
 * call, and only a miss makes it.
 * Resumed sessions are not verified again (OpenSSL keeps the first verification's result): bound their
 * lifetime if revocations must take effect sooner.
 * It replaces any verification callback already set with SSL_CTX_set_cert_verify_callback on `ctx`.
 * `cache` is borrowed as for ocsp_staple_install(). Call it before serving. */
OCSP_STAPLE_API int ocsp_client_check_install(struct ssl_ctx_st *ctx, ocsp_staple_cache *cache, int policy);

/* What the checks installed with `cache` did so far, summed over every SSL_CTX. */
typedef struct ocsp_client_check_counts {
    uint64_t good;               /* certificates accepted on a good answer */
    uint64_t revoked;            /* refused: revoked */
    uint64_t unknown;            /* refused: unknown to the responder */
    uint64_t no_answer_refused;  /* refused for want of an answer (hard) */
    uint64_t no_answer_accepted; /* accepted without an answer (soft, warn-only) */
    uint64_t misses_sent;        /* misses handed to the daemon */
    uint64_t misses_unsent;      /* misses the daemon could not be told of (not running, busy) */
} ocsp_client_check_counts;
OCSP_STAPLE_API int ocsp_client_check_get_counts(const ocsp_staple_cache *cache, ocsp_client_check_counts *out);

/* A function that receives one line, without newline, for every certificate accepted without an answer
 * under OCSP_CLIENT_POLICY_SOFT. It runs inside the handshake, on the handshake's thread: it must be
 * quick and thread-safe. NULL switches it off. Set it before serving. */
typedef void (*ocsp_client_check_log_fn)(void *arg, const char *message);
OCSP_STAPLE_API int ocsp_client_check_set_log(ocsp_staple_cache *cache, ocsp_client_check_log_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* OCSP_STAPLE_H */
