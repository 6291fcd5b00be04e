#include "stapler/daemon/proxy_cache.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace ocspkit::stapler::daemon {

const validated_response* proxy_entry::servable(sys_seconds now) const noexcept {
    if (certs.empty()) return nullptr;
    const validated_response* first = certs.front().usable(now);
    if (first == nullptr) return nullptr;
    for (const auto& c : certs) {
        const validated_response* r = c.usable(now);
        // Every CertID's state was published from the same response, so the bytes agree; anything else
        // would be a bug, and then nothing is served.
        if (r == nullptr || r->der != first->der) return nullptr;
    }
    return first;
}

time_point proxy_entry::next_refresh() const noexcept {
    time_point earliest = time_point::max();
    for (const auto& c : certs) earliest = std::min(earliest, c.next_refresh);
    return certs.empty() ? time_point{} : earliest;
}

cert_state::applied proxy_entry::on_fetched(std::span<const validated_response> fetched, time_point now,
                                            std::optional<std::chrono::seconds> max_age,
                                            const schedule_params& params, double u) {
    cert_state::applied out;
    if (fetched.size() != certs.size()) {
        out.result = publish_result::stale;
        out.detail = fmt::format("the response answers {} of the {} CertIDs", fetched.size(), certs.size());
        for (auto& c : certs) c.on_failed("internal", out.detail, now, params, u);
        return out;
    }
    // All or nothing: one response serves every CertID of the entry, so it replaces the published one
    // only if it may for each of them. The first refusal (a contradiction before a staleness) decides.
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now);
    std::optional<std::size_t> refused;
    for (std::size_t i = 0; i < certs.size(); ++i) {
        const auto v = compare(certs[i].current, fetched[i], now_s);
        if (v == replace_verdict::contradiction) {
            refused = i;
            break;
        }
        if (v == replace_verdict::stale && !refused) refused = i;
    }
    if (refused) {
        // cert_state::on_fetched refuses it the same way (and records why) for that CertID; the others
        // count the fetch as failed with the same detail.
        out = certs[*refused].on_fetched(fetched[*refused], now, max_age, params, u);
        for (std::size_t i = 0; i < certs.size(); ++i)
            if (i != *refused) certs[i].on_failed(to_string(out.result), out.detail, now, params, u);
        return out;
    }
    bool unchanged = true;
    for (std::size_t i = 0; i < certs.size(); ++i) {
        const auto applied = certs[i].on_fetched(fetched[i], now, max_age, params, u);
        unchanged = unchanged && applied.unchanged;
    }
    negative_until.reset();
    out.publish = !unchanged;
    out.unchanged = unchanged;
    return out;
}

void proxy_entry::on_failed(std::string_view reason, std::string_view detail, time_point now,
                            const schedule_params& params, double u, std::chrono::milliseconds negative_ttl) {
    for (auto& c : certs) c.on_failed(reason, detail, now, params, u);
    if (servable(std::chrono::floor<std::chrono::seconds>(now)) == nullptr) negative_until = now + negative_ttl;
}

proxy_entry* proxy_cache::find(std::string_view key) {
    const auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &*it->second;
}

void proxy_cache::requested(proxy_entry& entry, time_point now) {
    entry.last_requested = now;
    const auto it = entries_.find(entry.key);
    if (it != entries_.end()) order_.splice(order_.begin(), order_, it->second);
}

proxy_entry& proxy_cache::emplace(std::string key, std::vector<std::uint8_t> request_der, std::size_t issuer,
                                  std::vector<serial_number> serials, time_point now,
                                  std::vector<std::string>& evicted) {
    if (proxy_entry* existing = find(key)) {
        requested(*existing, now);
        return *existing;
    }
    proxy_entry e;
    e.key = std::move(key);
    e.request_der = std::move(request_der);
    e.issuer = issuer;
    e.certs.resize(serials.size());
    e.serials = std::move(serials);
    e.last_requested = now;
    order_.push_front(std::move(e));
    entries_.emplace(order_.front().key, order_.begin());
    while (order_.size() > max_entries_) {
        evicted.push_back(order_.back().key);
        entries_.erase(order_.back().key);
        order_.pop_back();
    }
    return order_.front();
}

void proxy_cache::erase(std::string_view key) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return;
    const auto position = it->second;
    entries_.erase(it);
    order_.erase(position);
}

std::vector<proxy_entry*> proxy_cache::due(time_point now) {
    std::vector<proxy_entry*> out;
    for (auto& e : order_)
        if (e.next_refresh() <= now && !e.negative(now)) out.push_back(&e);
    return out;
}

std::optional<time_point> proxy_cache::next_due() const {
    std::optional<time_point> earliest;
    for (const auto& e : order_) {
        auto t = e.next_refresh();
        if (e.negative_until) t = std::max(t, *e.negative_until);
        if (!earliest || t < *earliest) earliest = t;
    }
    return earliest;
}

}  // namespace ocspkit::stapler::daemon
