#include "responder/config.hpp"

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace ocspkit::responder {
namespace {

class reader {
public:
    explicit reader(std::filesystem::path origin) : origin_(std::move(origin)) {}

    [[noreturn]] void fail(const toml::node* node, std::string_view key, std::string_view why) const {
        auto line = node ? node->source().begin.line : 0;
        if (line)
            throw config_error(fmt::format("{}:{}: key '{}': {}", origin_.string(), line, key, why));
        throw config_error(fmt::format("{}: key '{}': {}", origin_.string(), key, why));
    }

    // Typos in keys are errors, not silently ignored settings.
    void reject_unknown(const toml::table& table, std::string_view prefix, std::set<std::string_view> known) const {
        for (auto&& [k, v] : table) {
            if (!known.contains(k.str()))
                fail(&v, join(prefix, k.str()), "unknown key");
        }
    }

    static std::string join(std::string_view prefix, std::string_view key) {
        return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
    }

    std::optional<std::string> string(const toml::table& t, std::string_view prefix, std::string_view key) const {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        if (!n->is_string()) fail(n, join(prefix, key), "must be a string");
        return n->value<std::string>().value();
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

    std::optional<bool> boolean(const toml::table& t, std::string_view prefix, std::string_view key) const {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        if (!n->is_boolean()) fail(n, join(prefix, key), "must be true or false");
        return n->value<bool>().value();
    }

    // Durations are strings ("10s", "24h") or integers of seconds.
    std::optional<std::chrono::milliseconds> duration(const toml::table& t, std::string_view prefix,
                                                      std::string_view key, std::chrono::milliseconds min,
                                                      std::chrono::milliseconds max) const {
        const toml::node* n = t.get(key);
        if (!n) return std::nullopt;
        std::optional<std::chrono::milliseconds> d;
        if (n->is_integer())
            d = std::chrono::seconds{n->value<std::int64_t>().value()};
        else if (n->is_string())
            d = parse_duration(n->value<std::string>().value());
        if (!d) fail(n, join(prefix, key), "must be a duration such as \"500ms\", \"30s\", \"15m\", \"24h\" or \"7d\"");
        if (*d < min || *d > max)
            fail(n, join(prefix, key), fmt::format("must be between {}ms and {}ms", min.count(), max.count()));
        return d;
    }

    std::filesystem::path path(const toml::table& t, std::string_view prefix, std::string_view key) const {
        auto s = string(t, prefix, key);
        if (!s) return {};
        if (s->empty()) fail(t.get(key), join(prefix, key), "must not be empty");
        std::filesystem::path p(*s);
        if (p.is_relative()) p = origin_.parent_path() / p;
        return p;
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

listen_address parse_listen(const reader& r, const toml::node* node, std::string_view key, std::string_view text) {
    // "127.0.0.1:8080", "[::1]:8080"
    listen_address a;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            r.fail(node, key, fmt::format("'{}' is not [IPv6]:port", text));
        a.host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon)
            r.fail(node, key, fmt::format("'{}' is not host:port (write IPv6 as [::1]:port)", text));
        a.host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
    }
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535 || a.host.empty())
        r.fail(node, key, fmt::format("'{}' has no valid host and port (0-65535)", text));
    a.port = static_cast<unsigned short>(port);
    return a;
}

void parse_server(const reader& r, const toml::table& t, server_config& s) {
    constexpr std::string_view p = "server";
    r.reject_unknown(t, p, {"listen", "path", "io_threads", "signing_threads", "signing_queue", "max_connections",
                            "max_header_bytes", "max_body_bytes", "max_cert_ids", "request_timeout",
                            "idle_timeout", "drain_timeout", "cache_mib", "change_poll"});
    if (const toml::node* n = t.get("listen")) {
        s.listen.clear();
        auto add = [&](const toml::node& item) {
            if (!item.is_string()) r.fail(&item, "server.listen", "entries must be strings like \"127.0.0.1:8080\"");
            s.listen.push_back(parse_listen(r, &item, "server.listen", item.value<std::string>().value()));
        };
        if (n->is_array()) {
            for (auto& item : *n->as_array()) add(item);
        } else {
            add(*n);
        }
        if (s.listen.empty()) r.fail(n, "server.listen", "needs at least one address");
    }
    if (auto v = r.string(t, p, "path")) {
        if (v->empty() || v->front() != '/') r.fail(t.get("path"), "server.path", "must start with '/'");
        s.path = *v;
    }
    if (auto v = r.integer(t, p, "io_threads", 1, 64)) s.io_threads = static_cast<unsigned>(*v);
    if (auto v = r.integer(t, p, "signing_threads", 1, 256)) s.signing_threads = static_cast<unsigned>(*v);
    if (auto v = r.integer(t, p, "signing_queue", 1, 1 << 20)) s.signing_queue = static_cast<std::size_t>(*v);
    if (auto v = r.integer(t, p, "max_connections", 1, 1 << 20)) s.max_connections = static_cast<std::size_t>(*v);
    if (auto v = r.integer(t, p, "max_header_bytes", 512, 1 << 20)) s.max_header_bytes = static_cast<std::size_t>(*v);
    if (auto v = r.integer(t, p, "max_body_bytes", 256, 1 << 24)) s.max_body_bytes = static_cast<std::size_t>(*v);
    if (auto v = r.integer(t, p, "max_cert_ids", 1, 10000)) s.max_cert_ids = static_cast<std::size_t>(*v);
    using std::chrono::milliseconds;
    using namespace std::chrono_literals;
    if (auto v = r.duration(t, p, "request_timeout", 100ms, 3600s)) s.request_timeout = *v;
    if (auto v = r.duration(t, p, "idle_timeout", 100ms, 3600s)) s.idle_timeout = *v;
    if (auto v = r.duration(t, p, "drain_timeout", 0ms, 600s)) s.drain_timeout = *v;
    if (auto v = r.duration(t, p, "change_poll", 10ms, 60s)) s.change_poll = *v;
    if (auto v = r.integer(t, p, "cache_mib", 1, 1 << 16)) s.cache_mib = static_cast<std::size_t>(*v);
}

issuer_config parse_issuer(const reader& r, const toml::table& t, std::size_t index) {
    const std::string p = fmt::format("issuer[{}]", index);
    r.reject_unknown(t, p, {"name", "ca", "signer_cert", "signer_key", "responder_id", "rsa_padding", "nonce",
                            "unknown_serials", "validity", "backdate", "archive_cutoff",
                            "allow_group_readable_key", "signer_expiry_warning"});
    issuer_config c;
    c.ca_file = r.path(t, p, "ca");
    if (c.ca_file.empty()) r.fail(&t, p + ".ca", "is required (the issuing CA certificate)");
    c.name = r.string(t, p, "name").value_or("");
    c.signing.issuer_ca_file = c.ca_file;
    c.signing.cert_file = r.path(t, p, "signer_cert");
    c.signing.key_file = r.path(t, p, "signer_key");
    if (c.signing.cert_file.empty()) c.signing.cert_file = c.ca_file;
    if (c.signing.key_file.empty()) r.fail(&t, p + ".signer_key", "is required (the key of signer_cert, or of the CA)");
    if (auto v = r.choice<responder_id_form>(t, p, "responder_id",
                                             {{"key", responder_id_form::by_key_hash},
                                              {"name", responder_id_form::by_name}}))
        c.signing.responder_id = *v;
    if (auto v = r.choice<rsa_padding>(t, p, "rsa_padding", {{"pkcs1", rsa_padding::pkcs1}, {"pss", rsa_padding::pss}}))
        c.signing.padding = *v;
    if (auto v = r.choice<nonce_policy>(t, p, "nonce",
                                        {{"ignore", nonce_policy::ignore},
                                         {"echo", nonce_policy::echo},
                                         {"required", nonce_policy::required}}))
        c.nonces = *v;
    if (auto v = r.choice<unknown_serial_policy>(t, p, "unknown_serials",
                                                 {{"unknown", unknown_serial_policy::unknown},
                                                  {"revoked", unknown_serial_policy::revoked}}))
        c.unknown_serials = *v;
    using namespace std::chrono_literals;
    if (auto v = r.duration(t, p, "validity", 60s, std::chrono::hours{24 * 366})) c.validity = std::chrono::duration_cast<std::chrono::seconds>(*v);
    if (auto v = r.duration(t, p, "backdate", 0s, std::chrono::hours{48})) c.backdate = std::chrono::duration_cast<std::chrono::seconds>(*v);
    if (auto v = r.duration(t, p, "signer_expiry_warning", 0s, std::chrono::hours{24 * 3650}))
        c.signer_expiry_warning = std::chrono::duration_cast<std::chrono::days>(*v);
    if (auto v = r.boolean(t, p, "archive_cutoff")) c.archive_cutoff = *v;
    if (auto v = r.boolean(t, p, "allow_group_readable_key")) c.signing.allow_group_readable_key = *v;
    return c;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    if (text.empty()) return std::nullopt;
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || value < 0) return std::nullopt;
    std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    using namespace std::chrono;
    if (unit.empty() || unit == "s") return duration_cast<milliseconds>(seconds{value});
    if (unit == "ms") return milliseconds{value};
    if (unit == "m") return duration_cast<milliseconds>(minutes{value});
    if (unit == "h") return duration_cast<milliseconds>(hours{value});
    if (unit == "d") return duration_cast<milliseconds>(hours{24 * value});
    return std::nullopt;
}

responder_config parse_config(std::string_view toml_text, const std::filesystem::path& origin) {
    toml::table root;
    try {
        root = toml::parse(toml_text, origin.string());
    } catch (const toml::parse_error& e) {
        throw config_error(fmt::format("{}:{}:{}: {}", origin.string(), e.source().begin.line,
                                       e.source().begin.column, e.description()));
    }
    reader r(origin);
    responder_config c;
    c.source = origin;
    r.reject_unknown(root, "", {"database", "server", "log", "issuer"});
    c.database = r.path(root, "", "database");
    if (c.database.empty()) r.fail(nullptr, "database", "is required (the SQLite index made by ocspctl init)");
    if (const toml::node* n = root.get("server")) {
        if (!n->is_table()) r.fail(n, "server", "must be a table [server]");
        parse_server(r, *n->as_table(), c.server);
    }
    if (const toml::node* n = root.get("log")) {
        if (!n->is_table()) r.fail(n, "log", "must be a table [log]");
        const auto& t = *n->as_table();
        r.reject_unknown(t, "log", {"level", "access_log"});
        if (auto v = r.string(t, "log", "level")) {
            static const std::set<std::string_view> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
            if (!levels.contains(*v)) r.fail(t.get("level"), "log.level", fmt::format("'{}' is not a log level", *v));
            c.log.level = *v;
        }
        if (auto v = r.boolean(t, "log", "access_log")) c.log.access_log = *v;
    }
    const toml::node* issuers = root.get("issuer");
    if (!issuers || !issuers->is_array_of_tables() || issuers->as_array()->empty())
        r.fail(issuers, "issuer", "at least one [[issuer]] table is required");
    std::size_t i = 0;
    for (auto& item : *issuers->as_array()) c.issuers.push_back(parse_issuer(r, *item.as_table(), i++));
    return c;
}

responder_config load_config(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw config_error(fmt::format("{}: cannot read configuration file", file.string()));
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_config(ss.str(), std::filesystem::absolute(file));
}

}  // namespace ocspkit::responder
