#pragma once
// Purges the HTTP caches in front of the responder (http_cache.purge targets) when certificates change,
// so that a revocation is served through nginx proxy_cache or Varnish within a poll of the index, not
// after max-age. The change watcher hands over the changed certificates once the responder's own cache
// has dropped their answers (a cache that re-fetches at once must get the new answer); each target
// then gets "PURGE <prefix><path>" for each certificate's RFC 5019 GET paths (purge_urls.hpp).
//
// Network code around purge_urls: one thread runs an io_context with one coroutine per target, which
// sends the queued paths one after another over a kept-alive connection. Every step has a deadline
// (purge_timeout for the connect, and again for writing one request and reading its answer); a failed
// path is tried purge_attempts times, backing off 100 ms, 200 ms, ... A target's queue holds at most
// purge_queue paths: beyond that, paths are dropped and counted (the answers then leave the cache at
// s-maxage or max-age, as they would without purge). Failures are counted per target and logged at warn
// when a target starts failing, at info when it recovers. Nothing here blocks the caller.
//
// With several replicas behind one cache, each replica purges after its own cache changed: the last
// purge comes after the last replica learned the change, so a re-fetch in between is corrected.
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "common/result.hpp"
#include "responder/answer.hpp"
#include "responder/http_cache_config.hpp"
#include "responder/metrics.hpp"
#include "schema/cert_index.hpp"

namespace ocspkit::responder {

class purger {
public:
    // Starts the purge thread when `config.purge` names a target; otherwise purge() does nothing.
    purger(const http_cache_config& config, std::string ocsp_path, responder_metrics& metrics);
    ~purger();
    purger(const purger&) = delete;
    purger& operator=(const purger&) = delete;

    // Queues the paths of every changed certificate whose issuer `issuers` serves (others have no
    // answers that a cache could hold). Thread-safe; never blocks on the network.
    void purge_changed(const issuer_set& issuers, std::span<const schema::changed_cert> changes);
    // Queues `paths` (absolute, e.g. "/ocsp/MEkw...") at every target. Thread-safe.
    void purge(std::vector<std::string> paths);

    // Ends the purges under way (they are abandoned) and the thread. Idempotent.
    void stop();

private:
    struct target_state {
        target_state(boost::asio::io_context& io, purge_target t, responder_metrics::purge_counters& c)
            : target(std::move(t)), counters(c), wake(io), backoff(io), resolver(io) {}
        purge_target target;
        responder_metrics::purge_counters& counters;
        std::deque<std::string> queue;
        boost::asio::steady_timer wake;     // waits forever while the queue is empty; cancelled by purge()
        boost::asio::steady_timer backoff;  // between attempts
        boost::asio::ip::tcp::resolver resolver;
        std::optional<boost::beast::tcp_stream> connection;  // kept alive between PURGEs
        boost::beast::flat_buffer buffer;
        bool failing = false;  // logged once per outage
    };

    boost::asio::awaitable<void> run(target_state& t);
    // One PURGE on the kept-alive connection (opened first if need be). An error says whether trying
    // again may help: errc::refused for an answer other than 2xx or 404 (a misconfigured target).
    boost::asio::awaitable<status> send(target_state& t, const std::string& path);
    boost::asio::awaitable<status> connect(target_state& t);
    void enqueue(target_state& t, const std::vector<std::string>& paths);

    std::string ocsp_path_;
    std::chrono::milliseconds timeout_;
    unsigned attempts_;
    std::size_t queue_limit_;
    boost::asio::io_context io_;  // first: the targets' timers and sockets go before it
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::vector<std::unique_ptr<target_state>> targets_;
    bool stopping_ = false;  // io thread only
    std::thread thread_;
};

}  // namespace ocspkit::responder
