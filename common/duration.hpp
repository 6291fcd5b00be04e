#pragma once
// Durations as configuration files write them: "500ms", "90s", "15m", "24h", "7d", or a bare number of
// seconds. Shared by every program's configuration.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ocspkit {

// nullopt for anything else (negative, empty, unknown unit, overflow).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The shortest exact spelling parse_duration() reads back: "0s", "500ms", "90s", "15m", "24h", "7d".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace ocspkit
