#pragma once
// The OCSP caching proxy for client certificates (docs/stapler.md, "Checking client certificates"): mTLS
// servers ask it instead of the responder. It answers from a cache of validated responses, fetches a
// miss upstream once however many clients ask at the same time, refreshes every cached entry before it
// expires, and keeps the cache on disk so that a restart during a responder outage loses nothing.
//
// What it answers (RFC 6960, RFC 5019 over HTTP GET and POST at any path):
//   * a cached response usable for every CertID of the request: that response, with RFC 5019 caching
//     fields for GET;
//   * otherwise the upstream's answer once it validated (signature, delegated signer, CertIDs, dates)
//     and the publishing rules let it replace what is cached; the proxy only ever relays responses
//     signed upstream and never answers `good` on its own;
//   * tryLater when nothing usable could be had (upstream down, invalid, too busy), remembered for
//     negative_ttl; unauthorized for CertIDs of issuers it is not configured for; malformedRequest for
//     what does not decode;
//   * a request with a nonce is forwarded upstream as it is and never cached (the answer is bound to it).
//
// Client cache (proxy_service_clients.cpp): with [proxy] client_cache set, every answer the proxy caches
// is also published there for libocspstaple's ocsp_client_check_install(), and the misses that library
// reports on "<client_cache>.misses" are fetched as if a client had asked, without anyone waiting.
//
// Threading: the proxy has its own thread, running the one io_context of its HTTP server; the cache,
// the fetches and the refresh loop all live there, and disk writes go to a thread of their own. The
// daemon's thread reads status and asks for refreshes through the thread-safe calls below.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/datagram_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/logger.h>

#include "common/clock.hpp"
#include "protocol/http_server.hpp"
#include "stapler/client_check.hpp"
#include "stapler/daemon/client_publisher.hpp"
#include "stapler/daemon/fetch_report.hpp"
#include "stapler/daemon/proxy_cache.hpp"
#include "stapler/daemon/proxy_config.hpp"
#include "stapler/daemon/proxy_store.hpp"
#include "stapler/daemon/schedule.hpp"

namespace ocspkit::stapler::daemon {

// One cached entry, as `status` shows it.
struct proxy_status_row {
    std::string name;  // "proxy:<issuer>:<serials>", as refresh names it
    std::string issuer;
    std::vector<std::string> serials;  // uppercase hex, one per CertID
    std::string status;                // good | revoked | unknown | none (no usable response)
    std::optional<sys_seconds> this_update, next_update, next_refresh, last_fetch;
    unsigned fetch_failures = 0;
    std::string last_error;
};

class proxy_service final : public protocol::http_handler {
public:
    proxy_service(proxy_config config, std::vector<proxy_issuer> issuers, const std::filesystem::path& state_dir,
                  schedule_params params, std::chrono::seconds max_skew, const clock_source& clock,
                  std::shared_ptr<spdlog::logger> log);
    ~proxy_service() override;
    proxy_service(const proxy_service&) = delete;
    proxy_service& operator=(const proxy_service&) = delete;

    // Restores the cache from <state_dir>/proxy, binds every listen address and starts the proxy's
    // thread. Throws std::runtime_error (or std::system_error naming the address) on failure.
    void start();
    // Stops the thread; idempotent. Disk writes already queued finish first.
    void stop();
    std::vector<boost::asio::ip::tcp::endpoint> local_endpoints() const { return server_.local_endpoints(); }

    // Thread-safe: fetches every cached entry now and returns once all have finished, one report per
    // entry named "proxy:<issuer>:<serials>".
    boost::asio::awaitable<std::vector<fetch_report>> refresh_all();
    // Thread-safe snapshots.
    std::vector<proxy_status_row> status() const;
    // Requests waiting for an upstream fetch (their own or one they joined) right now.
    std::size_t awaiting_upstream() const noexcept { return awaiting_upstream_.load(); }
    std::string render_metrics() const;

    // protocol::http_handler, on the proxy's thread.
    boost::asio::awaitable<void> serve(protocol::http_request& req, protocol::http_exchange& exchange) override;
    void refused(boost::beast::http::status status, std::chrono::steady_clock::duration elapsed) override;

