#include "keys/token_key.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include "common/pem.hpp"
#include "keys/helper_protocol.hpp"
#include "keys/pkcs11_helper.hpp"

extern char** environ;

namespace ocspkit::keys {
namespace {

constexpr auto first_backoff = std::chrono::milliseconds{100};
constexpr auto max_backoff = std::chrono::milliseconds{5000};

std::string_view padding_name(sign_padding p) {
    switch (p) {
    case sign_padding::pkcs1: return "pkcs1";
    case sign_padding::pss: return "pss";
    case sign_padding::none: break;
    }
    return "none";
}

struct spawn_actions {
    posix_spawn_file_actions_t actions{};
    spawn_actions() { posix_spawn_file_actions_init(&actions); }
    ~spawn_actions() { posix_spawn_file_actions_destroy(&actions); }
};

// The helper starts with no signal blocked and every signal at its default action: the thread that
// spawns it (a signing thread) has them blocked, as Asio's threads do, and SIGTERM must still end it.
struct spawn_attributes {
    posix_spawnattr_t attr{};
    spawn_attributes() {
        posix_spawnattr_init(&attr);
        sigset_t none;
        sigset_t all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, static_cast<short>(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
    }
    ~spawn_attributes() { posix_spawnattr_destroy(&attr); }
};

}  // namespace

std::string token_key::describe() const { return "PKCS#11 " + uri_.describe(); }

void token_key::stop_helper(helper& h) noexcept {
    if (h.fd >= 0) ::close(h.fd);
    if (h.pid > 0) {
        ::kill(h.pid, SIGKILL);
        while (::waitpid(h.pid, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    h = helper{};
}

result<token_key::helper> token_key::start_helper(std::uint64_t generation) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
        return error{errc::io, fmt::format("socketpair: {}", std::strerror(errno))};
    // The helper's end goes to descriptor 3 in the helper. Move it above 3 first: dup2 onto itself
    // would keep its close-on-exec flag and the helper would start without it.
    const int child_end = ::fcntl(pair[1], F_DUPFD_CLOEXEC, 10);
    ::close(pair[1]);
    helper h;
    h.fd = pair[0];
    h.generation = generation;
    if (child_end < 0) {
        stop_helper(h);
        return error{errc::io, fmt::format("fcntl: {}", std::strerror(errno))};
    }
    spawn_actions fa;
    spawn_attributes attributes;
    posix_spawn_file_actions_adddup2(&fa.actions, child_end, pkcs11_helper_fd);
    const std::string program = settings_.helper_program.string();
    std::string arg0 = "ocspkit-pkcs11-helper";
    std::string arg1 = pkcs11_helper_flag;
    char* argv[] = {arg0.data(), arg1.data(), nullptr};
    // posix_spawn, not fork: this process has threads, and only exec is safe in a forked copy of it.
    const int rc = ::posix_spawn(&h.pid, program.c_str(), &fa.actions, &attributes.attr, argv, environ);
    ::close(child_end);
    if (rc != 0) {
        h.pid = -1;
        stop_helper(h);
        return error{errc::io, fmt::format("starting the PKCS#11 helper {}: {}", program, std::strerror(rc))};
    }
    const auto until = std::chrono::steady_clock::now() + settings_.timeout;
    frame load{frame_kind::load, {settings_.module.string(), uri_.engine_uri, pin_}};
    auto sent = write_frame(h.fd, load, until);
    OPENSSL_cleanse(load.fields[2].data(), load.fields[2].size());
    auto reply = sent ? read_frame(h.fd, until) : result<frame>(std::move(sent).failure());
    if (!reply || reply->kind != frame_kind::ok || reply->fields.size() != 1) {
        stop_helper(h);
        if (!reply) return std::move(reply).failure();
        return error{errc::crypto, reply->fields.empty() ? std::string("the PKCS#11 helper failed") : reply->fields[0]};
    }
    if (!public_key_der_.empty() && reply->fields[0] != public_key_der_) {
        stop_helper(h);
        return error{errc::conflict, "the token now holds another key under this name; it no longer matches the "
                                     "certificate"};
    }
    const std::string& der = reply->fields[0];
    if (public_key_der_.empty()) {
        const auto* p = reinterpret_cast<const unsigned char*>(der.data());
        ossl::evp_pkey_ptr pub{d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()))};
        if (!pub) {
            stop_helper(h);
            return error{errc::crypto, "the token's public key does not decode"};
        }
        // Set by open()'s first helper, before any other thread can read them; never changed after.
        public_key_ = std::move(pub);
        public_key_der_ = der;
    }
    return h;
}

std::shared_ptr<token_key> token_key::open(const pkcs11_uri& uri, std::string pin, const token_settings& settings) {
    std::shared_ptr<token_key> k(new token_key());
    k->uri_ = uri;
    k->pin_ = std::move(pin);
    k->settings_ = settings;
    const auto refuse = [&](const std::string& why) {
        return load_error(fmt::format("{} (module {}): {}", k->describe(), settings.module.string(), why));
    };
    if (settings.module.empty()) throw refuse("no PKCS#11 module configured ([pkcs11] module)");
    // Said plainly here: through the engine a missing module is "Unable to load module" at best.
    if (::access(settings.module.c_str(), R_OK) != 0)
        throw refuse(fmt::format("the module ([pkcs11] module) cannot be read: {}", std::strerror(errno)));
    for (unsigned i = 0; i < std::max(1u, settings.sessions); ++i) {
        auto h = k->start_helper(0);
        if (!h) {
            for (auto& started : k->idle_) stop_helper(started);
            throw refuse(h.error_message());
        }
        k->idle_.push_back(*h);
    }
    k->reconnector_ = std::jthread([raw = k.get()](std::stop_token stop) { raw->reconnect_loop(stop); });
    return k;
}

token_key::~token_key() {
    if (reconnector_.joinable()) {
        reconnector_.request_stop();
        changed_.notify_all();
        reconnector_.join();
    }
    for (auto& h : idle_) stop_helper(h);
    OPENSSL_cleanse(pin_.data(), pin_.size());
}

void token_key::mark_down(const std::string& reason) const {
    std::vector<helper> stopping;
    {
        std::lock_guard lock(mutex_);
        if (!up_.load()) return;
        up_.store(false);
        reason_ = reason;
        down_since_ = std::chrono::steady_clock::now();
        ++generation_;
        failures_.fetch_add(1);
        stopping.swap(idle_);
    }
    changed_.notify_all();
    for (auto& h : stopping) stop_helper(h);
    spdlog::default_logger()->error("{}: signing failed: {}; answers that need a signature get tryLater until it "
                                    "is back; reconnecting",
                                    describe(), reason);
}

result<std::string> token_key::sign_digest(const EVP_MD* md, sign_padding padding,
                                           std::span<const std::uint8_t> digest) const {
    const auto until = std::chrono::steady_clock::now() + settings_.timeout;
    helper h;
    {
        std::unique_lock lock(mutex_);
        const auto unavailable = [&] {
            return error{errc::unavailable, fmt::format("{} is unavailable: {}", describe(), reason_)};
        };
        if (!up_.load()) return unavailable();
        // Waiting here is what bounds concurrent signatures to the sessions; signing threads only.
        if (!changed_.wait_until(lock, until, [&] { return !idle_.empty() || !up_.load(); }))
            return error{errc::overloaded, fmt::format("{}: all {} sessions stayed busy for {} ms", describe(),
                                                       settings_.sessions, settings_.timeout.count())};
        if (!up_.load()) return unavailable();
        h = idle_.back();
        idle_.pop_back();
    }
    frame request{frame_kind::sign,
                  {EVP_MD_get0_name(md), std::string(padding_name(padding)),
                   std::string(reinterpret_cast<const char*>(digest.data()), digest.size())}};
    auto sent = write_frame(h.fd, request, until);
    auto reply = sent ? read_frame(h.fd, until) : result<frame>(std::move(sent).failure());
    if (reply && reply->kind == frame_kind::ok && reply->fields.size() == 1) {
        bool keep = false;
        {
            std::lock_guard lock(mutex_);
            keep = h.generation == generation_ && up_.load();
            if (keep) idle_.push_back(h);
        }
        if (keep)
            changed_.notify_all();
        else
            stop_helper(h);
        return std::move(reply->fields[0]);
    }
    const std::string why = !reply ? reply.error_message()
                            : reply->fields.empty() ? std::string("the PKCS#11 helper failed")
                                                    : reply->fields[0];
    stop_helper(h);
    mark_down(why);
    return error{errc::unavailable, fmt::format("{}: {}", describe(), why)};
}

token_key::state token_key::current() const {
    std::lock_guard lock(mutex_);
    state s;
    s.up = up_.load();
    s.failures = failures_.load();
    if (!s.up) {
        s.reason = reason_;
        s.down_for = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - down_since_);
    }
    return s;
}

void token_key::reconnect_loop(std::stop_token stop) {
    auto backoff = first_backoff;
    std::string last_logged;
    while (!stop.stop_requested()) {
        std::uint64_t generation = 0;
        {
            std::unique_lock lock(mutex_);
            if (up_.load()) {
                backoff = first_backoff;
                last_logged.clear();
                changed_.wait(lock, stop, [&] { return !up_.load(); });
                if (stop.stop_requested()) return;
            }
            // Wait out the backoff; a stop ends it early.
            changed_.wait_for(lock, stop, backoff, [] { return false; });
            if (stop.stop_requested()) return;
            generation = generation_;
        }
        std::vector<helper> fresh;
        std::string failure;
        for (unsigned i = 0; i < std::max(1u, settings_.sessions) && failure.empty(); ++i) {
            auto h = start_helper(generation);
            if (h)
                fresh.push_back(*h);
            else
                failure = h.error_message();
        }
        if (!failure.empty()) {
            for (auto& h : fresh) stop_helper(h);
            if (failure != last_logged)
                spdlog::default_logger()->warn("{}: still unavailable: {}; trying again", describe(), failure);
            last_logged = failure;
            backoff = std::min(backoff * 2, max_backoff);
            continue;
        }
        std::chrono::seconds down_for{0};
        {
            std::lock_guard lock(mutex_);
            idle_.insert(idle_.end(), fresh.begin(), fresh.end());
            down_for = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - down_since_);
            reason_.clear();
            up_.store(true);
        }
        changed_.notify_all();
        spdlog::default_logger()->warn("{}: available again after {} s; signing", describe(), down_for.count());
    }
}

}  // namespace ocspkit::keys
