// The change watcher of ocsp_service: follows the index's change counter (dropping and re-signing
// exactly the cached answers whose certificates changed, and logging their serials) and the issuers'
// enabled flags. For SQLite it watches the database file itself, which may be removed or replaced under
// its path; for PostgreSQL the connection, which it re-opens with backoff when the server goes away,
// then catches up from the last change sequence it applied.
#include <condition_variable>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "responder/service.hpp"
#include "responder/logger.hpp"
#include "common/pg.hpp"
#include "schema/cert_index.hpp"

namespace ocspkit::responder {
void ocsp_service::apply_issuer_flags(schema::index_reader& index) {
    std::lock_guard lock(reload_mutex_);
    auto fresh = enabled_set(all_profiles_, index);
    auto current = issuers_.load();
    std::vector<std::int64_t> a, b;
    for (auto& p : fresh->profiles()) a.push_back(p.issuer_id);
    for (auto& p : current->profiles()) b.push_back(p.issuer_id);
    if (a != b) {
        logger()->info("issuer set changed in the index: now serving {} of {} issuers", a.size(), all_profiles_.size());
        issuers_.store(fresh);
        cache_.clear();
        if (crl_) crl_->changed_all();
    }
}

namespace {

std::string describe_state(const std::optional<schema::cert_record>& rec) {
    if (!rec) return "removed from the index";
    std::string text{schema::status_name(rec->status)};
    if (rec->status != schema::cert_status::good && rec->reason)
        text += fmt::format(" ({})", schema::reason_name(*rec->reason));
    return text;
}

}  // namespace

void ocsp_service::log_changes(schema::index_reader& index, const std::vector<schema::changed_cert>& changes,
                               std::int64_t seq, bool bulk) {
    // Bounded so that a million-row import does not flood the log: the first serials, then a count.
    constexpr std::size_t logged = 20;
    const std::size_t shown = std::min(logged, changes.size());
    for (std::size_t i = 0; i < shown; ++i) {
        const auto& c = changes[i];
        logger()->info("index change {}: issuer {} serial {} {}", c.change_seq, c.issuer_id, c.serial.to_hex(),
                       describe_state(index.find_certificate(c.issuer_id, c.serial)));
    }
    if (changes.size() > shown)
        logger()->info("index change {}: ... and {}{} more certificates", seq, bulk ? "at least " : "",
                       changes.size() - shown);
}

void ocsp_service::reopen_replaced(std::unique_ptr<schema::index_reader>& index, std::int64_t& seen,
                                   const file_identity& now) {
    try {
        // The new file may number its issuers differently: rebuild the profiles from it.
        auto profiles = build_issuer_profiles(config_, clock_.now_seconds());
        auto fresh = schema::open_index_reader(config_.database.spec);
        const std::int64_t seq = fresh->current_change_seq();
        {
            // The identity first: signing threads check it when the generation makes them reopen.
            std::lock_guard lock(file_mutex_);
            opened_file_ = now;
            reopen_error_.clear();
        }
        {
            std::lock_guard lock(reload_mutex_);
            all_profiles_ = std::move(profiles);
            issuers_.store(enabled_set(all_profiles_, *fresh));
            index_generation_.fetch_add(1);
            cache_.clear();
        }
        if (crl_) crl_->changed_all();
        index = std::move(fresh);
        seen = seq;
        applied_change_seq_.store(seen);
        logger()->warn("index {} was replaced by another file (inode {}); reopened it at change sequence {}, cache "
                       "cleared",
                       config_.database.describe(), now.inode, seq);
    } catch (const std::exception& e) {
        const std::string why = fmt::format("index {} was replaced (inode {}) but the new file cannot be used: {}; "
                                            "still answering from the file opened before",
                                            config_.database.describe(), now.inode, e.what());
        std::lock_guard lock(file_mutex_);
        if (why != reopen_error_) logger()->error("{}", why);  // once per distinct failure, retried each poll
        reopen_error_ = why;
    }
}

bool ocsp_service::check_index_file(std::unique_ptr<schema::index_reader>& index, std::int64_t& seen,
                                    std::chrono::steady_clock::time_point& next_reopen) {
    // The path is looked at first: a missing file is reported once, whatever else fails after (opening it
    // again would only fail on every poll with a less precise message).
    auto now = identify_file(config_.database.file());
    const std::string previous = std::exchange(missing_file_, now ? std::string{} : now.error_message());
    if (now && !previous.empty()) logger()->info("index {} is back", config_.database.describe());
    if (!now && now.error_message() != previous)
        logger()->error("index {}: {}; still answering from the file opened before", config_.database.describe(),
                        now.error_message());
    if (!index && !now) return false;
    if (!index) index = schema::open_index_reader(config_.database.spec);
    // An open connection keeps reading the inode it opened: a file moved or copied over the path is only
    // seen by comparing identities.
    if (now) {
        file_identity opened;
        {
            std::lock_guard lock(file_mutex_);
            opened = opened_file_;
        }
        // A new file that cannot be used is retried once a second, not on every poll: each try loads every
        // CA and key again.
        if (*now != opened && std::chrono::steady_clock::now() >= next_reopen) {
            reopen_replaced(index, seen, *now);
            next_reopen = std::chrono::steady_clock::now() + std::chrono::seconds{1};
        }
    }
    return true;
}

void ocsp_service::apply_changes(schema::index_reader& index, std::int64_t& seen) {
    const std::int64_t seq = index.current_change_seq();
    if (seen < 0) {
        seen = seq;
        applied_change_seq_.store(seen);
        return;
    }
    if (seq == seen) return;
    constexpr std::size_t change_limit = 100000;
    auto changes = index.changes_since(seen, change_limit);
    if (changes.size() >= change_limit) {
        // A bulk change (e.g. a large import): dropping everything is cheaper than listing it.
        cache_.clear();
        if (crl_) crl_->changed_all();
        seen = seq;
        apply_issuer_flags(index);
        applied_change_seq_.store(seen);
        logger()->info("index changed (sequence {}): bulk change, cache cleared", seq);
        log_changes(index, changes, seq, true);
        return;
    }
    std::size_t resigned = 0;
    for (const auto& c : changes) {
        // The CRL follows in the same poll: its publisher re-issues it at once, on its own thread.
        if (crl_) crl_->changed(c.issuer_id);
        for (auto& key : cache_.invalidate(c.issuer_id, c.serial.bytes())) {
            schedule_resign(std::move(key));
            ++resigned;
        }
        seen = std::max(seen, c.change_seq);
    }
    // Only now that our cache no longer holds their old answers: a cache purged earlier could re-fetch
    // one from us and keep it again.
    purger_.purge_changed(*issuers_.load(), changes);
    seen = std::max(seen, seq);
    apply_issuer_flags(index);
    applied_change_seq_.store(seen);
    logger()->info("index changed (sequence {}): {} certificates, {} cached answers re-signed", seq, changes.size(),
                   resigned);
    log_changes(index, changes, seq, false);
}

void ocsp_service::watch_changes(std::stop_token stop) {
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_ptr<schema::index_reader> index;
    std::int64_t seen = -1;
    auto next_reopen = std::chrono::steady_clock::time_point::min();
    // Reconnecting to PostgreSQL: first at the next poll, then doubling up to a few seconds, so that a
    // server that is down is not asked hundreds of times a second by every replica.
    constexpr std::chrono::milliseconds max_backoff{5000};
    std::chrono::milliseconds backoff = config_.server.change_poll;
    auto next_connect = std::chrono::steady_clock::time_point::min();
    auto wait_one_poll = [&] {
        std::unique_lock lock(m);
        cv.wait_for(lock, stop, config_.server.change_poll, [] { return false; });
    };
    // The warm-start file is also written now and then, so that a responder that is killed (not stopped)
    // still starts warm from a recent copy.
    auto next_save = std::chrono::steady_clock::now() + config_.server.warm_start_interval;
    while (!stop.stop_requested()) {
        if (!config_.server.warm_start_file.empty() && std::chrono::steady_clock::now() >= next_save) {
            if (auto saved = save_warm_start(); !saved) logger()->error("{}", saved.error_message());
            next_save = std::chrono::steady_clock::now() + config_.server.warm_start_interval;
        }
        try {
            if (config_.database.is_file) {
                if (!check_index_file(index, seen, next_reopen)) {
                    wait_one_poll();
                    continue;
                }
            } else if (!index) {
                if (std::chrono::steady_clock::now() < next_connect) {
                    wait_one_poll();
                    continue;
                }
                index = schema::open_index_reader(config_.database.spec);
            }
            apply_changes(*index, seen);
            if (!config_.database.is_file) {
                // Caught up: from now on the signing threads may use the database again.
                report_reachable();
                backoff = config_.server.change_poll;
            }
        } catch (const pg::pg_error& e) {
            index.reset();
            if (!e.transient()) {
                logger()->error("watching {} failed: {}", config_.database.describe(), e.what());
            } else {
                report_unreachable(e.what());
                next_connect = std::chrono::steady_clock::now() + backoff;
                backoff = std::min(max_backoff, backoff * 2);
            }
        } catch (const std::exception& e) {
            logger()->error("watching {} failed: {}", config_.database.describe(), e.what());
            index.reset();
        }
        wait_one_poll();
    }
}

}  // namespace ocspkit::responder
