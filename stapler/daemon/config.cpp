#include "stapler/daemon/config.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <openssl/err.h>

#include "common/pem.hpp"
#include "common/toml_reader.hpp"
#include "stapler/daemon/url.hpp"

namespace ocspkit::stapler::daemon {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string_view to_string(request_method m) noexcept { return m == request_method::post ? "post" : "get"; }

bool valid_certificate_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 200 || name.front() == '.') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-';
    });
}

bool certificate::same_source(const certificate& o) const noexcept {
    const auto& a = settings;
    const auto& b = o.settings;
    return name == o.name && key == o.key && X509_cmp(issuer.get(), o.issuer.get()) == 0 &&
           responder_url == o.responder_url && a.nonce == b.nonce && a.hash == b.hash && a.method == b.method;
}

namespace {

key_location locate(const toml::table& t, std::string_view prefix, std::string_view key) {
    const toml::node* n = t.get(key);
    return {toml_reader::join(prefix, key), n ? n->source().begin.line : t.source().begin.line};
}

// The keys [defaults], [[certificate]] and [[directory]] share.
constexpr std::array<std::string_view, 6> setting_keys{"policy", "nonce", "hash", "method", "timeout",
                                                                "max_response_bytes"};

void parse_settings(const toml_reader& r, const toml::table& t, std::string_view p, std::size_t max_der,
                    fetch_settings& s) {
    if (auto v = r.choice<staple_policy>(t, p, "policy", {{"soft", staple_policy::soft}, {"hard", staple_policy::hard}}))
        s.policy = *v;
    if (auto v = r.boolean(t, p, "nonce")) s.nonce = *v;
    if (auto v = r.choice<hash_alg>(t, p, "hash", {{"sha1", hash_alg::sha1}, {"sha256", hash_alg::sha256}}))
        s.hash = *v;
    if (auto v = r.choice<request_method>(t, p, "method", {{"get", request_method::get}, {"post", request_method::post}}))
        s.method = *v;
    if (auto v = r.duration(t, p, "timeout", 100ms, 600s)) s.timeout = *v;
    if (auto v = r.integer(t, p, "max_response_bytes", 0, static_cast<std::int64_t>(max_der)))
        s.max_response_bytes = static_cast<std::size_t>(*v);
}

std::set<std::string_view> keys_with_settings(std::initializer_list<std::string_view> own) {
    std::set<std::string_view> k(own);
    k.insert(setting_keys.begin(), setting_keys.end());
    return k;
}

std::optional<std::string> log_level(const toml_reader& r, const toml::table& t, std::string_view p,
                                     std::string_view key) {
    auto v = r.string(t, p, key);
    static const std::set<std::string_view> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (v && !levels.contains(*v))
        r.fail(t.get(key), toml_reader::join(p, key),
               fmt::format("'{}' is not a log level (trace, debug, info, warn, error, critical, off)", *v));
    return v;
}

void parse_stapler(const toml_reader& r, const toml::table& t, stapler_config& c) {
    constexpr std::string_view p = "stapler";
    r.reject_unknown(t, p, {"state_dir", "shm_path", "shm_capacity", "shm_slot_size", "control_socket",
                            "metrics_listen", "min_refresh_interval", "retry_initial", "retry_max", "jitter",
                            "max_skew", "expiry_alert", "startup_timeout", "log_level"});
    if (auto v = r.path(t, p, "state_dir"); !v.empty()) c.state_dir = v;
    if (auto v = r.path(t, p, "shm_path"); !v.empty()) c.shm_path = v;
    if (auto v = r.path(t, p, "control_socket"); !v.empty()) c.control_socket = v;
    if (auto v = r.integer(t, p, "shm_capacity", 1, shm_max_capacity)) c.shm_capacity = static_cast<std::uint32_t>(*v);
    if (auto v = r.integer(t, p, "shm_slot_size", shm_min_slot_size, shm_max_slot_size)) {
        if (*v % 64 != 0) r.fail(t.get("shm_slot_size"), "stapler.shm_slot_size", "must be a multiple of 64");
        c.shm_slot_size = static_cast<std::uint32_t>(*v);
    }
    if (auto v = r.string(t, p, "metrics_listen")) {
        if (!v->empty() && v->rfind(':') == std::string::npos)
            r.fail(t.get("metrics_listen"), "stapler.metrics_listen", "must be \"host:port\" (or empty)");
        c.metrics_listen = *v;
    }
    if (auto v = r.duration(t, p, "min_refresh_interval", 0ms, 24h)) c.min_refresh_interval = *v;
    if (auto v = r.duration(t, p, "retry_initial", 100ms, 24h)) c.retry_initial = *v;
    if (auto v = r.duration(t, p, "retry_max", 100ms, 7 * 24h)) c.retry_max = *v;
    if (c.retry_max < c.retry_initial)
        r.fail(t.get("retry_max") ? t.get("retry_max") : t.get("retry_initial"), "stapler.retry_max",
               "must not be shorter than retry_initial");
    if (auto v = r.number(t, p, "jitter", 0.0, 0.5)) c.jitter = *v;
    if (auto v = r.duration(t, p, "max_skew", 0ms, 24h))
        c.max_skew = std::chrono::duration_cast<std::chrono::seconds>(*v);
    if (const toml::node* n = t.get("expiry_alert")) {
        if (!n->is_array()) r.fail(n, "stapler.expiry_alert", "must be an array of durations such as [\"12h\", \"1h\"]");
        c.expiry_alert.clear();
        for (const auto& item : *n->as_array())
            c.expiry_alert.push_back(r.duration_value(item, "stapler.expiry_alert", 1s, 365 * 24h));
        std::sort(c.expiry_alert.begin(), c.expiry_alert.end(), std::greater<>{});
        c.expiry_alert.erase(std::unique(c.expiry_alert.begin(), c.expiry_alert.end()), c.expiry_alert.end());
    }
    if (auto v = r.duration(t, p, "startup_timeout", 0ms, 3600s)) c.startup_timeout = *v;
    if (auto v = log_level(r, t, p, "log_level")) {
        c.log_level = *v;
        c.deprecated_log_level = true;
    }
}

void parse_log(const toml_reader& r, const toml::table& root, const toml::table& t, stapler_config& c) {
    constexpr std::string_view p = "log";
    r.reject_unknown(t, p, {"level", "format"});
    if (auto v = log_level(r, t, p, "level")) {
        if (c.deprecated_log_level)
            r.fail(t.get("level"), "log.level",
                   fmt::format("also set as stapler.log_level (line {}), its deprecated spelling; remove that one",
                               root.get_as<toml::table>("stapler")->get("log_level")->source().begin.line));
        c.log_level = *v;
    }
    if (auto v = r.string(t, p, "format")) {
        auto f = log_format_from_name(*v);
        if (!f) r.fail(t.get("format"), "log.format", fmt::format("'{}' is not one of: text, json", *v));
        c.log_format = *f;
    }
}

certificate_entry parse_certificate(const toml_reader& r, const toml::table& t, std::size_t index,
                                    const stapler_config& c) {
    const std::string p = fmt::format("certificate[{}]", index);
    r.reject_unknown(t, p, keys_with_settings({"name", "chain", "issuer", "responder_url", "nginx_file", "haproxy"}));
    certificate_entry e;
    e.at = {p, t.source().begin.line};
    e.settings = c.defaults;
    parse_settings(r, t, p, c.max_der_len(), e.settings);
    e.chain = r.path(t, p, "chain");
    if (e.chain.empty()) r.fail(&t, p + ".chain", "is required (PEM: the leaf, then its issuer)");
    e.issuer = r.path(t, p, "issuer");
    e.nginx_file = r.path(t, p, "nginx_file");
    e.name = r.string(t, p, "name").value_or("");
    if (t.get("name") && !valid_certificate_name(e.name))
        r.fail(t.get("name"), p + ".name", "must be letters, digits, '.', '_' or '-' (and not start with '.')");
    e.responder_url = r.string(t, p, "responder_url").value_or("");
    if (t.get("responder_url")) {
        if (auto url = parse_http_url(e.responder_url); !url)
            r.fail(t.get("responder_url"), p + ".responder_url", url.error_message());
    }
    e.haproxy = r.boolean(t, p, "haproxy").value_or(false);
    e.name_at = locate(t, p, "name");
    e.chain_at = locate(t, p, "chain");
    e.issuer_at = locate(t, p, "issuer");
    e.url_at = locate(t, p, "responder_url");
    e.nginx_file_at = locate(t, p, "nginx_file");
    e.haproxy_at = locate(t, p, "haproxy");
    return e;
}

directory_entry parse_directory(const toml_reader& r, const toml::table& t, std::size_t index, const stapler_config& c) {
    const std::string p = fmt::format("directory[{}]", index);
    r.reject_unknown(t, p, keys_with_settings({"path", "haproxy"}));
    directory_entry d;
    d.at = locate(t, p, "path");
    d.settings = c.defaults;
    parse_settings(r, t, p, c.max_der_len(), d.settings);
    d.path = r.path(t, p, "path");
    if (d.path.empty()) r.fail(&t, p + ".path", "is required (a directory of PEM chains)");
    d.haproxy = r.boolean(t, p, "haproxy").value_or(false);
    d.haproxy_at = locate(t, p, "haproxy");
    return d;
}

const toml::array* array_of_tables(const toml_reader& r, const toml::table& root, std::string_view key) {
    const toml::node* n = root.get(key);
    if (!n) return nullptr;
    if (!n->is_array_of_tables())
        r.fail(n, key, fmt::format("must be written as [[{}]] tables", key));
    return n->as_array();
}

}  // namespace

