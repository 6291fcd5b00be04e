#include "responder/service.hpp"

#include <latch>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include "common/asn1_time.hpp"
#include "common/pem.hpp"
#include "protocol/cache_headers.hpp"
#include "common/pg.hpp"
#include "responder/logger.hpp"
#include "schema/cert_index.hpp"

namespace ocspkit::responder {
namespace asio = boost::asio;
namespace {

std::shared_ptr<const cached_answer> error_answer(ocsp_status status) {
    auto a = std::make_shared<cached_answer>();
    a->der = error_response(status);
    a->meta.status = status;
    return a;
}


}  // namespace

std::vector<issuer_profile> build_issuer_profiles(const responder_config& config, sys_seconds now) {
    const auto index = schema::open_index_reader(config.database.spec);
    std::vector<issuer_profile> profiles;
    for (const auto& ic : config.issuers) {
        ossl::x509_ptr ca;
        try {
            ca = load_certificate(ic.ca_file);
        } catch (const std::exception& e) {
            throw config_error(fmt::format("{}: issuer '{}': {}", config.source.string(), ic.name, e.what()));
        }
        auto record = index->find_issuer_by_cert(ca.get());
        if (!record)
            throw config_error(fmt::format("{}: issuer CA {} ({}) is not registered in {}; run `ocspctl issuer add`",
                                           config.source.string(), ic.ca_file.string(), subject_rfc2253(ca.get()),
                                           config.database.describe()));
        issuer_profile p;
        p.issuer_id = record->id;
        p.name = ic.name.empty() ? record->subject : ic.name;
        p.hashes = record->hashes;
        try {
            p.signing = signer::load(ic.signing);
        } catch (const std::exception& e) {
            throw config_error(fmt::format("{}: issuer '{}': {}", config.source.string(), p.name, e.what()));
        }
        p.nonces = ic.nonces;
        p.unknown_serials = ic.unknown_serials;
        p.validity = ic.validity;
        p.backdate = ic.backdate;
        p.archive_cutoff = ic.archive_cutoff;
        if (p.signing->not_after() <= now)
            throw config_error(fmt::format("{}: issuer '{}': signer certificate expired at {}", config.source.string(),
                                           p.name, p.signing->description()));
        if (p.signing->not_after() - now < ic.signer_expiry_warning)
            logger()->warn("issuer '{}': signer {} expires in {} days", p.name, p.signing->description(),
                           std::chrono::duration_cast<std::chrono::days>(p.signing->not_after() - now).count());
        if (!record->enabled) logger()->warn("issuer '{}' is disabled in the index; answering unauthorized", p.name);
        profiles.push_back(std::move(p));
    }
    return profiles;
}

std::vector<crl_issuer> build_crl_issuers(const responder_config& config, const std::vector<issuer_profile>& profiles) {
    std::vector<crl_issuer> out;
    for (std::size_t i = 0; i < config.issuers.size() && i < profiles.size(); ++i) {
        const auto& ic = config.issuers[i];
        if (ic.crl_key.empty()) continue;
        const std::string where = fmt::format("{}: issuer '{}': crl_key", config.source.string(), ic.name);
        try {
            crl::crl_key_source source;
            source.key = ic.crl_key.string();
            source.pin_file = ic.crl_pin_file;
            source.token.module = config.pkcs11.module;
            source.token.sessions = config.pkcs11.sessions;
            source.token.timeout = config.pkcs11.timeout;
            source.allow_group_readable = ic.signing.allow_group_readable_key;
            auto signer = crl::crl_signer::load(ic.ca_file, source, ic.signing.padding == rsa_padding::pss);
            if (!signer) throw config_error(fmt::format("{}: {}", where, signer.error_message()));
            out.push_back({ic.name, profiles[i].issuer_id,
                           std::make_shared<const crl::crl_signer>(std::move(signer).value())});
        } catch (const config_error&) {
            throw;
        } catch (const std::exception& e) {
            throw config_error(fmt::format("{}: {}", where, e.what()));
        }
    }
    return out;
}

std::shared_ptr<const issuer_set> enabled_set(const std::vector<issuer_profile>& all, schema::index_reader& index) {
    std::vector<issuer_profile> enabled;
    for (const auto& p : all) {
        auto rec = index.find_issuer(p.issuer_id);
        if (rec && rec->enabled) enabled.push_back(p);
    }
    return std::make_shared<const issuer_set>(std::move(enabled));
}

ocsp_service::ocsp_service(const responder_config& config, const clock_source& clock, responder_metrics& metrics)
    : config_(config),
      clock_(clock),
      metrics_(metrics),
      limits_{config.server.max_cert_ids, config.server.max_body_bytes},
      cache_(config.server.cache_mib * 1024 * 1024),
      pool_(config.server.signing_threads),
      try_later_(error_answer(ocsp_status::try_later)),
      malformed_(error_answer(ocsp_status::malformed_request)),
      unauthorized_(error_answer(ocsp_status::unauthorized)),
      internal_error_(error_answer(ocsp_status::internal_error)),
      purger_(config.http_cache, config.server.path, metrics) {
    all_profiles_ = build_issuer_profiles(config_, clock_.now_seconds());
    auto index = schema::open_index_reader(config_.database.spec);
    if (config_.database.is_file)
        if (auto id = identify_file(config_.database.file())) opened_file_ = *id;
    issuers_.store(enabled_set(all_profiles_, *index));
    load_warm_start(*index);
    open_on_every_signing_thread();
    if (auto crl_issuers = build_crl_issuers(config_, all_profiles_); !crl_issuers.empty())
        crl_ = std::make_unique<crl_publisher>(config_.database.spec, std::move(crl_issuers),
                                               crl::crl_policy{config_.crl.validity, config_.crl.expired_grace}, clock_);
    watcher_ = std::jthread([this](std::stop_token st) { watch_changes(st); });
}

ocsp_service::~ocsp_service() { stop(); }

void ocsp_service::stop() {
    if (stopped_.exchange(true)) return;
    if (watcher_.joinable()) {
        watcher_.request_stop();
        watcher_.join();
    }
    if (crl_) crl_->stop();
    pool_.join();
    if (!config_.server.warm_start_file.empty()) {
        if (auto saved = save_warm_start(); !saved) logger()->error("{}", saved.error_message());
    }
}

void ocsp_service::open_on_every_signing_thread() {
    // Each of the pool's threads takes exactly one of these jobs, because each waits until all have
    // arrived. Opening now, not on a thread's first request, means every connection reads the file
    // that was checked at start-up, even if the path is later removed or names another file.
    const auto threads = static_cast<std::ptrdiff_t>(config_.server.signing_threads);
    // Shared, not on this stack: a job may still be inside arrive_and_wait() when wait() here returns.
    struct rendezvous {
        explicit rendezvous(std::ptrdiff_t n) : all_opened(n) {}
        std::latch all_opened;
        std::mutex m;
        std::string failure;
    };
    auto state = std::make_shared<rendezvous>(threads);
    for (std::ptrdiff_t i = 0; i < threads; ++i) {
        asio::post(pool_, [this, state] {
            try {
                (void)thread_index();
            } catch (const std::exception& e) {
                std::lock_guard lock(state->m);
                state->failure = e.what();
            }
            state->all_opened.arrive_and_wait();
        });
    }
    state->all_opened.wait();
    std::string failure;
    {
        std::lock_guard lock(state->m);
        failure = state->failure;
    }
    if (!failure.empty()) throw schema::index_error(failure);
}

namespace {

// One reader per signing thread: SQLite handles and libpq connections are not shared between threads.
struct thread_reader {
    std::unique_ptr<schema::index_reader> index;
    std::string opened;  // the database string it was opened from
    std::uint64_t generation = 0;
};
thread_local thread_reader this_thread_reader;

}  // namespace

schema::index_reader& ocsp_service::thread_index() {
    auto& t = this_thread_reader;
    if (!database_reachable_.load()) {
        std::lock_guard lock(file_mutex_);
        throw schema::index_unavailable(unreachable_why_);
    }
    const std::uint64_t current = index_generation_.load();
    if (!t.index || t.opened != config_.database.spec || t.generation != current) {
        t.index.reset();
        auto fresh = schema::open_index_reader(config_.database.spec);
        // Never answer from a file the watcher has not vetted (a foreign database copied over the path
        // would answer "unknown" for every serial): internalError is the honest answer then.
        if (config_.database.is_file) {
            file_identity expected;
            {
                std::lock_guard lock(file_mutex_);
                expected = opened_file_;
            }
            if (auto now = identify_file(config_.database.file()); !now || *now != expected)
                throw schema::index_error(fmt::format("index {} is not the file the responder opened; waiting for "
                                                      "the change watcher to reopen it",
                                                      config_.database.describe()));
        }
        t.index = std::move(fresh);
        t.opened = config_.database.spec;
        t.generation = current;
    }
    return *t.index;
}

template <class Read>
auto ocsp_service::read_index(Read&& read) -> decltype(read(std::declval<schema::index_reader&>())) {
    for (int attempt = 0;; ++attempt) {
        try {
            return read(thread_index());
        } catch (const pg::pg_error& e) {
            if (!e.transient()) throw;
            this_thread_reader.index.reset();
            if (attempt == 0) continue;
            // Connecting failed too: tell the other threads, so that misses answer tryLater at once
            // until the watcher is connected again. A cancelled query on a hot standby is not that.
            if (e.connection_bad()) report_unreachable(e.what());
            throw schema::index_unavailable(e.what());
        }
    }
}

void ocsp_service::report_unreachable(const std::string& why) {
    std::lock_guard lock(file_mutex_);
    unreachable_why_ = why;
    if (!database_reachable_.exchange(false)) return;
    unreachable_since_ = std::chrono::steady_clock::now();
    logger()->error("index {} unreachable: {}; serving cached answers until their nextUpdate, misses answer "
                    "tryLater, reconnecting",
                    config_.database.describe(), why);
}

void ocsp_service::report_reachable() {
    if (database_reachable_.load()) return;
    // Every signing thread reconnects: their connections died with the server's.
    index_generation_.fetch_add(1);
    std::lock_guard lock(file_mutex_);
    if (database_reachable_.exchange(true)) return;
    metrics_.count_database_reconnect();
    const auto down = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                            unreachable_since_);
    logger()->warn("index {} reachable again after {:.1f} s; catching up from change sequence {}",
                   config_.database.describe(), static_cast<double>(down.count()) / 1000.0,
                   applied_change_seq_.load());
}

