#pragma once
// The responder's engine between HTTP and the protocol core: picks cached answers on the network
// thread, sends misses and nonce requests to a bounded signing pool (which alone touches the index and
// private keys), and follows the index's change counter so revocations are served within a poll.
//
// The index is a SQLite file or a PostgreSQL server (primary or hot standby). When the server cannot
// be reached, cached answers go on being served until their nextUpdate, misses answer tryLater at once,
// /health says degraded, and the watcher reconnects with backoff and catches up on what changed.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "responder/answer.hpp"
#include "responder/config.hpp"
#include "responder/crl_publisher.hpp"
#include "responder/index_file.hpp"
#include "responder/metrics.hpp"
#include "responder/purger.hpp"
#include "responder/response_cache.hpp"
#include "schema/index_reader.hpp"

namespace ocspkit::responder {

// Builds the issuer profiles a configuration describes: loads CAs and signers, checks each CA is
// registered in the index, and drops issuers the index marks disabled. Throws config_error.
std::vector<issuer_profile> build_issuer_profiles(const responder_config& config, sys_seconds now);
// The profiles whose issuers the index has enabled.
std::shared_ptr<const issuer_set> enabled_set(const std::vector<issuer_profile>& all, schema::index_reader& index);

// The CRL issuers a configuration describes (issuers with crl_key), matched to `profiles` (which
// build_issuer_profiles made from the same configuration, in its order): loads each CA and crl_key and
// checks that they may sign CRLs. Throws config_error.
std::vector<crl_issuer> build_crl_issuers(const responder_config& config, const std::vector<issuer_profile>& profiles);

class ocsp_service {
public:
    ocsp_service(const responder_config& config, const clock_source& clock, responder_metrics& metrics);
    ~ocsp_service();
    ocsp_service(const ocsp_service&) = delete;
    ocsp_service& operator=(const ocsp_service&) = delete;

    // The pre-signed answer for one request's DER if the cache holds a fresh one (counted as a hit), or
    // null. Synchronous, so the network thread answers hits without a coroutine round trip.
    std::shared_ptr<const cached_answer> find_cached(std::span<const std::uint8_t> der);
    // The answer for a request find_cached() did not answer (counted as a miss): decoded, matched and
    // signed on the worker pool. Resumes on the caller's executor; never throws.
    boost::asio::awaitable<std::shared_ptr<const cached_answer>> answer_miss(std::vector<std::uint8_t> der);

    // The CRL served at /crl/<name>.crl (crl_publisher::find); `unknown` when no issuer issues CRLs.
    crl_publisher::lookup find_crl(std::string_view name) const;

    // SIGHUP: re-reads the configuration file and keys. On failure the running set stays and the
    // error is returned (errc::config, or errc::unsupported for a changed database path); on success
    // the cache is dropped.
    status reload();

    // ok false: /health answers 503 (a signer expired, no issuer, the SQLite file unusable). degraded:
    // the database is unreachable but cached answers are served, so /health still answers 200 and says
    // DEGRADED: a load balancer that should drain such replicas matches the text.
    struct health_report {
        bool ok = true;
        bool degraded = false;
        std::string text;
    };
    boost::asio::awaitable<health_report> health();

    responder_metrics::gauges gauges() const;
    const responder_config& config() const noexcept { return config_; }

    // Stops the change watcher, waits for queued signing work and writes the warm-start file.
    void stop();

