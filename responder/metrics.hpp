#pragma once
// Prometheus text-format counters for the responder (/metrics). Lock-free counters on the hot path;
// rendering takes a snapshot.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "responder/answer.hpp"

namespace ocspkit::responder {

class responder_metrics {
public:
    enum class method { get, post, head, other };
    static constexpr std::array<double, 12> latency_buckets_seconds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                                    0.01,   0.025,   0.05,   0.1,   0.5,    1.0};

    void count_request(method m, unsigned http_status, std::chrono::nanoseconds latency);
    void count_ocsp(ocsp_status s);
    void count_cert_state(cert_state s);
    void count_cache(bool hit) { (hit ? cache_hits_ : cache_misses_).fetch_add(1, std::memory_order_relaxed); }
    void count_try_later() { try_later_.fetch_add(1, std::memory_order_relaxed); }
    void count_signature() { signatures_.fetch_add(1, std::memory_order_relaxed); }
    void count_index_lookup() { index_lookups_.fetch_add(1, std::memory_order_relaxed); }
    void count_database_reconnect() { database_reconnects_.fetch_add(1, std::memory_order_relaxed); }

    // Per purge target (http_cache.purge), registered once by the purger before it sends anything; the
    // reference stays valid for the life of the metrics.
    struct purge_counters {
        std::atomic<std::uint64_t> sent{0};     // PURGE requests the target accepted (2xx, or 404: not cached)
        std::atomic<std::uint64_t> failed{0};   // paths given up on after every attempt, or refused
        std::atomic<std::uint64_t> dropped{0};  // paths not queued because the target's queue was full
    };
    purge_counters& purge_target(const std::string& url);

    // Values that live elsewhere are read at render time.
    struct gauges {
        std::size_t cache_entries = 0;
        std::size_t cache_bytes = 0;
        std::size_t signing_queue_depth = 0;
        std::size_t open_connections = 0;
        std::int64_t index_change_sequence = -1;  // last change of the index applied to the cache; -1 before the first poll
        bool database_up = true;                  // the index's server answers (always true for SQLite)
        std::size_t warm_start_loaded = 0;        // answers read back from the warm-start file at start
        std::size_t warm_start_dropped = 0;       // answers in it left out (status changed, expired, signer)
        std::int64_t warm_start_saved_at = 0;     // unix seconds of the last write; 0 before the first
        std::vector<std::pair<std::string, double>> signer_seconds_to_expiry;  // issuer name -> seconds
        struct signer_state {
            std::string issuer;
            bool up = true;                // false while the key's token is unavailable
            std::uint64_t failures = 0;    // times the key's token went down (0 for file keys)
        };
        std::vector<signer_state> signers;
        struct crl {
            std::string issuer;
            std::int64_t number = 0;       // of the CRL served; 0 before the first
            std::int64_t next_update = 0;  // unix seconds
            std::uint64_t issued = 0;
            std::uint64_t failures = 0;
        };
        std::vector<crl> crls;  // issuers with crl_key
    };
    std::string render(const gauges& g) const;

private:
    static constexpr std::array<unsigned, 8> tracked_http{200, 304, 400, 404, 405, 408, 413, 503};
    std::array<std::array<std::atomic<std::uint64_t>, tracked_http.size() + 1>, 4> requests_{};
    std::array<std::atomic<std::uint64_t>, 7> ocsp_status_{};
    std::array<std::atomic<std::uint64_t>, 3> cert_states_{};
    std::array<std::atomic<std::uint64_t>, latency_buckets_seconds.size() + 1> latency_{};
    std::atomic<std::uint64_t> latency_sum_ns_{0};
    std::atomic<std::uint64_t> index_lookups_{0};
    std::atomic<std::uint64_t> latency_count_{0};
    std::atomic<std::uint64_t> cache_hits_{0}, cache_misses_{0}, try_later_{0}, signatures_{0};
    std::atomic<std::uint64_t> database_reconnects_{0};
    mutable std::mutex purge_mutex_;
    std::deque<std::pair<std::string, purge_counters>> purge_targets_;  // deque: counters never move
};

}  // namespace ocspkit::responder
