#include "responder/purger.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "responder/logger.hpp"
#include "responder/purge_urls.hpp"

namespace ocspkit::responder {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds first_backoff{100};
// What Varnish and nginx answer to PURGE is a short page; anything longer is not a cache's answer.
constexpr std::uint64_t max_answer_bytes = 64 * 1024;

}  // namespace

purger::purger(const http_cache_config& config, std::string ocsp_path, responder_metrics& metrics)
    : ocsp_path_(std::move(ocsp_path)),
      timeout_(config.purge_timeout),
      attempts_(config.purge_attempts),
      queue_limit_(config.purge_queue) {
    if (config.purge.empty()) return;
    work_.emplace(io_.get_executor());
    for (const auto& target : config.purge) {
        targets_.push_back(std::make_unique<target_state>(io_, target, metrics.purge_target(target.url)));
        auto loop = run(*targets_.back());
        asio::co_spawn(io_, std::move(loop), asio::detached);
    }
    thread_ = std::thread([this] { io_.run(); });
}

purger::~purger() { stop(); }

void purger::stop() {
    if (!thread_.joinable()) return;
    // Everything a target waits on is cancelled on the io thread, where the coroutines check stopping_
    // after each wait; the thread ends when they have all returned.
    asio::post(io_, [this] {
        stopping_ = true;
        for (auto& t : targets_) {
            t->wake.cancel();
            t->backoff.cancel();
            t->resolver.cancel();
            if (t->connection) t->connection->cancel();
        }
    });
    work_.reset();
    thread_.join();
}

void purger::purge_changed(const issuer_set& issuers, std::span<const schema::changed_cert> changes) {
    if (targets_.empty()) return;
    std::vector<std::string> paths;
    for (const auto& change : changes) {
        for (const auto& profile : issuers.profiles()) {
            if (profile.issuer_id != change.issuer_id) continue;
            for (auto& path : purge_paths(ocsp_path_, profile.hashes, change.serial)) paths.push_back(std::move(path));
        }
    }
    purge(std::move(paths));
}

void purger::purge(std::vector<std::string> paths) {
    if (targets_.empty() || paths.empty()) return;
    asio::post(io_, [this, paths = std::move(paths)] {
        for (auto& t : targets_) enqueue(*t, paths);
    });
}

void purger::enqueue(target_state& t, const std::vector<std::string>& paths) {
    if (stopping_) return;
    std::size_t dropped = 0;
    for (const auto& path : paths) {
        if (t.queue.size() >= queue_limit_) {
            ++dropped;
            continue;
        }
        t.queue.push_back(path);
    }
    if (dropped > 0) {
        t.counters.dropped.fetch_add(dropped, std::memory_order_relaxed);
        logger()->warn("purge target {}: queue full ({} paths), {} paths not purged; their answers leave the cache "
                       "at s-maxage or max-age",
                       t.target.url, queue_limit_, dropped);
    }
    t.wake.cancel();
}

asio::awaitable<void> purger::run(target_state& t) {
    while (!stopping_) {
        if (t.queue.empty()) {
            t.wake.expires_at(asio::steady_timer::time_point::max());
            auto wait = t.wake.async_wait(use_tuple);
            co_await std::move(wait);
            continue;
        }
        const std::string path = std::move(t.queue.front());
        t.queue.pop_front();
        status outcome = error{errc::internal, "not tried"};
        try {
            for (unsigned attempt = 1; attempt <= attempts_ && !stopping_; ++attempt) {
                if (attempt > 1) {
                    t.backoff.expires_after(first_backoff * (1u << (attempt - 2)));
                    auto pause = t.backoff.async_wait(use_tuple);
                    co_await std::move(pause);
                    if (stopping_) break;
                }
                auto sending = send(t, path);
                outcome = co_await std::move(sending);
                // A target that answers but refuses (403, 405, ...) is misconfigured: trying again won't help.
                if (outcome || outcome.code() == make_error_code(errc::refused)) break;
            }
        } catch (const std::exception& e) {
            // The backstop: a bug in one purge must not end the target's loop.
            outcome = error{errc::internal, e.what()};
            t.connection.reset();
        }
        if (stopping_) co_return;
        if (outcome) {
            t.counters.sent.fetch_add(1, std::memory_order_relaxed);
            if (t.failing) logger()->info("purge target {}: purging again", t.target.url);
            t.failing = false;
            continue;
        }
        t.counters.failed.fetch_add(1, std::memory_order_relaxed);
        if (!t.failing)
            logger()->warn("purge target {}: PURGE {} failed: {}; caches keep such answers until s-maxage or max-age "
                           "(further failures are logged at debug until the target purges again)",
                           t.target.url, path, outcome.error_message());
        else
            logger()->debug("purge target {}: PURGE {} failed: {}", t.target.url, path, outcome.error_message());
        t.failing = true;
    }
}

