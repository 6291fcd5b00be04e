#include "stapler/daemon/proxy_config.hpp"

#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "common/pem.hpp"
#include "stapler/shm_layout.hpp"
#include "stapler/daemon/url.hpp"

namespace ocspkit::stapler::daemon {
namespace {
using namespace std::chrono_literals;

key_location locate(const toml::table& t, std::string_view prefix, std::string_view key) {
    const toml::node* n = t.get(key);
    return {toml_reader::join(prefix, key), n ? n->source().begin.line : t.source().begin.line};
}

std::vector<protocol::listen_address> parse_listen(const toml_reader& r, const toml::node& n) {
    constexpr std::string_view key = "proxy.listen";
    std::vector<protocol::listen_address> out;
    const auto add = [&](const toml::node& item) {
        if (!item.is_string()) r.fail(&item, key, "entries must be strings like \"127.0.0.1:8888\"");
        auto a = protocol::parse_listen_address(item.value<std::string>().value());
        if (!a) r.fail(&item, key, a.error_message());
        out.push_back(std::move(a).value());
    };
    if (const auto* a = n.as_array()) {
        for (const auto& item : *a) add(item);
    } else {
        add(n);
    }
    if (out.empty()) r.fail(&n, key, "needs at least one address");
    return out;
}

proxy_issuer_entry parse_issuer(const toml_reader& r, const toml::table& t, std::size_t index) {
    const std::string p = fmt::format("proxy.issuer[{}]", index);
    r.reject_unknown(t, p, {"name", "ca", "responder_url"});
    proxy_issuer_entry e;
    e.at = {p, t.source().begin.line};
    e.ca = r.path(t, p, "ca");
    if (e.ca.empty()) r.fail(&t, p + ".ca", "is required (the PEM file of the CA that issues the client certificates)");
    e.responder_url = r.string(t, p, "responder_url").value_or("");
    if (e.responder_url.empty()) r.fail(t.get("responder_url") ? t.get("responder_url") : &t, p + ".responder_url",
                                        "is required (the http:// URL of the OCSP responder for this CA)");
    if (auto url = parse_http_url(e.responder_url); !url) r.fail(t.get("responder_url"), p + ".responder_url", url.error_message());
    e.name = r.string(t, p, "name").value_or("");
    e.ca_at = locate(t, p, "ca");
    e.url_at = locate(t, p, "responder_url");
    return e;
}

}  // namespace

proxy_config parse_proxy(const toml_reader& r, const toml::table& t) {
    constexpr std::string_view p = "proxy";
    r.reject_unknown(t, p, {"listen", "max_connections", "request_timeout", "idle_timeout", "max_cert_ids",
                            "max_entries", "max_upstream_fetches", "upstream_timeout", "negative_ttl",
                            "max_response_bytes", "client_cache", "client_cache_capacity", "client_cache_slot_size",
                            "issuer"});
    proxy_config c;
    c.at = {"proxy", t.source().begin.line};
    if (const toml::node* n = t.get("listen")) c.listen = parse_listen(r, *n);
    if (auto v = r.integer(t, p, "max_connections", 1, 1 << 20)) c.http.max_connections = static_cast<std::size_t>(*v);
    if (auto v = r.duration(t, p, "request_timeout", 100ms, 3600s)) c.http.request_timeout = *v;
    if (auto v = r.duration(t, p, "idle_timeout", 100ms, 3600s)) c.http.idle_timeout = *v;
    if (auto v = r.integer(t, p, "max_cert_ids", 1, 1000)) c.max_cert_ids = static_cast<std::size_t>(*v);
    if (auto v = r.integer(t, p, "max_entries", 1, 100'000'000)) c.max_entries = static_cast<std::size_t>(*v);
    if (auto v = r.integer(t, p, "max_upstream_fetches", 1, 10'000)) c.max_upstream_fetches = static_cast<std::size_t>(*v);
    if (auto v = r.duration(t, p, "upstream_timeout", 100ms, 600s)) c.upstream_timeout = *v;
    if (auto v = r.duration(t, p, "negative_ttl", 0ms, 3600s)) c.negative_ttl = *v;
    if (auto v = r.integer(t, p, "max_response_bytes", 512, 1 << 20)) c.max_response_bytes = static_cast<std::size_t>(*v);
    if (auto v = r.string(t, p, "client_cache")) c.client_cache = v->empty() ? std::filesystem::path{} : r.resolve(*v);
    if (auto v = r.integer(t, p, "client_cache_capacity", 1, shm_max_capacity))
        c.client_cache_capacity = static_cast<std::uint32_t>(*v);
    if (auto v = r.integer(t, p, "client_cache_slot_size", shm_min_slot_size, shm_max_slot_size)) {
        if (*v % 64 != 0) r.fail(t.get("client_cache_slot_size"), "proxy.client_cache_slot_size", "must be a multiple of 64");
        c.client_cache_slot_size = static_cast<std::uint32_t>(*v);
    }
    const toml::node* issuers = t.get("issuer");
    if (issuers == nullptr || !issuers->is_array_of_tables())
        r.fail(issuers ? issuers : &t, "proxy.issuer",
               "at least one [[proxy.issuer]] (ca, responder_url) is required: the CAs whose certificates are checked");
    std::size_t i = 0;
    for (const auto& item : *issuers->as_array()) c.issuers.push_back(parse_issuer(r, *item.as_table(), i++));
    return c;
}

bool same_settings(const std::optional<proxy_config>& a, const std::optional<proxy_config>& b) {
    if (!a || !b) return !a && !b;
    const auto listen = [](const proxy_config& c) {
        std::vector<std::pair<std::string, unsigned short>> out;
        for (const auto& l : c.listen) out.emplace_back(l.host, l.port);
        return out;
    };
    const auto issuers = [](const proxy_config& c) {
        std::vector<std::tuple<std::string, std::filesystem::path, std::string>> out;
        for (const auto& i : c.issuers) out.emplace_back(i.name, i.ca, i.responder_url);
        return out;
    };
    const auto limits = [](const proxy_config& c) {
        return std::tuple{c.http.max_connections, c.http.max_header_bytes, c.http.max_body_bytes, c.http.request_timeout,
                          c.http.idle_timeout, c.max_cert_ids, c.max_entries, c.max_upstream_fetches,
                          c.upstream_timeout, c.negative_ttl, c.max_response_bytes, c.client_cache,
                          c.client_cache_capacity, c.client_cache_slot_size};
    };
    return listen(*a) == listen(*b) && issuers(*a) == issuers(*b) && limits(*a) == limits(*b);
}

std::vector<proxy_issuer> build_proxy_issuers(const proxy_config& config, const std::filesystem::path& source) {
    const auto where = [&](const key_location& at) {
        return at.line ? fmt::format("{}:{}: key '{}'", source.string(), at.line, at.key)
                       : fmt::format("{}: key '{}'", source.string(), at.key);
    };
    std::vector<proxy_issuer> out;
    for (const auto& e : config.issuers) {
        proxy_issuer issuer;
        try {
            issuer.ca = load_certificate(e.ca);
        } catch (const std::exception& ex) {
            throw config_error(fmt::format("{}: cannot read the CA certificate: {}", where(e.ca_at), ex.what()));
        }
        for (const auto& other : out) {
            if (X509_cmp(other.ca.get(), issuer.ca.get()) == 0)
                throw config_error(fmt::format("{}: {} is the CA of proxy issuer '{}' already", where(e.ca_at),
                                               e.ca.string(), other.name));
        }
        issuer.hashes = compute_issuer_hashes(issuer.ca.get());
        issuer.name = e.name.empty() ? e.ca.stem().string() : e.name;
        issuer.responder_url = e.responder_url;
        out.push_back(std::move(issuer));
    }
    return out;
}

}  // namespace ocspkit::stapler::daemon
