#include "responder/response_cache.hpp"

namespace ocspkit::responder {

std::string response_cache::cover_key(std::int64_t issuer_id, const bytes& serial) {
    std::string key(sizeof issuer_id, '\0');
    for (std::size_t i = 0; i < sizeof issuer_id; ++i)
        key[i] = static_cast<char>((static_cast<std::uint64_t>(issuer_id) >> (8 * i)) & 0xff);
    key.append(serial.begin(), serial.end());
    return key;
}

std::size_t response_cache::cost(std::string_view key, const cached_answer& a) {
    // Key stored twice (map + LRU list) plus the response and bookkeeping overhead.
    return 2 * key.size() + a.der.size() + a.etag.size() + 160 + a.serials.size() * 64;
}

std::shared_ptr<const cached_answer> response_cache::find(std::string_view request_der) {
    std::lock_guard lock(mutex_);
    auto it = map_.find(request_der);
    if (it == map_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second.lru_position);
    return it->second.answer;
}

void response_cache::erase_locked(std::unordered_map<std::string, entry, string_hash, std::equal_to<>>::iterator it) {
    const auto& answer = *it->second.answer;
    for (const auto& serial : answer.serials) {
        auto range = by_cert_.equal_range(cover_key(answer.issuer_id, serial));
        for (auto c = range.first; c != range.second; ++c) {
            if (c->second == it->first) {
                by_cert_.erase(c);
                break;
            }
        }
    }
    bytes_ -= cost(it->first, answer);
    lru_.erase(it->second.lru_position);
    map_.erase(it);
}

std::uint64_t response_cache::generation() const {
    std::lock_guard lock(mutex_);
    return generation_;
}

bool response_cache::insert(std::string request_der, std::shared_ptr<const cached_answer> answer,
                            std::uint64_t expected_generation) {
    const std::size_t c = cost(request_der, *answer);
    if (c > max_bytes_) return false;
    std::lock_guard lock(mutex_);
    if (generation_ != expected_generation) return false;
    if (auto it = map_.find(request_der); it != map_.end()) erase_locked(it);
    while (bytes_ + c > max_bytes_ && !lru_.empty()) erase_locked(map_.find(lru_.back()));
    for (const auto& serial : answer->serials) by_cert_.emplace(cover_key(answer->issuer_id, serial), request_der);
    lru_.push_front(request_der);
    map_.emplace(std::move(request_der), entry{std::move(answer), lru_.begin()});
    bytes_ += c;
    return true;
}

std::vector<std::string> response_cache::invalidate(std::int64_t issuer_id, const bytes& serial) {
    std::vector<std::string> keys;
    std::lock_guard lock(mutex_);
    ++generation_;
    auto range = by_cert_.equal_range(cover_key(issuer_id, serial));
    for (auto c = range.first; c != range.second; ++c) keys.push_back(c->second);
    for (const auto& key : keys) {
        if (auto it = map_.find(key); it != map_.end()) erase_locked(it);
    }
    return keys;
}

void response_cache::clear() {
    std::lock_guard lock(mutex_);
    map_.clear();
    lru_.clear();
    by_cert_.clear();
    bytes_ = 0;
    ++generation_;
}

std::size_t response_cache::entries() const {
    std::lock_guard lock(mutex_);
    return map_.size();
}

std::size_t response_cache::bytes_used() const {
    std::lock_guard lock(mutex_);
    return bytes_;
}

}  // namespace ocspkit::responder
