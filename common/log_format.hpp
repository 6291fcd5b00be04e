#pragma once
// How the daemons write their log lines: the human text form, or one JSON object per line for journald,
// Loki and other collectors that index fields ([log] format = "json" in both configurations).
#include <optional>
#include <string_view>

#include <spdlog/logger.h>

namespace ocspkit {

enum class log_format { text, json };

std::optional<log_format> log_format_from_name(std::string_view name);  // "text" or "json"

// text: `2026-12-03T09:30:00.123Z [responder] info: message` (UTC).
// json: `{"time":"2026-12-03T09:30:00.123Z","level":"info","logger":"responder","message":"..."}`.
// `text_pattern` replaces the text form's spdlog pattern (the access log leaves out logger and level).
void apply_log_format(spdlog::logger& logger, log_format format, std::string_view text_pattern = {});

}  // namespace ocspkit
