#pragma once
// Typed, strict reading of TOML configuration with toml++ (house rule 19): every error names the file,
// the line and the key, unknown keys are errors, relative paths are resolved against the file's
// directory. Header-only so that only the programs that read TOML depend on toml++.
//
//   FILE:LINE: key 'server.io_threads': must be between 1 and 64
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "common/config_error.hpp"
#include "common/duration.hpp"

namespace ocspkit {

class toml_reader {
public:
    explicit toml_reader(std::filesystem::path origin) : origin_(std::move(origin)) {}

    const std::filesystem::path& origin() const noexcept { return origin_; }

    // The file's text parsed; a syntax error is "FILE:LINE:COLUMN: description".
    static toml::table parse(std::string_view text, const std::filesystem::path& origin) {
        try {
            return toml::parse(text, origin.string());
        } catch (const toml::parse_error& e) {
            throw config_error(fmt::format("{}:{}:{}: {}", origin.string(), e.source().begin.line,
                                           e.source().begin.column, e.description()));
        }
    }
    static std::string read_text(const std::filesystem::path& file) {
        std::ifstream in(file, std::ios::binary);
        if (!in) throw config_error(fmt::format("{}: cannot read configuration file", file.string()));
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

    // "FILE:LINE: key 'KEY': WHY" (without LINE when the node is absent).
    std::string message(const toml::node* node, std::string_view key, std::string_view why) const {
        auto line = node ? node->source().begin.line : 0;
        if (line) return fmt::format("{}:{}: key '{}': {}", origin_.string(), line, key, why);
        return fmt::format("{}: key '{}': {}", origin_.string(), key, why);
    }
    [[noreturn]] void fail(const toml::node* node, std::string_view key, std::string_view why) const {
        throw config_error(message(node, key, why));
    }

    // Typos in keys are errors, not silently ignored settings.
    void reject_unknown(const toml::table& table, std::string_view prefix, std::set<std::string_view> known) const {
        for (auto&& [k, v] : table) {
            if (!known.contains(k.str())) fail(&v, join(prefix, k.str()), "unknown key");
        }
    }

    static std::string join(std::string_view prefix, std::string_view key) {
        return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
    }

    // The sub-table `key`, or nullptr when absent; anything else than a table is an error.
    const toml::table* table(const toml::table& t, std::string_view prefix, std::string_view key) const {
        const toml::node* n = t.get(key);
        if (!n) return nullptr;
        if (!n->is_table()) fail(n, join(prefix, key), fmt::format("must be a table [{}]", join(prefix, key)));
        return n->as_table();
    }

    std::optional<std::string> string(const toml::table& t, std::string_view prefix, std::string_view key) const {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        if (!n->is_string()) fail(n, join(prefix, key), "must be a string");
        return n->value<std::string>().value();
    }

    std::optional<std::vector<std::string>> string_array(const toml::table& t, std::string_view prefix,
                                                         std::string_view key) const {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        if (!n->is_array()) fail(n, join(prefix, key), "must be an array of strings");
        std::vector<std::string> out;
        for (const auto& item : *n->as_array()) {
            if (!item.is_string()) fail(&item, join(prefix, key), "must be an array of strings");
            out.push_back(item.value<std::string>().value());
        }
        return out;
    }

    std::optional<std::int64_t> integer(const toml::table& t, std::string_view prefix, std::string_view key,
                                        std::int64_t min, std::int64_t max) const {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        if (!n->is_integer()) fail(n, join(prefix, key), "must be an integer");
        std::int64_t v = n->value<std::int64_t>().value();
        if (v < min || v > max) fail(n, join(prefix, key), fmt::format("must be between {} and {}", min, max));
        return v;
    }

    // Integers are accepted where a fraction is expected ("jitter = 0").
    std::optional<double> number(const toml::table& t, std::string_view prefix, std::string_view key, double min,
                                 double max) const {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        if (!n->is_number()) fail(n, join(prefix, key), "must be a number");
        double v = n->value<double>().value();
        if (!(v >= min && v <= max)) fail(n, join(prefix, key), fmt::format("must be between {} and {}", min, max));
        return v;
    }

    std::optional<bool> boolean(const toml::table& t, std::string_view prefix, std::string_view key) const {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        if (!n->is_boolean()) fail(n, join(prefix, key), "must be true or false");
        return n->value<bool>().value();
    }

    // A duration string ("10s", "24h") or an integer of seconds, within [min, max].
    std::chrono::milliseconds duration_value(const toml::node& n, std::string_view key, std::chrono::milliseconds min,
                                             std::chrono::milliseconds max) const {
        std::optional<std::chrono::milliseconds> d;
        const auto out_of_range = [&] {
            fail(&n, key, fmt::format("must be between {} and {}", format_duration(min), format_duration(max)));
        };
        if (n.is_integer() && n.value<std::int64_t>().value() >= 0) {
            // Seconds as milliseconds: a count past what milliseconds hold is out of range, not an overflow.
            const std::int64_t count = n.value<std::int64_t>().value();
            if (count > std::chrono::milliseconds::max().count() / 1000) out_of_range();
            d = std::chrono::seconds{count};
        } else if (n.is_string())
            d = parse_duration(n.value<std::string>().value());
        if (!d) fail(&n, key, "must be a duration such as \"500ms\", \"30s\", \"15m\", \"24h\" or \"7d\"");
        if (*d < min || *d > max) out_of_range();
        return *d;
    }
    std::optional<std::chrono::milliseconds> duration(const toml::table& t, std::string_view prefix,
                                                      std::string_view key, std::chrono::milliseconds min,
                                                      std::chrono::milliseconds max) const {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        return duration_value(*n, join(prefix, key), min, max);
    }

    // Relative to the configuration file's directory. Empty when absent; an empty string is an error.
    std::filesystem::path path(const toml::table& t, std::string_view prefix, std::string_view key) const {
        auto s = string(t, prefix, key);
        if (!s) return {};
        if (s->empty()) fail(t.get(key), join(prefix, key), "must not be empty");
        return resolve(*s);
    }
    std::filesystem::path resolve(const std::filesystem::path& p) const {
        return p.is_relative() ? origin_.parent_path() / p : p;
    }

    template <class Enum>
    std::optional<Enum> choice(const toml::table& t, std::string_view prefix, std::string_view key,
                               std::initializer_list<std::pair<std::string_view, Enum>> options) const {
        auto s = string(t, prefix, key);
        if (!s) return std::nullopt;
        std::string allowed;
        for (auto& [name, value] : options) {
            if (*s == name) return value;
            allowed += allowed.empty() ? "" : ", ";
            allowed += name;
        }
        fail(t.get(key), join(prefix, key), fmt::format("'{}' is not one of: {}", *s, allowed));
    }

private:
    std::filesystem::path origin_;
};

}  // namespace ocspkit
