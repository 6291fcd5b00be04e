#include "common/duration.hpp"

#include <charconv>
#include <cstdint>
#include <limits>

namespace ocspkit {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    if (text.empty()) return std::nullopt;
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || value < 0) return std::nullopt;
    std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    std::int64_t ms_per_unit = 0;
    if (unit.empty() || unit == "s") ms_per_unit = 1000;
    else if (unit == "ms") ms_per_unit = 1;
    else if (unit == "m") ms_per_unit = 60 * 1000;
    else if (unit == "h") ms_per_unit = 3600 * 1000;
    else if (unit == "d") ms_per_unit = 24 * 3600 * 1000;
    else return std::nullopt;
    if (value > std::numeric_limits<std::int64_t>::max() / ms_per_unit) return std::nullopt;
    return std::chrono::milliseconds{value * ms_per_unit};
}

std::string format_duration(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms == 0) return "0s";
    struct unit {
        std::int64_t ms;
        const char* suffix;
    };
    for (auto u : {unit{24 * 3600 * 1000, "d"}, unit{3600 * 1000, "h"}, unit{60 * 1000, "m"}, unit{1000, "s"}}) {
        if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.suffix;
    }
    return std::to_string(ms) + "ms";
}

}  // namespace ocspkit