stapler_config parse_config(std::string_view toml_text, const fs::path& origin) {
    toml::table root = toml_reader::parse(toml_text, origin);
    toml_reader r(origin);
    stapler_config c;
    c.source = origin;
    r.reject_unknown(root, "", {"stapler", "log", "defaults", "nginx", "haproxy", "certificate", "directory", "proxy"});
    if (const auto* t = r.table(root, "", "stapler")) parse_stapler(r, *t, c);
    if (const auto* t = r.table(root, "", "log")) parse_log(r, root, *t, c);
    if (const auto* t = r.table(root, "", "defaults")) {
        std::set<std::string_view> keys(setting_keys.begin(), setting_keys.end());
        r.reject_unknown(*t, "defaults", keys);
        parse_settings(r, *t, "defaults", c.max_der_len(), c.defaults);
    }
    if (const auto* t = r.table(root, "", "nginx")) {
        r.reject_unknown(*t, "nginx", {"reload_command"});
        if (auto v = r.string_array(*t, "nginx", "reload_command")) c.nginx_reload_command = *v;
    }
    if (const auto* t = r.table(root, "", "haproxy")) {
        r.reject_unknown(*t, "haproxy", {"stats_socket"});
        if (auto v = r.string(*t, "haproxy", "stats_socket")) {
            // A unix socket path is resolved like every other path; host:port is kept as written.
            const bool host_port = !v->empty() && v->front() != '/' && v->find(':') != std::string::npos;
            c.haproxy_stats_socket = v->empty() || host_port ? *v : r.resolve(*v).string();
        }
    }
    if (const auto* a = array_of_tables(r, root, "certificate")) {
        std::size_t i = 0;
        for (const auto& item : *a) c.certificates.push_back(parse_certificate(r, *item.as_table(), i++, c));
    }
    if (const auto* a = array_of_tables(r, root, "directory")) {
        std::size_t i = 0;
        for (const auto& item : *a) c.directories.push_back(parse_directory(r, *item.as_table(), i++, c));
    }
    // Every [[certificate]] needs its own shm slot; refusing here beats finding at run time that the last
    // ones can never be published. [[directory]] certificates are only known once the directories are
    // read, and are reported at run time (docs/stapler.md, "shm cache full").
    if (const std::uint32_t limit = shm_max_entries(c.shm_capacity); c.certificates.size() > limit) {
        const toml::table* stapler = root.get_as<toml::table>("stapler");
        const toml::node* at = stapler && stapler->get("shm_capacity") ? stapler->get("shm_capacity")
                               : stapler                                ? static_cast<const toml::node*>(stapler)
                                        : root.get("certificate")->as_array()->get(limit);
        r.fail(at, "stapler.shm_capacity",
               fmt::format("holds at most {} entries ({} slots, at most 7/8 of them filled and one always "
                           "empty), {} certificates configured",
                           limit, shm_table_size(c.shm_capacity), c.certificates.size()));
    }
    if (const auto* t = r.table(root, "", "proxy")) {
        c.proxy = parse_proxy(r, *t);
        if (!c.proxy->client_cache) c.proxy->client_cache = c.shm_path.parent_path() / "clients";
        if (*c.proxy->client_cache == c.shm_path)
            r.fail(t->get("client_cache") ? t->get("client_cache") : t, "proxy.client_cache",
                   "is [stapler] shm_path: the client cache needs a file of its own");
    }
    // A host that only checks client certificates needs no certificate of its own to staple.
    if (c.certificates.empty() && c.directories.empty() && !c.proxy)
        r.fail(nullptr, "certificate", "at least one [[certificate]], [[directory]] or [proxy] is required");
    return c;
}

