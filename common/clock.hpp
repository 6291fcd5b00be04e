#pragma once
// Time is injected: only main() picks the real clock; tests use fake_clock.
#include <atomic>
#include <chrono>
#include <cstdint>

namespace ocspkit {

using sys_seconds = std::chrono::sys_seconds;

class clock_source {
public:
    virtual ~clock_source() = default;
    virtual std::chrono::system_clock::time_point now() const = 0;
    sys_seconds now_seconds() const { return std::chrono::floor<std::chrono::seconds>(now()); }
};

class system_clock_source final : public clock_source {
public:
    std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
};

class fake_clock final : public clock_source {
public:
    explicit fake_clock(sys_seconds start) : ns_(to_ns(start)) {}
    std::chrono::system_clock::time_point now() const override {
        return std::chrono::system_clock::time_point{std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds{ns_.load()})};
    }
    void set(sys_seconds t) { ns_.store(to_ns(t)); }
    void advance(std::chrono::nanoseconds d) { ns_.fetch_add(d.count()); }

private:
    static std::int64_t to_ns(sys_seconds t) {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    }
    std::atomic<std::int64_t> ns_;
};

}  // namespace ocspkit
