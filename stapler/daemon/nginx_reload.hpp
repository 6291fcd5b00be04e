#pragma once
// When nginx is told to reload after the files it reads changed (the run itself is run_command(), in
// command_runner.hpp).
#include <chrono>
#include <optional>

namespace ocspkit::stapler::daemon {

// When to run the nginx reload: at most once per `min_interval`, coalescing every request made while
// one is pending. Pure: time is injected (house rule 9).
class reload_debouncer {
public:
    using clock = std::chrono::steady_clock;
    explicit reload_debouncer(clock::duration min_interval = std::chrono::seconds{1}) : min_interval_(min_interval) {}

    // A file nginx reads changed at `now`.
    void request(clock::time_point now);
    // When the pending reload should run; nullopt when none is pending.
    std::optional<clock::time_point> due() const;
    // True when a reload is pending and due at `now`.
    bool should_run(clock::time_point now) const;
    // The reload was started at `now`; clears the pending request.
    void ran(clock::time_point now);
    bool pending() const noexcept { return pending_; }

private:
    clock::duration min_interval_;
    bool pending_ = false;
    clock::time_point requested_{};
    std::optional<clock::time_point> last_run_;
};

}  // namespace ocspkit::stapler::daemon