std::shared_ptr<const cached_answer> ocsp_service::compute(const std::vector<std::uint8_t>& der,
                                                           const decode_result& decoded,
                                                           const std::shared_ptr<const issuer_set>& issuers) {
    const std::uint64_t generation = cache_.generation();
    const sys_seconds now = clock_.now_seconds();
    // What the index says is kept beside the answers and dropped with them when the change feed reports
    // the certificate, so signing anew (nonces, re-signs, another form of request) reads it once.
    cert_lookup lookup = [this, generation](std::int64_t issuer_id, const serial_number& serial) {
        if (auto known = cache_.find_record(issuer_id, serial.bytes())) return std::move(*known);
        metrics_.count_index_lookup();
        auto record =
            read_index([&](schema::index_reader& index) { return index.find_certificate(issuer_id, serial); });
        cache_.insert_record(issuer_id, serial.bytes(), record, generation);
        return record;
    };
    answer_result result = answer(decoded, *issuers, lookup, now);
    const bool successful = result.meta.status == ocsp_status::successful;
    if (successful) metrics_.count_signature();
    if (!successful || result.meta.has_nonce) {
        // A nonce answer is for one client: never cached, never validated by HTTP caches (no-cache).
        auto entry = std::make_shared<cached_answer>();
        entry->der = std::move(result.der);
        entry->meta = result.meta;
        entry->meta.issuer = nullptr;  // profiles may be replaced by a reload while the entry lives
        if (result.meta.issuer) {
            entry->issuer_id = result.meta.issuer->issuer_id;
            entry->issuer_name = result.meta.issuer->name;
        }
        if (!successful) {
            if (!result.meta.detail.empty()) logger()->debug("answer not successful: {}", result.meta.detail);
            if (result.meta.status == ocsp_status::try_later) metrics_.count_try_later();
        }
        return entry;
    }
    auto entry = cacheable_entry(std::move(result.der), result.meta, std::move(result.statuses), *result.meta.issuer,
                                 decoded->certs, now);
    cache_.insert(std::string(der.begin(), der.end()), entry, generation);
    return entry;
}

