#pragma once
// libocspstaple's internals shared by its two halves: c_api.cpp (staples for the server's own
// certificates) and c_api_client_check.cpp (checks of client certificates). Not installed, not part of
// the ABI: ocsp_staple_cache is opaque to callers.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <system_error>
#include <vector>

#include <sys/socket.h>
#include <sys/un.h>

#include "common/ossl_ptr.hpp"
#include "ocsp_staple.h"
#include "stapler/client_check.hpp"
#include "stapler/shm_reader.hpp"

namespace ocspkit::stapler::c_api {

// A certificate the SSL_CTX held when ocsp_staple_install() ran, with its cache key.
struct known_cert {
    ossl::x509_ptr cert;  // a reference, so that the pointer cannot be freed and reused for another certificate
    cache_key key;
};

// What ocsp_staple_install() hands to the status callback: immutable once installed, so handshakes
// read it without locking.
struct staple_binding {
    const ocsp_staple_cache* cache;
    std::vector<known_cert> known;
};

// What ocsp_client_check_install() hands to the verification callback; immutable once installed.
struct client_binding {
    ocsp_staple_cache* cache;
    client_policy policy;
    bool whole_chain;
};

struct client_counters {
    std::atomic<std::uint64_t> good{0}, revoked{0}, unknown{0}, no_answer_refused{0}, no_answer_accepted{0},
        misses_sent{0}, misses_unsent{0};
};

// The daemon's miss socket: "<cache path>.misses". Unusable (every miss unsent) when the path does not
// fit a sockaddr_un.
struct miss_socket {
    sockaddr_un address{};
    socklen_t address_len = 0;
    // A non-blocking datagram socket, made by the first ocsp_client_check_install(); atomic because a
    // later install (another SSL_CTX) may make it while handshakes on the first one send.
    std::atomic<int> fd{-1};

    explicit miss_socket(const char* cache_path) noexcept;
    ~miss_socket();
    miss_socket(const miss_socket&) = delete;
    miss_socket& operator=(const miss_socket&) = delete;
    // Creates the socket if needed; false if that fails.
    bool ready() noexcept;
    // One datagram, never blocking; false if it could not be sent.
    bool send(const std::uint8_t* data, std::size_t len) const noexcept;
};

int to_c_error(const std::error_code& ec) noexcept;

// The one place libocspstaple reads the clock: it is the library's boundary with the host (house rule 9
// keeps every layer below it on an injected `now`). clock_gettime(CLOCK_REALTIME) is served by the vDSO.
inline sys_seconds wall_clock_now() noexcept {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

}  // namespace ocspkit::stapler::c_api

struct ocsp_staple_cache {
    ocspkit::stapler::shm_reader reader;
    // Fetched once: EVP_sha256() would make OpenSSL 3 look the implementation up on every handshake.
    ocspkit::ossl::evp_md_ptr sha256;
    ocspkit::ossl::evp_md_ptr sha1;  // issuer key and name hashes of client checks
    // One per install call; they live as long as the cache, which outlives the SSL_CTXs.
    std::mutex bindings_mutex;
    std::vector<std::unique_ptr<ocspkit::stapler::c_api::staple_binding>> bindings;
    std::vector<std::unique_ptr<ocspkit::stapler::c_api::client_binding>> client_bindings;
    // Client checks.
    ocspkit::stapler::c_api::miss_socket misses;
    ocspkit::stapler::c_api::client_counters counts;
    std::atomic<ocsp_client_check_log_fn> log_fn{nullptr};
    std::atomic<void*> log_arg{nullptr};

    ocsp_staple_cache(ocspkit::stapler::shm_reader r, ocspkit::ossl::evp_md_ptr sha256_md,
                      ocspkit::ossl::evp_md_ptr sha1_md, const char* path)
        : reader(std::move(r)), sha256(std::move(sha256_md)), sha1(std::move(sha1_md)), misses(path) {}
};