stapler_config load_config(const fs::path& file) {
    return parse_config(toml_reader::read_text(file), fs::absolute(file));
}

namespace {

// What can go wrong with one chain, as the reason part of an error line.
struct chain_problem {
    enum which { chain, issuer, url } key;
    std::string why;
};

std::string where(const stapler_config& c, const key_location& at) { return config_location(c, at); }

bool issuer_signed(X509* issuer, X509* leaf) {
    if (X509_check_issued(issuer, leaf) != X509_V_OK) return false;
    EVP_PKEY* key = X509_get0_pubkey(issuer);
    const bool ok = key && X509_verify(leaf, key) == 1;
    ERR_clear_error();  // a failed verification is the answer, not an error to report
    return ok;
}

// Loads the chain (and issuer), checks the signature and finds the URL. Fills `out` or names the problem.
std::optional<chain_problem> load_chain(const fs::path& chain, const fs::path& issuer_file, const std::string& url,
                                        certificate& out) {
    std::vector<ossl::x509_ptr> certs;
    try {
        certs = load_certificates(chain);
    } catch (const std::exception& e) {
        return chain_problem{chain_problem::chain, fmt::format("cannot read the chain: {}", e.what())};
    }
    out.leaf = std::move(certs.front());
    if (!issuer_file.empty()) {
        try {
            out.issuer = load_certificate(issuer_file);
        } catch (const std::exception& e) {
            return chain_problem{chain_problem::issuer, fmt::format("cannot read the issuer: {}", e.what())};
        }
        if (!issuer_signed(out.issuer.get(), out.leaf.get()))
            return chain_problem{chain_problem::issuer,
                                 fmt::format("{} did not sign the leaf of {}", issuer_file.string(), chain.string())};
    } else {
        if (certs.size() < 2)
            return chain_problem{chain_problem::chain,
                                 fmt::format("{} holds no issuer after the leaf (add it, or set issuer)", chain.string())};
        out.issuer = std::move(certs[1]);
        if (!issuer_signed(out.issuer.get(), out.leaf.get()))
            return chain_problem{chain_problem::chain,
                                 fmt::format("the second certificate of {} did not sign the leaf", chain.string())};
    }
    out.chain = chain;
    auto key = cache_key_of(out.leaf.get());
    if (!key) return chain_problem{chain_problem::chain, "cannot hash the leaf certificate"};
    out.key = *key;
    out.must_staple = has_must_staple(out.leaf.get());
    if (!url.empty()) {
        out.responder_url = url;
    } else {
        auto aia = aia_ocsp_url(out.leaf.get());
        if (!aia)
            return chain_problem{chain_problem::url, fmt::format("the leaf of {}: {}; set responder_url",
                                                                 chain.string(), aia.error_message())};
        out.responder_url = *aia;
    }
    return std::nullopt;
}

std::size_t resolved_max(const stapler_config& c, const fetch_settings& s) {
    return s.max_response_bytes ? s.max_response_bytes : c.max_der_len();
}

}  // namespace