std::shared_ptr<cached_answer> ocsp_service::cacheable_entry(std::vector<std::uint8_t> der,
                                                             const answer_metadata& meta,
                                                             std::vector<single_status> statuses,
                                                             const issuer_profile& issuer,
                                                             std::span<const requested_cert> certs, sys_seconds now) {
    auto entry = std::make_shared<cached_answer>();
    entry->der = std::move(der);
    entry->meta = meta;
    entry->meta.issuer = nullptr;  // profiles may be replaced by a reload while the entry lives
    entry->issuer_id = issuer.issuer_id;
    entry->issuer_name = issuer.name;
    entry->etag = protocol::response_etag(entry->der);
    if (auto validators = protocol::get_validator_fields(entry->meta.http_validity(), entry->der, now, entry->etag)) {
        entry->cacheable_get = true;
        entry->get_validators = std::move(*validators);
    }
    entry->refresh_at = now + (meta.next_update - now) / 2;
    for (const auto& c : certs) entry->serials.push_back(c.serial.bytes());
    entry->statuses = std::move(statuses);
    entry->signer_sha256 = issuer.signing->certificate_sha256();
    return entry;
}

bool ocsp_service::signer_up(std::int64_t issuer_id) const {
    for (const auto& p : issuers_.load()->profiles())
        if (p.issuer_id == issuer_id) return p.signing->token() == nullptr || p.signing->token()->up();
    return true;
}