    enum class outcome : std::uint8_t { hit, miss, coalesced, negative, nonce_forwarded, unavailable, unauthorized, malformed };
    static constexpr std::size_t outcome_count = 8;
    // What a miss reported by libocspstaple led to.
    enum class client_miss_outcome : std::uint8_t { fetching, cached, joined, negative, busy, unknown_issuer, malformed };
    static constexpr std::size_t client_miss_outcome_count = 7;
    // The client cache's path; empty when there is none.
    std::filesystem::path client_cache_path() const;

private:
    struct answer;
    struct fetch_wait;

    boost::asio::awaitable<answer> respond(std::vector<std::uint8_t> der);
    boost::asio::awaitable<answer> forward_uncached(std::vector<std::uint8_t> der, std::size_t issuer,
                                                    const std::vector<serial_number>& serials);
    // Fetches `key` upstream unless a fetch of it is under way, then waits for that one. False when the
    // fetch could not start (too many upstream fetches).
    boost::asio::awaitable<bool> fetch_or_join(std::string key);
    boost::asio::awaitable<void> fetch_entry(std::string key);
    boost::asio::awaitable<void> refresh_loop();
    boost::asio::awaitable<std::vector<fetch_report>> refresh_all_here();
    void reschedule(time_point when);
    std::string entry_name(const proxy_entry& e) const;
    void restore();
    // Client cache (proxy_service_clients.cpp); under mutex_ or before the thread starts.
    void open_client_cache();
    void publish_clients(const proxy_entry& entry, sys_seconds now);
    void reconcile_clients();
    std::optional<cache_key> client_key_of(std::size_t issuer, const serial_number& serial) const;
    boost::asio::awaitable<void> receive_misses();
    void on_client_miss(std::span<const std::uint8_t> datagram);
    std::string render_client_metrics() const;
    void persist(const proxy_entry& entry);
    void forget_files(std::vector<std::string> keys);
    time_point now() const;
    double draw();

    const proxy_config config_;
    const std::vector<proxy_issuer> issuers_;
    std::vector<issuer_hashes> issuer_hashes_;
    const proxy_store store_;
    const schedule_params params_;
    const std::chrono::seconds max_skew_;
    const clock_source& clock_;
    std::shared_ptr<spdlog::logger> log_;

    // Touched on the proxy's thread; `mutex_` guards them against status() and render_metrics() from others.
    mutable std::mutex mutex_;
    proxy_cache cache_;
    std::map<std::string, std::shared_ptr<fetch_wait>, std::less<>> in_flight_;
    std::mt19937_64 random_{std::random_device{}()};
    std::unique_ptr<boost::asio::steady_timer> refresh_timer_;
    time_point planned_wake_ = time_point::max();

    std::array<std::atomic<std::uint64_t>, outcome_count> requests_{};
    std::atomic<std::uint64_t> refused_requests_{0};
    std::atomic<std::uint64_t> stale_served_{0};
    std::atomic<std::uint64_t> upstream_ok_{0};
    std::atomic<std::size_t> upstream_running_{0};
    std::atomic<std::size_t> awaiting_upstream_{0};
    std::map<std::string, std::uint64_t> upstream_failures_;  // reason -> count; under mutex_

    std::vector<sha1_digest> issuer_key_sha1_;  // per issuer: the client cache's key part
    std::unique_ptr<client_publisher> clients_;   // under mutex_
    std::unique_ptr<boost::asio::local::datagram_protocol::socket> miss_socket_;
    std::array<std::atomic<std::uint64_t>, client_miss_outcome_count> client_misses_{};
    std::atomic<std::uint64_t> client_publish_failures_{0};
    std::atomic<std::size_t> client_entries_{0};

    boost::asio::thread_pool disk_{1};
    protocol::http_server server_;
    std::thread thread_;
    std::atomic<bool> stopped_{false};
};

std::string_view to_string(proxy_service::outcome o) noexcept;

}  // namespace ocspkit::stapler::daemon