    // Writes the pre-signed answers to server.warm_start_file (no-op when unset). Blocking (disk).
    status save_warm_start();

private:
    std::shared_ptr<const cached_answer> compute(const std::vector<std::uint8_t>& der, const decode_result& decoded,
                                                 const std::shared_ptr<const issuer_set>& issuers);
    void schedule_resign(std::string request_der);
    // False while the issuer's signing key is in a token that is down (always true for file keys).
    bool signer_up(std::int64_t issuer_id) const;
    void watch_changes(std::stop_token stop);
    void apply_issuer_flags(schema::index_reader& index);
    // The watcher's answer to a database file replaced under its path: reopen it (new issuer ids,
    // everything cached dropped) or, when the new file cannot be used, keep the old and say why.
    void reopen_replaced(std::unique_ptr<schema::index_reader>& index, std::int64_t& seen, const file_identity& now);
    // The SQLite file's checks of one poll: false when there is no file to read yet.
    bool check_index_file(std::unique_ptr<schema::index_reader>& index, std::int64_t& seen,
                          std::chrono::steady_clock::time_point& next_reopen);
    void apply_changes(schema::index_reader& index, std::int64_t& seen);
    void log_changes(schema::index_reader& index, const std::vector<schema::changed_cert>& changes, std::int64_t seq,
                     bool bulk);
    // This signing thread's reader, opened on first use and again after the watcher reopened the index.
    // Throws schema::index_unavailable while the database is unreachable.
    schema::index_reader& thread_index();
    // Runs `read` on this thread's reader; a transient database error is retried once on a fresh
    // connection (a restarted server or a failover), then thrown as schema::index_unavailable.
    template <class Read>
    auto read_index(Read&& read) -> decltype(read(std::declval<schema::index_reader&>()));
    void report_unreachable(const std::string& why);
    void report_reachable();
    void open_on_every_signing_thread();
    // Reads server.warm_start_file back into the cache, keeping only answers that are still valid, signed
    // by the configured signer, and whose every status the index still gives (service_warm.cpp).
    void load_warm_start(schema::index_reader& index);
    // The cache entry made of a successful answer (validators, re-sign time), as compute() stores it.
    static std::shared_ptr<cached_answer> cacheable_entry(std::vector<std::uint8_t> der, const answer_metadata& meta,
                                                          std::vector<single_status> statuses,
                                                          const issuer_profile& issuer,
                                                          std::span<const requested_cert> certs, sys_seconds now);

    responder_config config_;
    const clock_source& clock_;
    responder_metrics& metrics_;
    request_limits limits_;
    response_cache cache_;
    std::atomic<std::shared_ptr<const issuer_set>> issuers_;
    std::vector<issuer_profile> all_profiles_;  // every configured issuer, enabled or not (watcher thread)
    std::mutex reload_mutex_;
    boost::asio::thread_pool pool_;
    std::atomic<std::size_t> queued_{0};
    std::atomic<std::int64_t> applied_change_seq_{-1};
    // False from a failed connection to the PostgreSQL server until the watcher has connected again;
    // always true for SQLite. Read on every miss, so misses do not each wait for a connection attempt.
    std::atomic<bool> database_reachable_{true};
    // Bumped when the watcher reopens a replaced database: each signing thread then reopens its own.
    std::atomic<std::uint64_t> index_generation_{0};
    mutable std::mutex file_mutex_;
    file_identity opened_file_;   // what the open connections read (file_mutex_)
    std::string reopen_error_;    // why a replaced database was not reopened, "" (file_mutex_)
    std::string missing_file_;     // why the SQLite path names no usable file, logged once per reason (watcher)
    std::string unreachable_why_;  // the error that made the database unreachable (file_mutex_)
    std::chrono::steady_clock::time_point unreachable_since_;  // (file_mutex_)
    std::shared_ptr<const cached_answer> try_later_, malformed_, unauthorized_, internal_error_;
    purger purger_;  // HTTP caches in front (http_cache.purge); outlives the watcher that feeds it
    std::unique_ptr<crl_publisher> crl_;  // null unless an issuer has crl_key; outlives the watcher too
    std::size_t warm_loaded_ = 0, warm_dropped_ = 0;
    std::atomic<bool> stopped_{false};
    std::atomic<std::int64_t> warm_saved_at_{0};
    std::mutex warm_save_mutex_;  // one writer of the file at a time (watcher, stop)
    std::jthread watcher_;
};

}  // namespace ocspkit::responder
