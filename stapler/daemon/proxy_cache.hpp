#pragma once
// The OCSP proxy's cache, without I/O (house rule 2): one entry per set of CertIDs a client asked about
// (proxy_request.hpp), holding per CertID the same state as a stapled certificate (cert_state.hpp), so
// the proxy applies the stapler's publishing rules and refresh schedule unchanged:
//   * an entry serves its response only while every CertID's published response is usable (before
//     nextUpdate); a response is only ever published after validate_response_for() accepted it for
//     every CertID of the entry;
//   * a fetched response replaces the published one only when compare() says so for every CertID: a
//     permanent revocation is never replaced by good, an older or equally old good never lifts a hold,
//     an older answer never replaces a newer one;
//   * refreshes follow schedule.hpp (half validity, jitter, back-off after failures);
//   * a miss that found nothing usable upstream is remembered for `negative_ttl` (answered tryLater
//     without asking upstream again), so a dead responder is not hammered by every handshake;
//   * at most `max_entries` entries: the least recently requested is evicted first.
#include <chrono>
#include <cstddef>
#include <list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/serial.hpp"
#include "stapler/daemon/cert_state.hpp"
#include "stapler/daemon/schedule.hpp"
#include "stapler/validate.hpp"

namespace ocspkit::stapler::daemon {

struct proxy_entry {
    std::string key;                        // proxy_request::key
    std::vector<std::uint8_t> request_der;  // what refreshes send upstream: a client's request without nonce
    std::size_t issuer = 0;                 // index of the configured issuer
    std::vector<serial_number> serials;     // one per CertID, in request order
    std::vector<cert_state> certs;          // likewise
    time_point last_requested{};
    std::optional<time_point> negative_until;  // set by a miss that found nothing usable upstream

    // The response to relay at `now`: the published one, when it is usable for every CertID.
    const validated_response* servable(sys_seconds now) const noexcept;
    // When to fetch again: the earliest of the CertIDs' refresh times.
    time_point next_refresh() const noexcept;
    // While a miss's failure is remembered, the upstream is not asked again for a request.
    bool negative(time_point now) const noexcept { return negative_until && now < *negative_until; }

    // A fetch returned a response that validated for every CertID (`fetched`, in the order of `serials`).
    // Published only if compare() allows it for every CertID; otherwise the fetch counts as failed.
    cert_state::applied on_fetched(std::span<const validated_response> fetched, time_point now,
                                   std::optional<std::chrono::seconds> max_age, const schedule_params& params,
                                   double u);
    // A fetch failed (transport, HTTP or validation); `reason` is the metric label. When nothing usable is
    // published, the failure is remembered until now + negative_ttl.
    void on_failed(std::string_view reason, std::string_view detail, time_point now, const schedule_params& params,
                   double u, std::chrono::milliseconds negative_ttl);
};

class proxy_cache {
public:
    explicit proxy_cache(std::size_t max_entries) : max_entries_(max_entries == 0 ? 1 : max_entries) {}

    proxy_entry* find(std::string_view key);
    // A client asked for `key`: the entry moves to the front of the eviction order.
    void requested(proxy_entry& entry, time_point now);
    // Adds an empty entry (or returns the existing one) and marks it requested at `now`. Entries beyond
    // max_entries are evicted, least recently requested first (never the one returned); their keys are
    // appended to `evicted` so that their persisted files can be removed.
    proxy_entry& emplace(std::string key, std::vector<std::uint8_t> request_der, std::size_t issuer,
                         std::vector<serial_number> serials, time_point now, std::vector<std::string>& evicted);
    void erase(std::string_view key);

    // Entries whose refresh is due at `now` (those with nothing published and no remembered failure
    // included), least recently requested last.
    std::vector<proxy_entry*> due(time_point now);
    // The earliest refresh time of all entries, if any.
    std::optional<time_point> next_due() const;

    std::size_t size() const noexcept { return entries_.size(); }
    std::size_t max_entries() const noexcept { return max_entries_; }
    template <class F>
    void for_each(F&& f) const {
        for (const auto& e : order_) f(e);
    }

private:
    std::size_t max_entries_;
    std::list<proxy_entry> order_;  // front = most recently requested
    std::unordered_map<std::string_view, std::list<proxy_entry>::iterator> entries_;  // views into order_'s keys
};

}  // namespace ocspkit::stapler::daemon