std::shared_ptr<const cached_answer> ocsp_service::find_cached(std::span<const std::uint8_t> der) {
    const sys_seconds now = clock_.now_seconds();
    const std::string_view key(reinterpret_cast<const char*>(der.data()), der.size());
    auto hit = cache_.find(key);
    if (!hit || now >= hit->meta.next_update) return nullptr;
    metrics_.count_cache(true);
    // No re-sign while the database is unreachable or the issuer's token is down: it would fail, and the
    // answer is served until nextUpdate.
    if (now >= hit->refresh_at && database_reachable_.load() && signer_up(hit->issuer_id) &&
        !hit->refresh_scheduled.exchange(true))
        schedule_resign(std::string(key));
    return hit;
}

asio::awaitable<std::shared_ptr<const cached_answer>> ocsp_service::answer_miss(std::vector<std::uint8_t> der) {
    metrics_.count_cache(false);

    decode_result decoded = decode_request(der, limits_);
    if (!decoded) {
        logger()->debug("malformed request: {}", decoded.error_message());
        co_return malformed_;
    }
    auto issuers = issuers_.load();
    for (const auto& c : decoded->certs) {
        if (!issuers->match(c)) co_return unauthorized_;
    }
    if (!database_reachable_.load()) {
        metrics_.count_try_later();
        co_return try_later_;
    }
    if (queued_.fetch_add(1) >= config_.server.signing_queue) {
        queued_.fetch_sub(1);
        metrics_.count_try_later();
        co_return try_later_;
    }
    std::shared_ptr<const cached_answer> result;
    try {
        result = co_await asio::co_spawn(
            pool_,
            [&]() -> asio::awaitable<std::shared_ptr<const cached_answer>> {
                struct release {
                    std::atomic<std::size_t>& q;
                    ~release() { q.fetch_sub(1); }
                } r{queued_};
                co_return compute(der, decoded, issuers);
            },
            asio::use_awaitable);
    } catch (const std::exception& e) {
        logger()->error("answering failed: {}", e.what());
        result = internal_error_;
    }
    co_return result;
}

crl_publisher::lookup ocsp_service::find_crl(std::string_view name) const {
    if (!crl_) return {};
    return crl_->find(name, clock_.now_seconds());
}

void ocsp_service::schedule_resign(std::string request_der) {
    if (queued_.fetch_add(1) >= config_.server.signing_queue) {
        queued_.fetch_sub(1);
        return;  // the entry will be re-signed on a later hit or miss
    }
    asio::post(pool_, [this, der = std::move(request_der)] {
        struct release {
            std::atomic<std::size_t>& q;
            ~release() { q.fetch_sub(1); }
        } r{queued_};
        try {
            std::vector<std::uint8_t> bytes(der.begin(), der.end());
            decode_result decoded = decode_request(bytes, limits_);
            if (!decoded || decoded->nonce_out_of_range()) return;
            auto issuers = issuers_.load();
            for (const auto& c : decoded->certs)
                if (!issuers->match(c)) return;
            // A failed re-sign (the database unreachable) leaves the old answer, to be tried again later.
            if (compute(bytes, decoded, issuers)->meta.status != ocsp_status::successful)
                if (auto old = cache_.find(der)) old->refresh_scheduled.store(false);
        } catch (const std::exception& e) {
            logger()->error("background re-sign failed: {}", e.what());
        }
    });
}

status ocsp_service::reload() {
    try {
        auto fresh = load_config(config_.source);
        auto profiles = build_issuer_profiles(fresh, clock_.now_seconds());
        auto index = schema::open_index_reader(fresh.database.spec);
        std::lock_guard lock(reload_mutex_);
        if (fresh.database != config_.database)
            return error{errc::unsupported, "database changes need a restart; configuration not reloaded"};
        all_profiles_ = std::move(profiles);
        issuers_.store(enabled_set(all_profiles_, *index));
        cache_.clear();
        return success();
    } catch (const std::exception& e) {
        return error{errc::config, e.what()};
    }
}

