// Warm start: the pre-signed answers written to server.warm_start_file, and read back at start so that a
// restarted (or newly added) responder answers repeated requests at once instead of queueing every first
// request for a signature. Nothing is taken on trust from the file: an answer is loaded only while it is
// valid, signed by the signer configured now, and when the index still gives every status it states
// (a revocation made while the responder was down drops the answers it concerns).
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/atomic_file.hpp"
#include "responder/logger.hpp"
#include "responder/service.hpp"
#include "responder/warm_start.hpp"

namespace ocspkit::responder {
namespace {

// Verifying answers against the index is bounded: past this, the rest are left to be signed on demand.
constexpr std::chrono::seconds load_budget{2};

struct load_counts {
    std::size_t loaded = 0;
    std::size_t expired = 0;     // past nextUpdate
    std::size_t changed = 0;     // the index now says something else about a certificate
    std::size_t unserved = 0;    // issuer no longer served, or another signer
    std::size_t malformed = 0;   // the stored request does not decode as a cacheable one
    std::size_t unchecked = 0;   // left when the time budget ran out
    std::size_t dropped() const { return expired + changed + unserved + malformed + unchecked; }
};

}  // namespace

void ocsp_service::load_warm_start(schema::index_reader& index) {
    const auto& path = config_.server.warm_start_file;
    if (path.empty()) return;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        logger()->info("warm start: no file {} yet; starting with an empty cache", path.string());
        return;
    }
    const bytes file{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) {
        logger()->warn("warm start: reading {} failed; starting with an empty cache", path.string());
        return;
    }
    auto entries = decode_warm_start(file);
    if (!entries) {
        logger()->warn("warm start: {} is unusable ({}); starting with an empty cache", path.string(),
                       entries.error_message());
        return;
    }
    const auto started = std::chrono::steady_clock::now();
    const sys_seconds now = clock_.now_seconds();
    const std::uint64_t generation = cache_.generation();
    const auto issuers = issuers_.load();
    load_counts counts;
    // The file holds the most recently used first; inserting the least recently used first leaves the
    // cache's LRU order as it was.
    for (auto it = entries->rbegin(); it != entries->rend(); ++it) {
        warm_entry& e = *it;
        if (now >= e.next_update) {
            ++counts.expired;
            continue;
        }
        if (std::chrono::steady_clock::now() - started > load_budget) {
            ++counts.unchecked;
            continue;
        }
        const decode_result decoded = decode_request(e.request_der, limits_);
        if (!decoded || decoded->certs.empty() || decoded->certs.size() != e.statuses.size()) {
            ++counts.malformed;
            continue;
        }
        const issuer_profile* profile = issuers->match(decoded->certs.front());
        // A request with a nonce is cached only by an issuer that ignores nonces.
        if (profile != nullptr && decoded->nonce && profile->nonces != nonce_policy::ignore) {
            ++counts.malformed;
            continue;
        }
        bool served = profile != nullptr && profile->signing->certificate_sha256() == e.signer_sha256;
        for (std::size_t i = 1; served && i < decoded->certs.size(); ++i)
            served = issuers->match(decoded->certs[i]) == profile;
        if (!served) {
            ++counts.unserved;
            continue;
        }
        bool same = true;
        for (std::size_t i = 0; same && i < decoded->certs.size(); ++i) {
            const auto& serial = decoded->certs[i].serial;
            auto known = cache_.find_record(profile->issuer_id, serial.bytes());
            std::optional<schema::cert_record> record;
            if (known) {
                record = std::move(*known);
            } else {
                metrics_.count_index_lookup();
                record = index.find_certificate(profile->issuer_id, serial);
                cache_.insert_record(profile->issuer_id, serial.bytes(), record, generation);
            }
            same = map_status(record, *profile, now) == e.statuses[i];
        }
        if (!same) {
            ++counts.changed;
            continue;
        }
        answer_metadata meta;
        meta.status = ocsp_status::successful;
        for (const auto& s : e.statuses) meta.cert_states.push_back(s.state);
        meta.this_update = e.this_update;
        meta.next_update = e.next_update;
        meta.cacheable = true;
        auto entry = cacheable_entry(std::move(e.response_der), meta, std::move(e.statuses), *profile, decoded->certs,
                                     now);
        entry->refresh_at = e.refresh_at;
        cache_.insert(std::string(e.request_der.begin(), e.request_der.end()), std::move(entry), generation);
        ++counts.loaded;
    }
    warm_loaded_ = counts.loaded;
    warm_dropped_ = counts.dropped();
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    logger()->info("warm start: {} answers loaded from {} in {} ms; left out: {} status changed in the index, {} "
                   "expired, {} for another issuer or signer, {} unreadable, {} past the {} s budget",
                   counts.loaded, path.string(), took.count(), counts.changed, counts.expired, counts.unserved,
                   counts.malformed, counts.unchecked, load_budget.count());
}

status ocsp_service::save_warm_start() {
    const auto& path = config_.server.warm_start_file;
    if (path.empty()) return success();
    std::lock_guard lock(warm_save_mutex_);
    const sys_seconds now = clock_.now_seconds();
    std::vector<warm_entry> entries;
    for (auto& [key, answer] : cache_.snapshot()) {
        // Only what a restart can serve: valid answers of the cacheable kind, with what they state.
        if (answer->meta.status != ocsp_status::successful || answer->meta.has_nonce || now >= answer->meta.next_update ||
            answer->statuses.empty() || answer->signer_sha256.empty())
            continue;
        warm_entry e;
        e.request_der.assign(key.begin(), key.end());
        e.response_der = answer->der;
        e.signer_sha256 = answer->signer_sha256;
        e.this_update = answer->meta.this_update;
        e.next_update = answer->meta.next_update;
        e.refresh_at = answer->refresh_at;
        e.statuses = answer->statuses;
        entries.push_back(std::move(e));
    }
    // Only the responder's own user needs it: it holds nothing secret, but nobody else has a use for it.
    if (auto written = write_file_atomically(path, encode_warm_start(entries), 0600); !written)
        return error{written.code(), fmt::format("warm start: writing {}: {}", path.string(), written.error_message())};
    warm_saved_at_.store(now.time_since_epoch().count());
    logger()->info("warm start: {} answers written to {}", entries.size(), path.string());
    return success();
}

}  // namespace ocspkit::responder
