#include "common/log_format.hpp"

#include <memory>
#include <sstream>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include "common/version.hpp"

namespace ocspkit {
namespace {

std::string log_one(log_format format, std::string_view message) {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
    spdlog::logger logger("component", sink);
    apply_log_format(logger, format);
    logger.warn("{}", message);
    logger.flush();
    return out.str();
}

TEST(log_format, names) {
    EXPECT_EQ(log_format_from_name("text"), log_format::text);
    EXPECT_EQ(log_format_from_name("json"), log_format::json);
    EXPECT_FALSE(log_format_from_name("JSON "));
    EXPECT_FALSE(log_format_from_name(""));
}

TEST(log_format, json_is_one_object_per_line_with_escaped_message) {
    const std::string line = log_one(log_format::json, "serial \"1004\"\tnew\\line\x01");
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one record, one line";
    const auto value = boost::json::parse(line);
    const auto& obj = value.as_object();
    EXPECT_EQ(obj.at("level").as_string(), "warning");
    EXPECT_EQ(obj.at("logger").as_string(), "component");
    EXPECT_EQ(obj.at("message").as_string(), "serial \"1004\"\tnew\\line\x01");
    const std::string time{obj.at("time").as_string()};
    ASSERT_EQ(time.size(), 24u) << time;  // 2026-12-03T09:30:00.123Z
    EXPECT_EQ(time[10], 'T');
    EXPECT_EQ(time.back(), 'Z');
}

TEST(log_format, text_names_logger_and_level) {
    const std::string line = log_one(log_format::text, "hello");
    EXPECT_NE(line.find("[component] warning: hello"), std::string::npos) << line;
    EXPECT_EQ(line[10], 'T');
}

TEST(version, text_starts_with_the_release) {
    EXPECT_FALSE(version.empty());
    EXPECT_EQ(version_text.substr(0, version.size()), version);
}

}  // namespace
}  // namespace ocspkit
