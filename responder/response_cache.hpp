#pragma once
// Bounded in-memory cache of signed responses, keyed by the request's DER. A request without nonce is
// fully determined by its bytes, so the hot path answers a repeated request with one hash lookup and
// no ASN.1 decoding or signing. Each entry remembers which (issuer, serial) pairs it covers so that a
// change in the index drops exactly the affected answers.
//
// Beside the answers it keeps what the index said about each (issuer, serial) it was asked for, under
// the same invalidation: an answer that must be signed anew (a nonce, another request form of the same
// certificate, a re-sign) then needs no database lookup, and is exactly as fresh as the cached answers.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "responder/answer.hpp"

namespace ocspkit::responder {

struct cached_answer {
    std::vector<std::uint8_t> der;
    answer_metadata meta;  // meta.issuer is not used from the cache (profiles can be reloaded)
    std::int64_t issuer_id = 0;
    std::vector<bytes> serials;  // canonical serials the response covers
    sys_seconds refresh_at{};    // after this the entry is re-signed in the background (half validity)
    std::string etag;
    // For GET: whether RFC 5019 caching applies, and then its validator fields, preformatted as
    // "Last-Modified: ..\r\nExpires: ..\r\nETag: ..\r\n" (only max-age changes per request).
    bool cacheable_get = false;
    std::string get_validators;
    std::string issuer_name;
    // What was signed, one per CertID, and by which signer certificate (SHA-256 of its DER): what the
    // warm-start file keeps so that a restarted responder can check each answer against the index.
    std::vector<single_status> statuses;
    bytes signer_sha256;
    // Set by whoever schedules the background re-sign, so it happens once.
    mutable std::atomic<bool> refresh_scheduled{false};
};

// Split into shards by key hash, each with its own lock and LRU list, so that network threads looking
// up different requests rarely meet on one mutex; the byte budget is split evenly between them.
class response_cache {
public:
    explicit response_cache(std::size_t max_bytes);

    std::shared_ptr<const cached_answer> find(std::string_view request_der);
    // Every invalidate() and clear() advances the generation. An answer computed from index data read
    // under generation G is inserted only if the generation is still G, so a signer racing with a
    // revocation can never put the pre-revocation answer back.
    std::uint64_t generation() const;
    bool insert(std::string request_der, std::shared_ptr<const cached_answer> answer,
                std::uint64_t expected_generation);
    // What the index said about (issuer, serial): the record, or nullopt for a serial it does not hold.
    // No value when not known.
    std::optional<std::optional<schema::cert_record>> find_record(std::int64_t issuer_id, const bytes& serial);
    // Keeps `record` (the certificate's DER and subject dropped) if the generation is still
    // `expected_generation`, as insert() does.
    bool insert_record(std::int64_t issuer_id, const bytes& serial, const std::optional<schema::cert_record>& record,
                       std::uint64_t expected_generation);
    // Drops every entry covering (issuer, serial), and its record, and returns their keys (to re-sign them).
    std::vector<std::string> invalidate(std::int64_t issuer_id, const bytes& serial);
    void clear();

    // Every answer held, with its key: each shard's most recently used first, the shards interleaved
    // (what the warm-start file keeps, most valuable first).
    std::vector<std::pair<std::string, std::shared_ptr<const cached_answer>>> snapshot() const;

    std::size_t entries() const;
    std::size_t records() const;
    std::size_t bytes_used() const;

private:
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    struct entry {
        std::shared_ptr<const cached_answer> answer;
        std::list<std::string>::iterator lru_position;
    };
    using entry_map = std::unordered_map<std::string, entry, string_hash, std::equal_to<>>;
    struct shard {
        mutable std::mutex mutex;
        entry_map map;
        std::list<std::string> lru;  // front = most recently used
        std::unordered_multimap<std::string, std::string> by_cert;  // cover_key -> request key
        std::size_t bytes = 0;
        // cover_key -> what the index said, least recently used evicted first past shard_max_records_
        // (kept apart from the answers' byte budget: a record costs one lookup to get back, an answer
        // a signature).
        std::unordered_map<std::string, std::optional<schema::cert_record>> records;
        std::list<std::string> record_order;  // front = newest
        std::unordered_map<std::string, std::list<std::string>::iterator> record_position;
        void erase(entry_map::iterator it);
        void erase_record(const std::string& cover);
        void clear();
    };
    static constexpr std::size_t shard_count = 16;
    static std::string cover_key(std::int64_t issuer_id, const bytes& serial);
    static std::size_t cost(std::string_view key, const cached_answer& a);
    shard& shard_for(std::string_view key) { return shards_[string_hash{}(key) % shard_count]; }

    const std::size_t shard_max_bytes_;
    // Records take about 300 bytes each (key three times, status fields, nodes); they get an eighth of
    // the budget (64 MiB: ~28,000 records).
    const std::size_t shard_max_records_;
    std::array<shard, shard_count> shards_;
    std::atomic<std::uint64_t> generation_{0};
};

}  // namespace ocspkit::responder
