#pragma once
// A signing key inside a PKCS#11 token, as a program uses it: the private key stays in the token and
// is reached through helper processes (pkcs11_helper.hpp), one per token session, so that at most
// `sessions` signatures run in the token at once and a lost token can be reconnected by starting
// fresh helpers (pkcs11_engine.hpp says why a process and not the engine in-process).
//
// Failure model: a signature that fails (the helper reports an error, dies or does not answer within
// `timeout`) marks the key down; while down, sign_digest() answers errc::unavailable at once, and a
// thread of this object starts new helpers (log in, find the key, check it is still the same key)
// with a backoff from 100 ms doubling to 5 s, until that works and the key is up again.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "common/ossl_ptr.hpp"
#include "common/result.hpp"
#include "keys/pkcs11_uri.hpp"

namespace ocspkit::keys {

struct token_settings {
    std::filesystem::path module;          // the PKCS#11 module (.so), `[pkcs11] module`
    unsigned sessions = 2;                 // helper processes, so concurrent signatures, per key
    std::chrono::milliseconds timeout{10000};  // one login or signature must finish within this
    // The program that runs run_pkcs11_helper() when given pkcs11_helper_flag: by default this one.
    std::filesystem::path helper_program = "/proc/self/exe";
};

enum class sign_padding { none, pkcs1, pss };  // none: ECDSA

class token_key {
public:
    // Starts the helpers, each logging in and finding the key. Start-up only: throws load_error naming
    // the token, the object and the module and saying what failed (never the PIN).
    static std::shared_ptr<token_key> open(const pkcs11_uri& uri, std::string pin, const token_settings& settings);
    ~token_key();
    token_key(const token_key&) = delete;
    token_key& operator=(const token_key&) = delete;

    // The key's public half as the token reports it (to match against the certificate).
    EVP_PKEY* public_key() const noexcept { return public_key_.get(); }
    std::string describe() const;  // "PKCS#11 token 'ocsp' object 'signer-1'"

    // Signs a digest made with `md`. Thread-safe; blocks while every session is busy (at most
    // `timeout`). errc::unavailable while the key is down, or when this signature failed (which puts
    // it down); errc::overloaded when no session became free in time.
    result<std::string> sign_digest(const EVP_MD* md, sign_padding padding, std::span<const std::uint8_t> digest) const;

    struct state {
        bool up = true;
        std::string reason;             // why it is down ("" when up)
        std::chrono::seconds down_for{0};
        std::uint64_t failures = 0;     // times it went down
    };
    state current() const;
    bool up() const noexcept { return up_.load(); }

private:
    struct helper {
        pid_t pid = -1;
        int fd = -1;
        std::uint64_t generation = 0;
    };
    token_key() = default;
    // Starts one helper and loads the key in it: the helper, or why not.
    result<helper> start_helper(std::uint64_t generation);
    static void stop_helper(helper& h) noexcept;
    void mark_down(const std::string& reason) const;
    void reconnect_loop(std::stop_token stop);

    pkcs11_uri uri_;
    std::string pin_;  // kept to log in again when reconnecting; wiped on destruction
    token_settings settings_;
    ossl::evp_pkey_ptr public_key_;
    std::string public_key_der_;

    mutable std::mutex mutex_;
    mutable std::condition_variable_any changed_;
    mutable std::vector<helper> idle_;
    mutable std::uint64_t generation_ = 0;  // bumped when the key goes down: older helpers are stopped
    mutable std::string reason_;
    mutable std::chrono::steady_clock::time_point down_since_{};
    mutable std::atomic<bool> up_{true};
    mutable std::atomic<std::uint64_t> failures_{0};
    std::jthread reconnector_;  // last: stopped first
};

}  // namespace ocspkit::keys
