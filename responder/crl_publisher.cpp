#include "responder/crl_publisher.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/asn1_time.hpp"
#include "crl/crl_issue.hpp"
#include "protocol/cache_headers.hpp"
#include "responder/logger.hpp"

namespace ocspkit::responder {

namespace {

// After a failure: 1 s, doubling up to a minute, so a locked or unreachable database is not hammered.
constexpr std::chrono::seconds first_backoff{1};
constexpr std::chrono::seconds max_backoff{60};
// A disabled issuer is looked at again this often (and at once when the watcher sees issuers change).
constexpr std::chrono::seconds disabled_recheck{60};

}  // namespace

struct crl_publisher::slot {
    crl_issuer issuer;
    std::atomic<std::shared_ptr<const served_crl>> current;
    std::atomic<bool> disabled{false};
    // mutex_:
    bool dirty = true;
    sys_seconds retry_at{};
    std::chrono::seconds backoff = first_backoff;
    std::uint64_t issued = 0;
    std::uint64_t failures = 0;
    std::string problem;
};

crl_publisher::crl_publisher(std::string database, std::vector<crl_issuer> issuers, crl::crl_policy policy,
                             const clock_source& clock)
    : database_(std::move(database)), policy_(policy), clock_(clock) {
    for (auto& i : issuers) {
        auto s = std::make_unique<slot>();
        s->issuer = std::move(i);
        slots_.push_back(std::move(s));
    }
    // At start-up, so that the first requests find a CRL; the thread retries what failed.
    for (auto& s : slots_) issue(*s, clock_.now_seconds());
    thread_ = std::jthread([this](std::stop_token st) { run(st); });
}

crl_publisher::~crl_publisher() { stop(); }

void crl_publisher::stop() {
    if (thread_.joinable()) {
        thread_.request_stop();
        wake_.notify_all();
        thread_.join();
    }
}

crl_publisher::lookup crl_publisher::find(std::string_view name, sys_seconds now) const {
    for (const auto& s : slots_) {
        if (s->issuer.name != name) continue;
        lookup out;
        if (s->disabled.load()) return out;
        auto crl = s->current.load();
        if (!crl) {
            out.what = lookup::kind::unavailable;
            out.why = "not issued yet";
            return out;
        }
        if (now >= crl->next_update) {
            // Revocation safety: an expired CRL says nothing a client may rely on.
            out.what = lookup::kind::unavailable;
            out.why = "the last CRL has passed its nextUpdate and re-issuing it failed";
            return out;
        }
        out.what = lookup::kind::ok;
        out.crl = std::move(crl);
        return out;
    }
    return {};
}

void crl_publisher::changed(std::int64_t issuer_id) {
    bool any = false;
    {
        std::lock_guard lock(mutex_);
        for (auto& s : slots_) {
            if (s->issuer.issuer_id != issuer_id) continue;
            s->dirty = true;
            any = true;
        }
    }
    if (any) wake_.notify_all();
}

void crl_publisher::changed_all() {
    {
        std::lock_guard lock(mutex_);
        for (auto& s : slots_) {
            s->dirty = true;
            s->retry_at = {};
        }
    }
    wake_.notify_all();
}

std::vector<crl_publisher::report> crl_publisher::reports(sys_seconds now) const {
    std::vector<report> out;
    std::lock_guard lock(mutex_);
    for (const auto& s : slots_) {
        report r;
        r.name = s->issuer.name;
        if (auto crl = s->current.load()) {
            r.number = crl->number;
            r.next_update = crl->next_update;
            r.serving = now < crl->next_update && !s->disabled.load();
        }
        r.issued = s->issued;
        r.failures = s->failures;
        r.problem = s->disabled.load() ? "issuer disabled in the index" : s->problem;
        out.push_back(std::move(r));
    }
    return out;
}

void crl_publisher::issue(slot& s, sys_seconds now) {
    {
        std::lock_guard lock(mutex_);
        // Cleared before reading the index: a change reported while this runs makes another round.
        s.dirty = false;
    }
    std::string failure;
    bool disabled = false;
    try {
        if (!index_) index_ = schema::open_index_store(database_, sqlite::open_mode::read_write);
        auto issued = crl::issue_crl(*index_, s.issuer.issuer_id, *s.issuer.signer, policy_, now);
        if (issued) {
            auto crl = std::make_shared<served_crl>();
            crl->number = issued->crl.number;
            crl->this_update = issued->crl.this_update;
            crl->next_update = issued->crl.next_update;
            crl->refresh_at = crl->this_update + (crl->next_update - crl->this_update) / 2;
            crl->der = std::move(issued->crl.der);
            crl->etag = protocol::response_etag(crl->der);
            crl->validators = fmt::format("Last-Modified: {}\r\nExpires: {}\r\nETag: {}\r\n",
                                          protocol::imf_fixdate(crl->this_update), protocol::imf_fixdate(crl->refresh_at),
                                          crl->etag);
            logger()->info("CRL of issuer '{}': number {}, {} entries ({} expired left off), change sequence {}, "
                           "nextUpdate {}",
                           s.issuer.name, crl->number, issued->crl.entries, issued->crl.expired_left_off,
                           issued->change_seq, to_iso8601(crl->next_update));
            s.disabled.store(false);
            s.current.store(std::move(crl));
        } else if (issued.code() == errc::unauthorized) {
            disabled = true;
        } else {
            failure = issued.error_message();
        }
    } catch (const std::exception& e) {
        // The connection may be what failed (a server restart, a lock timeout): open a fresh one next time.
        index_.reset();
        failure = e.what();
    }
    std::lock_guard lock(mutex_);
    if (disabled) {
        if (!s.disabled.exchange(true)) logger()->warn("issuer '{}' is disabled in the index: no CRL served", s.issuer.name);
        s.current.store(nullptr);
        s.retry_at = now + disabled_recheck;
        return;
    }
    if (failure.empty()) {
        ++s.issued;
        s.problem.clear();
        s.backoff = first_backoff;
        s.retry_at = {};
        return;
    }
    ++s.failures;
    if (failure != s.problem)
        logger()->error("issuing the CRL of issuer '{}' failed: {}; the current CRL is served until its nextUpdate, "
                        "retrying",
                        s.issuer.name, failure);
    s.problem = std::move(failure);
    s.dirty = true;  // still owed
    s.retry_at = now + s.backoff;
    s.backoff = std::min(max_backoff, s.backoff * 2);
}

void crl_publisher::run(std::stop_token stop) {
    while (!stop.stop_requested()) {
        const sys_seconds now = clock_.now_seconds();
        std::vector<slot*> due;
        sys_seconds next_wake = now + max_backoff;
        {
            std::lock_guard lock(mutex_);
            for (auto& s : slots_) {
                const auto crl = s->current.load();
                sys_seconds at = s->dirty || (!crl && !s->disabled.load()) ? now : crl ? crl->refresh_at : s->retry_at;
                at = std::max(at, s->retry_at);
                if (at <= now) {
                    due.push_back(s.get());
                } else {
                    next_wake = std::min(next_wake, at);
                }
            }
        }
        for (slot* s : due) {
            if (stop.stop_requested()) return;
            issue(*s, clock_.now_seconds());
        }
        if (!due.empty()) continue;  // look again: a change may have come in meanwhile
        std::unique_lock lock(mutex_);
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_wake - now);
        wake_.wait_for(lock, stop, std::max(wait, std::chrono::milliseconds{10}), [this, now] {
            for (const auto& s : slots_)
                if (s->dirty && s->retry_at <= now) return true;
            return false;
        });
    }
}

}  // namespace ocspkit::responder
