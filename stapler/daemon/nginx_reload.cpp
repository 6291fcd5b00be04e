#include "stapler/daemon/nginx_reload.hpp"

#include <algorithm>

namespace ocspkit::stapler::daemon {

void reload_debouncer::request(clock::time_point now) {
    if (pending_) return;  // coalesced into the reload already pending
    pending_ = true;
    requested_ = now;
}

std::optional<reload_debouncer::clock::time_point> reload_debouncer::due() const {
    if (!pending_) return std::nullopt;
    if (last_run_) return std::max(requested_, *last_run_ + min_interval_);
    return requested_;
}

bool reload_debouncer::should_run(clock::time_point now) const {
    const auto when = due();
    return when && now >= *when;
}

void reload_debouncer::ran(clock::time_point now) {
    pending_ = false;
    last_run_ = now;
}

}  // namespace ocspkit::stapler::daemon
