#include "responder/http_cache_config.hpp"

#include <charconv>

#include <fmt/format.h>

namespace ocspkit::responder {

result<purge_target> parse_purge_url(std::string_view url) {
    // Plain HTTP only: a purge target is a cache on the operator's own network (usually loopback), and
    // PURGE carries nothing secret. The stapler's responder URLs have their own parser (stapler/daemon).
    constexpr std::string_view scheme = "http://";
    if (url.size() < scheme.size() || !std::equal(scheme.begin(), scheme.end(), url.begin(), [](char a, char b) {
            return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
        }))
        return error{errc::unsupported, "must start with http:// (PURGE goes to a cache over plain HTTP)"};
    for (const char c : url)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f || c == '?' || c == '#' || c == '@')
            return error{errc::malformed, "must not contain spaces, control characters, '?', '#' or userinfo"};
    std::string_view rest = url.substr(scheme.size());
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view prefix = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);

    purge_target t;
    t.url = std::string(url);
    std::string_view port_text;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return error{errc::malformed, "an IPv6 host lacks its ']'"};
        t.host = std::string(authority.substr(1, close - 1));
        const auto after = authority.substr(close + 1);
        if (!after.empty() && !after.starts_with(':')) return error{errc::malformed, "junk after the IPv6 host"};
        if (!after.empty()) port_text = after.substr(1);
    } else {
        const auto colon = authority.find(':');
        t.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (t.host.empty()) return error{errc::malformed, "has no host"};
    if (!port_text.empty()) {
        unsigned port = 0;
        const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
            return error{errc::malformed, fmt::format("port '{}' is not a number between 1 and 65535", port_text)};
        t.port = static_cast<std::uint16_t>(port);
    }
    t.path_prefix = std::string(prefix);
    t.host_header = std::string(authority);
    return t;
}

http_cache_config parse_http_cache(const toml_reader& r, const toml::table& t) {
    constexpr std::string_view p = "http_cache";
    r.reject_unknown(t, p, {"s_maxage", "purge", "purge_timeout", "purge_attempts", "purge_queue"});
    http_cache_config c;
    using namespace std::chrono_literals;
    // 0 is allowed: shared caches then only revalidate (must-revalidate), clients still get max-age.
    if (auto v = r.duration(t, p, "s_maxage", 0s, std::chrono::hours{24 * 366}))
        c.s_maxage = std::chrono::duration_cast<std::chrono::seconds>(*v);
    if (auto v = r.duration(t, p, "purge_timeout", 10ms, 60s)) c.purge_timeout = *v;
    if (auto v = r.integer(t, p, "purge_attempts", 1, 10)) c.purge_attempts = static_cast<unsigned>(*v);
    if (auto v = r.integer(t, p, "purge_queue", 1, 1 << 22)) c.purge_queue = static_cast<std::size_t>(*v);
    const toml::node* targets = t.get("purge");
    if (!targets) return c;
    if (!targets->is_array_of_tables())
        r.fail(targets, "http_cache.purge", "must be [[http_cache.purge]] tables, each with a url");
    std::size_t i = 0;
    for (const auto& item : *targets->as_array()) {
        const std::string tp = fmt::format("http_cache.purge[{}]", i++);
        const auto& table = *item.as_table();
        r.reject_unknown(table, tp, {"url", "host"});
        const auto url = r.string(table, tp, "url");
        if (!url) r.fail(&table, tp + ".url", "is required (e.g. \"http://127.0.0.1:6081\")");
        auto target = parse_purge_url(*url);
        if (!target) r.fail(table.get("url"), tp + ".url", target.error_message());
        if (auto host = r.string(table, tp, "host")) {
            if (host->empty()) r.fail(table.get("host"), tp + ".host", "must not be empty");
            target->host_header = *host;
        }
        for (const auto& other : c.purge)
            if (other.url == target->url) r.fail(table.get("url"), tp + ".url", "is listed twice");
        c.purge.push_back(std::move(target).value());
    }
    return c;
}

}  // namespace ocspkit::responder