asio::awaitable<status> purger::connect(target_state& t) {
    auto resolving = t.resolver.async_resolve(t.target.host, std::to_string(t.target.port), use_tuple);
    auto [resolve_error, endpoints] = co_await std::move(resolving);
    if (resolve_error) co_return error{errc::io, fmt::format("resolving {}: {}", t.target.host, resolve_error.message())};
    if (stopping_) co_return error{errc::io, "stopping"};
    t.connection.emplace(io_);
    t.buffer.consume(t.buffer.size());
    t.connection->expires_after(timeout_);
    auto connecting = t.connection->async_connect(endpoints, use_tuple);
    auto [connect_error, endpoint] = co_await std::move(connecting);
    if (connect_error) {
        t.connection.reset();
        co_return error{connect_error == beast::error::timeout ? errc::timeout : errc::io,
                        fmt::format("connecting: {}", connect_error.message())};
    }
    co_return success();
}

asio::awaitable<status> purger::send(target_state& t, const std::string& path) {
    http::request<http::empty_body> req;
    req.method_string("PURGE");
    req.target(t.target.path_prefix + path);
    req.version(11);
    req.set(http::field::host, t.target.host_header);
    req.set(http::field::user_agent, "ocsp-responder");
    req.keep_alive(true);
    // A kept-alive connection the cache has closed meanwhile fails at once: it is replaced by a new one
    // without counting as an attempt (and without the backoff).
    for (int pass = 0; pass < 2; ++pass) {
        const bool reused = t.connection.has_value();
        if (!reused) {
            auto opening = connect(t);
            if (auto opened = co_await std::move(opening); !opened) co_return opened;
        }
        if (stopping_) co_return error{errc::io, "stopping"};
        t.connection->expires_after(timeout_);
        auto writing = http::async_write(*t.connection, req, use_tuple);
        auto [write_error, written] = co_await std::move(writing);
        http::response_parser<http::string_body> parser;
        parser.body_limit(max_answer_bytes);
        boost::system::error_code read_error = write_error;
        if (!write_error) {
            auto reading = http::async_read(*t.connection, t.buffer, parser, use_tuple);
            std::tie(read_error, std::ignore) = co_await std::move(reading);
        }
        if (read_error) {
            t.connection.reset();
            if (reused && read_error != beast::error::timeout && !stopping_) continue;
            co_return error{read_error == beast::error::timeout ? errc::timeout : errc::io,
                            fmt::format("PURGE: {}", read_error.message())};
        }
        const auto& answer = parser.get();
        if (!answer.keep_alive()) t.connection.reset();
        const unsigned code = answer.result_int();
        // 404 is nginx's cache_purge saying nothing was cached under the key: nothing stale either.
        if ((code >= 200 && code < 300) || code == 404) co_return success();
        if (code >= 500) co_return error{errc::io, fmt::format("answered {}", code)};
        co_return error{errc::refused, fmt::format("answered {} {}", code, std::string(answer.reason()))};
    }
    co_return error{errc::io, "the connection closed twice"};
}

}  // namespace ocspkit::responder