asio::awaitable<ocsp_service::health_report> ocsp_service::health() {
    auto issuers = issuers_.load();
    const sys_seconds now = clock_.now_seconds();
    co_return co_await asio::co_spawn(
        pool_,
        [&]() -> asio::awaitable<health_report> {
            health_report r;
            std::string problem;
            {
                std::lock_guard lock(file_mutex_);
                problem = reopen_error_;
                if (problem.empty() && config_.database.is_file)
                    problem = index_file_problem(config_.database.file(), opened_file_);
            }
            try {
                const auto seq = read_index([](schema::index_reader& index) { return index.current_change_seq(); });
                if (problem.empty()) r.text += fmt::format("database: ok (change sequence {})\n", seq);
            } catch (const schema::index_unavailable& e) {
                // Still answering from the cache: not a failure a load balancer should act on alone.
                std::lock_guard lock(file_mutex_);
                const auto down = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                                   unreachable_since_);
                r.degraded = true;
                r.text += fmt::format("database: DEGRADED unreachable for {} s ({}); serving cached answers, "
                                      "misses answer tryLater\n",
                                      down.count(), unreachable_why_.empty() ? e.what() : unreachable_why_);
            } catch (const std::exception& e) {
                if (problem.empty()) problem = e.what();
            }
            if (!problem.empty()) {
                r.ok = false;
                r.text += fmt::format("database: FAIL {}\n", problem);
            }
            for (const auto& p : issuers->profiles()) {
                const bool valid = p.signing->not_after() > now;
                r.ok = r.ok && valid;
                const keys::token_key* token = p.signing->token();
                if (valid && token != nullptr && !token->up()) {
                    // Like an unreachable database: cached answers are still served, so not a failure.
                    const auto state = token->current();
                    r.degraded = true;
                    r.text += fmt::format("issuer {}: signer DEGRADED {} unavailable for {} s ({}); serving cached "
                                          "answers, answers that need a signature get tryLater, reconnecting\n",
                                          p.name, token->describe(), state.down_for.count(), state.reason);
                    continue;
                }
                r.text += fmt::format("issuer {}: signer {} ({})\n", p.name, valid ? "ok" : "EXPIRED",
                                      p.signing->description());
            }
            if (crl_) {
                for (const auto& c : crl_->reports(now)) {
                    // A CRL that is configured but not served is a failure: clients would meet 503s.
                    r.ok = r.ok && c.serving;
                    if (c.serving)
                        r.text += fmt::format("crl {}: ok (number {}, nextUpdate {}){}\n", c.name, c.number,
                                              to_iso8601(c.next_update),
                                              c.problem.empty() ? "" : "; re-issuing failed: " + c.problem);
                    else
                        r.text += fmt::format("crl {}: FAIL {}\n", c.name,
                                              c.problem.empty() ? std::string{"not issued"} : c.problem);
                }
            }
            if (issuers->profiles().empty()) {
                r.ok = false;
                r.text += "no enabled issuer\n";
            }
            co_return r;
        },
        asio::use_awaitable);
}

responder_metrics::gauges ocsp_service::gauges() const {
    responder_metrics::gauges g;
    g.cache_entries = cache_.entries();
    g.cache_bytes = cache_.bytes_used();
    g.signing_queue_depth = queued_.load();
    g.index_change_sequence = applied_change_seq_.load();
    g.database_up = database_reachable_.load();
    g.warm_start_loaded = warm_loaded_;
    g.warm_start_dropped = warm_dropped_;
    g.warm_start_saved_at = warm_saved_at_.load();
    const sys_seconds now = clock_.now_seconds();
    for (const auto& p : issuers_.load()->profiles()) {
        g.signer_seconds_to_expiry.emplace_back(p.name, static_cast<double>((p.signing->not_after() - now).count()));
        const keys::token_key* token = p.signing->token();
        g.signers.push_back({p.name, token == nullptr || token->up(), token ? token->current().failures : 0});
    }
    if (crl_) {
        for (const auto& c : crl_->reports(now))
            g.crls.push_back({c.name, c.number, c.next_update.time_since_epoch().count(), c.issued, c.failures});
    }
    return g;
}

}  // namespace ocspkit::responder
