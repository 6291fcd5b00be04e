#include "common/log_format.hpp"

#include <chrono>
#include <memory>
#include <string>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>

namespace ocspkit {

namespace {

constexpr std::string_view default_text_pattern = "%Y-%m-%dT%H:%M:%S.%eZ [%n] %l: %v";

void append_json_string(spdlog::memory_buf_t& dest, std::string_view text) {
    // Boost.JSON escapes quotes, backslashes and control characters, and keeps UTF-8 as it is.
    const std::string quoted = boost::json::serialize(boost::json::string(text));
    dest.append(quoted.data(), quoted.data() + quoted.size());
}

void append(spdlog::memory_buf_t& dest, std::string_view text) { dest.append(text.data(), text.data() + text.size()); }

// One JSON object per record. Field names follow the common collector conventions (time, level, logger,
// message) so that Loki or journald need no mapping.
class json_formatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(msg.time);
        const auto secs = std::chrono::floor<std::chrono::seconds>(ms);
        const auto frac = (ms - secs).count();
        append(dest, R"({"time":")");
        fmt::format_to(std::back_inserter(dest), "{:%Y-%m-%dT%H:%M:%S}.{:03}Z", secs, frac);
        append(dest, R"(","level":")");
        const auto level = spdlog::level::to_string_view(msg.level);
        dest.append(level.data(), level.data() + level.size());
        append(dest, R"(","logger":)");
        append_json_string(dest, std::string_view{msg.logger_name.data(), msg.logger_name.size()});
        append(dest, R"(,"message":)");
        append_json_string(dest, std::string_view{msg.payload.data(), msg.payload.size()});
        append(dest, "}\n");
    }

    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }
};

}  // namespace

std::optional<log_format> log_format_from_name(std::string_view name) {
    if (name == "text") return log_format::text;
    if (name == "json") return log_format::json;
    return std::nullopt;
}

void apply_log_format(spdlog::logger& logger, log_format format, std::string_view text_pattern) {
    if (format == log_format::json) {
        logger.set_formatter(std::make_unique<json_formatter>());
        return;
    }
    const std::string pattern{text_pattern.empty() ? default_text_pattern : text_pattern};
    logger.set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern, spdlog::pattern_time_type::utc));
}

}  // namespace ocspkit