std::string config_location(const stapler_config& c, const key_location& at) {
    return at.line ? fmt::format("{}:{}: key '{}'", c.source.string(), at.line, at.key)
                   : fmt::format("{}: key '{}'", c.source.string(), at.key);
}

inventory build_inventory(const stapler_config& c) {
    inventory inv;
    std::set<std::string> names;
    for (std::size_t i = 0; i < c.certificates.size(); ++i) {
        const auto& e = c.certificates[i];
        certificate cert;
        if (auto problem = load_chain(e.chain, e.issuer, e.responder_url, cert)) {
            const key_location& at = problem->key == chain_problem::chain    ? e.chain_at
                                     : problem->key == chain_problem::issuer ? (e.issuer.empty() ? e.chain_at : e.issuer_at)
                                                                             : (e.responder_url.empty() ? e.chain_at : e.url_at);
            throw config_error(fmt::format("{}: {}", where(c, at), problem->why));
        }
        cert.name = e.name.empty() ? e.chain.stem().string() : e.name;
        if (!valid_certificate_name(cert.name))
            throw config_error(fmt::format("{}: '{}' (from the chain's file name) is not a usable name: set name",
                                           where(c, e.chain_at), cert.name));
        if (!names.insert(cert.name).second)
            throw config_error(fmt::format("{}: duplicate certificate name '{}'", where(c, e.name.empty() ? e.chain_at : e.name_at),
                                           cert.name));
        cert.nginx_file = e.nginx_file;
        if (e.haproxy) cert.haproxy_file = fs::path(e.chain.string() + ".ocsp");
        cert.nginx_file_at = e.nginx_file_at;
        cert.haproxy_at = e.haproxy_at;
        cert.settings = e.settings;
        cert.settings.max_response_bytes = resolved_max(c, e.settings);
        cert.origin = e.at.key;
        inv.certificates.push_back(std::move(cert));
    }
    for (std::size_t i = 0; i < c.directories.size(); ++i) {
        const auto& d = c.directories[i];
        std::error_code ec;
        fs::directory_iterator it(d.path, ec);
        if (ec) throw config_error(fmt::format("{}: cannot list {}: {}", where(c, d.at), d.path.string(), ec.message()));
        std::vector<fs::path> files;
        for (; it != fs::directory_iterator(); it.increment(ec)) {
            if (ec) break;
            const auto ext = it->path().extension();
            if ((ext == ".pem" || ext == ".crt") && it->is_regular_file(ec)) files.push_back(it->path());
        }
        std::sort(files.begin(), files.end());  // a stable order: the first of two equal names wins
        for (const auto& file : files) {
            const std::string origin = fmt::format("directory[{}] {}", i, file.string());
            certificate cert;
            if (auto problem = load_chain(file, {}, {}, cert)) {
                inv.skipped.push_back(fmt::format("{}: skipped: {}", origin, problem->why));
                continue;
            }
            cert.name = file.stem().string();
            if (!valid_certificate_name(cert.name)) {
                inv.skipped.push_back(fmt::format("{}: skipped: '{}' is not a usable name", origin, cert.name));
                continue;
            }
            if (!names.insert(cert.name).second) {
                inv.skipped.push_back(fmt::format("{}: skipped: the name '{}' is already taken", origin, cert.name));
                continue;
            }
            if (d.haproxy) cert.haproxy_file = fs::path(file.string() + ".ocsp");
            cert.haproxy_at = d.haproxy_at;
            cert.settings = d.settings;
            cert.settings.max_response_bytes = resolved_max(c, d.settings);
            cert.origin = origin;
            inv.certificates.push_back(std::move(cert));
        }
    }
    return inv;
}

}  // namespace ocspkit::stapler::daemon
