#include "responder/http_cache_config.hpp"

#include <fmt/format.h>

#include "common/http_url.hpp"

namespace ocspkit::responder {

result<purge_target> parse_purge_url(std::string_view url) {
    // Plain HTTP only (common/http_url.hpp): a purge target is a cache on the operator's own network
    // (usually loopback), and PURGE carries nothing secret.
    auto parsed = parse_http_url(url);
    if (!parsed) return std::move(parsed).failure();
    // The path is a prefix put before every purged path: a query would end up in the middle of them.
    if (parsed->target.find('?') != std::string::npos)
        return error{errc::malformed, fmt::format("has a query; a purge URL is http://HOST[:PORT][/PREFIX]: '{}'", url)};
    purge_target t;
    t.url = std::string(url);
    t.host = parsed->host;
    t.port = parsed->port;
    std::string_view prefix = parsed->target;
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    t.path_prefix = std::string(prefix);
    t.host_header = parsed->host_header();
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
