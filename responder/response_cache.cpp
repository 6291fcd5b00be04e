#include "responder/response_cache.hpp"

#include <algorithm>

namespace ocspkit::responder {

response_cache::response_cache(std::size_t max_bytes)
    : shard_max_bytes_(max_bytes / shard_count), shard_max_records_(std::max<std::size_t>(1, max_bytes / 8 / 300 / shard_count)) {}

std::string response_cache::cover_key(std::int64_t issuer_id, const bytes& serial) {
    std::string key(sizeof issuer_id, '\0');
    for (std::size_t i = 0; i < sizeof issuer_id; ++i)
        key[i] = static_cast<char>((static_cast<std::uint64_t>(issuer_id) >> (8 * i)) & 0xff);
    key.append(serial.begin(), serial.end());
    return key;
}

std::size_t response_cache::cost(std::string_view key, const cached_answer& a) {
    // Key stored twice (map + LRU list) plus the response, its preformatted headers and bookkeeping.
    return 2 * key.size() + a.der.size() + a.etag.size() + a.get_validators.size() + 160 + a.serials.size() * 64;
}

void response_cache::shard::erase(entry_map::iterator it) {
    const auto& answer = *it->second.answer;
    for (const auto& serial : answer.serials) {
        auto range = by_cert.equal_range(cover_key(answer.issuer_id, serial));
        for (auto c = range.first; c != range.second; ++c) {
            if (c->second == it->first) {
                by_cert.erase(c);
                break;
            }
        }
    }
    bytes -= cost(it->first, answer);
    lru.erase(it->second.lru_position);
    map.erase(it);
}

void response_cache::shard::clear() {
    map.clear();
    lru.clear();
    by_cert.clear();
    bytes = 0;
    records.clear();
    record_order.clear();
    record_position.clear();
}

void response_cache::shard::erase_record(const std::string& cover) {
    auto position = record_position.find(cover);
    if (position == record_position.end()) return;
    // `cover` may be the list's own element (eviction passes record_order.back()): the list node goes last.
    const auto node = position->second;
    records.erase(cover);
    record_position.erase(position);
    record_order.erase(node);
}

std::optional<std::optional<schema::cert_record>> response_cache::find_record(std::int64_t issuer_id,
                                                                              const bytes& serial) {
    const std::string cover = cover_key(issuer_id, serial);
    shard& s = shard_for(cover);
    std::lock_guard lock(s.mutex);
    auto it = s.records.find(cover);
    if (it == s.records.end()) return std::nullopt;
    s.record_order.splice(s.record_order.begin(), s.record_order, s.record_position.at(cover));
    return it->second;
}

bool response_cache::insert_record(std::int64_t issuer_id, const bytes& serial,
                                   const std::optional<schema::cert_record>& record, std::uint64_t expected_generation) {
    std::optional<schema::cert_record> slim = record;
    if (slim) {  // answers need the status fields only
        slim->cert_der.reset();
        slim->subject.clear();
        slim->subject.shrink_to_fit();
    }
    std::string cover = cover_key(issuer_id, serial);
    shard& s = shard_for(cover);
    std::lock_guard lock(s.mutex);
    // As in insert(): invalidate() moves the generation before it visits the shards.
    if (generation_.load() != expected_generation) return false;
    s.erase_record(cover);
    while (s.records.size() >= shard_max_records_ && !s.record_order.empty()) s.erase_record(s.record_order.back());
    s.record_order.push_front(cover);
    s.record_position.emplace(cover, s.record_order.begin());
    s.records.emplace(std::move(cover), std::move(slim));
    return true;
}

std::shared_ptr<const cached_answer> response_cache::find(std::string_view request_der) {
    shard& s = shard_for(request_der);
    std::lock_guard lock(s.mutex);
    auto it = s.map.find(request_der);
    if (it == s.map.end()) return nullptr;
    s.lru.splice(s.lru.begin(), s.lru, it->second.lru_position);
    return it->second.answer;
}

std::uint64_t response_cache::generation() const { return generation_.load(); }

bool response_cache::insert(std::string request_der, std::shared_ptr<const cached_answer> answer,
                            std::uint64_t expected_generation) {
    const std::size_t c = cost(request_der, *answer);
    if (c > shard_max_bytes_) return false;
    shard& s = shard_for(request_der);
    std::lock_guard lock(s.mutex);
    // invalidate() advances the generation before it visits the shards, so checking it under the
    // shard's lock suffices: either we see the new generation, or invalidate() sees our entry.
    if (generation_.load() != expected_generation) return false;
    if (auto it = s.map.find(request_der); it != s.map.end()) s.erase(it);
    while (s.bytes + c > shard_max_bytes_ && !s.lru.empty()) s.erase(s.map.find(s.lru.back()));
    for (const auto& serial : answer->serials) s.by_cert.emplace(cover_key(answer->issuer_id, serial), request_der);
    s.lru.push_front(request_der);
    s.map.emplace(std::move(request_der), entry{std::move(answer), s.lru.begin()});
    s.bytes += c;
    return true;
}

std::vector<std::string> response_cache::invalidate(std::int64_t issuer_id, const bytes& serial) {
    std::vector<std::string> keys;
    generation_.fetch_add(1);
    const std::string cover = cover_key(issuer_id, serial);
    {
        shard& owner = shard_for(cover);
        std::lock_guard lock(owner.mutex);
        owner.erase_record(cover);
    }
    for (auto& s : shards_) {
        std::lock_guard lock(s.mutex);
        const std::size_t first = keys.size();
        auto range = s.by_cert.equal_range(cover);
        for (auto c = range.first; c != range.second; ++c) keys.push_back(c->second);
        for (std::size_t i = first; i < keys.size(); ++i) {
            if (auto it = s.map.find(keys[i]); it != s.map.end()) s.erase(it);
        }
    }
    return keys;
}

void response_cache::clear() {
    generation_.fetch_add(1);
    for (auto& s : shards_) {
        std::lock_guard lock(s.mutex);
        s.clear();
    }
}

std::size_t response_cache::entries() const {
    std::size_t n = 0;
    for (const auto& s : shards_) {
        std::lock_guard lock(s.mutex);
        n += s.map.size();
    }
    return n;
}

std::size_t response_cache::records() const {
    std::size_t n = 0;
    for (const auto& s : shards_) {
        std::lock_guard lock(s.mutex);
        n += s.records.size();
    }
    return n;
}

std::size_t response_cache::bytes_used() const {
    std::size_t n = 0;
    for (const auto& s : shards_) {
        std::lock_guard lock(s.mutex);
        n += s.bytes;
    }
    return n;
}

std::vector<std::pair<std::string, std::shared_ptr<const cached_answer>>> response_cache::snapshot() const {
    std::array<std::vector<std::pair<std::string, std::shared_ptr<const cached_answer>>>, shard_count> per_shard;
    std::size_t total = 0;
    for (std::size_t i = 0; i < shard_count; ++i) {
        const shard& s = shards_[i];
        std::lock_guard lock(s.mutex);
        per_shard[i].reserve(s.lru.size());
        for (const auto& key : s.lru) per_shard[i].emplace_back(key, s.map.at(key).answer);
        total += per_shard[i].size();
    }
    std::vector<std::pair<std::string, std::shared_ptr<const cached_answer>>> out;
    out.reserve(total);
    for (std::size_t rank = 0; out.size() < total; ++rank)
        for (auto& entries : per_shard)
            if (rank < entries.size()) out.push_back(std::move(entries[rank]));
    return out;
}

}  // namespace ocspkit::responder
