#include "responder/config.hpp"

#include <sched.h>

#include <algorithm>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "common/pg.hpp"
#include "common/toml_reader.hpp"
#include "keys/pkcs11_uri.hpp"

namespace ocspkit::responder {

unsigned usable_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    int count = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0) count = CPU_COUNT(&set);
    if (count <= 0) count = static_cast<int>(std::thread::hardware_concurrency());
    return static_cast<unsigned>(std::clamp(count, 1, 64));
}

namespace {

using reader = toml_reader;

listen_address parse_listen(const reader& r, const toml::node* node, std::string_view key, std::string_view text) {
    auto parsed = protocol::parse_listen_address(text);
    if (!parsed) r.fail(node, key, parsed.error_message());
    return std::move(parsed).value();
}

void parse_server(const reader& r, const toml::table& t, server_config& s) {
    constexpr std::string_view p = "server";
    r.reject_unknown(t, p, {"listen", "path", "io_threads", "signing_threads", "signing_queue", "max_connections",
                            "max_header_bytes", "max_body_bytes", "max_cert_ids", "request_timeout",
                            "idle_timeout", "drain_timeout", "cache_mib", "change_poll", "warm_start_file",
                            "warm_start_interval"});
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
    s.warm_start_file = r.path(t, p, "warm_start_file");
    if (auto v = r.duration(t, p, "warm_start_interval", 1s, std::chrono::hours{24})) s.warm_start_interval = *v;
}

void parse_pkcs11(const reader& r, const toml::table& t, pkcs11_config& c) {
    constexpr std::string_view p = "pkcs11";
    r.reject_unknown(t, p, {"module", "sessions", "timeout"});
    c.module = r.path(t, p, "module");
    if (auto v = r.integer(t, p, "sessions", 1, 64)) c.sessions = static_cast<unsigned>(*v);
    using namespace std::chrono_literals;
    if (auto v = r.duration(t, p, "timeout", 100ms, 600s)) c.timeout = *v;
}

void parse_crl(const reader& r, const toml::table& t, crl_config& c) {
    constexpr std::string_view p = "crl";
    r.reject_unknown(t, p, {"validity", "expired_grace"});
    using namespace std::chrono_literals;
    if (auto v = r.duration(t, p, "validity", 60s, std::chrono::hours{24 * 3660}))
        c.validity = std::chrono::duration_cast<std::chrono::seconds>(*v);
    if (const toml::node* n = t.get("expired_grace")) {
        if (n->is_string() && n->value<std::string>().value() == "keep") {
            c.expired_grace.reset();
        } else {
            c.expired_grace = std::chrono::duration_cast<std::chrono::seconds>(
                r.duration_value(*n, "crl.expired_grace", 0s, std::chrono::hours{24 * 36600}));
        }
    }
    // RFC 5280 §3.3: an entry stays until a CRL issued after its certificate expired has listed it.
    if (c.expired_grace && *c.expired_grace < c.validity)
        r.fail(t.get("expired_grace"), "crl.expired_grace",
               fmt::format("must be at least crl.validity ({}) or \"keep\": an expired certificate's entry must "
                           "appear on a CRL issued after its expiry (RFC 5280 §3.3)",
                           format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(c.validity))));
}

issuer_config parse_issuer(const reader& r, const toml::table& t, std::size_t index) {
    const std::string p = fmt::format("issuer[{}]", index);
    r.reject_unknown(t, p, {"name", "ca", "signer_cert", "signer_key", "pkcs11_pin_file", "responder_id",
                            "rsa_padding", "nonce", "unknown_serials", "validity", "backdate", "archive_cutoff",
                            "allow_group_readable_key", "signer_expiry_warning", "crl_key"});
    issuer_config c;
    c.ca_file = r.path(t, p, "ca");
    if (c.ca_file.empty()) r.fail(&t, p + ".ca", "is required (the issuing CA certificate)");
    c.name = r.string(t, p, "name").value_or("");
    c.signing.issuer_ca_file = c.ca_file;
    c.signing.cert_file = r.path(t, p, "signer_cert");
    if (c.signing.cert_file.empty()) c.signing.cert_file = c.ca_file;
    const auto key = r.string(t, p, "signer_key");
    if (!key || key->empty())
        r.fail(key ? t.get("signer_key") : &t, p + ".signer_key", "is required (the key of signer_cert, or of the CA)");
    const auto pin_file = r.path(t, p, "pkcs11_pin_file");
    if (keys::is_pkcs11_uri(*key)) {
        auto uri = keys::parse_pkcs11_uri(*key);
        if (!uri) r.fail(t.get("signer_key"), p + ".signer_key", uri.error_message());
        // One place for the PIN file, so that nobody wonders which of two is used.
        if (uri->pin_file && !pin_file.empty())
            r.fail(t.get("pkcs11_pin_file"), p + ".pkcs11_pin_file", "the signer_key URI names a pin-source already");
        if (!uri->pin_file && pin_file.empty())
            r.fail(t.get("signer_key"), p + ".signer_key",
                   "a key in a token needs its PIN: pin-source=file:/path in the URI, or pkcs11_pin_file");
        c.signing.pin_file = uri->pin_file ? r.resolve(*uri->pin_file) : pin_file;
        c.signing.token_key = std::move(*uri);
    } else {
        c.signing.key_file = r.resolve(*key);
    }
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
    const auto crl_key = r.string(t, p, "crl_key");
    if (crl_key && keys::is_pkcs11_uri(*crl_key)) {
        auto uri = keys::parse_pkcs11_uri(*crl_key);
        if (!uri) r.fail(t.get("crl_key"), p + ".crl_key", uri.error_message());
        if (uri->pin_file && !pin_file.empty())
            r.fail(t.get("pkcs11_pin_file"), p + ".pkcs11_pin_file", "the crl_key URI names a pin-source already");
        if (!uri->pin_file && pin_file.empty())
            r.fail(t.get("crl_key"), p + ".crl_key",
                   "a key in a token needs its PIN: pin-source=file:/path in the URI, or pkcs11_pin_file");
        c.crl_pin_file = uri->pin_file ? r.resolve(*uri->pin_file) : pin_file;
        c.crl_key = *crl_key;
        c.crl_token_key = std::move(*uri);
    } else if (crl_key && !crl_key->empty()) {
        c.crl_key = r.resolve(*crl_key);
    }
    if (!pin_file.empty() && !c.signing.token_key && !c.crl_token_key)
        r.fail(t.get("pkcs11_pin_file"), p + ".pkcs11_pin_file", "only for a signer_key or crl_key that is a pkcs11: URI");
    if (!c.crl_key.empty()) {
        // The name is the CRL's URL path segment, compared as it is: no percent-decoding of requests.
        const bool url_safe = !c.name.empty() && std::all_of(c.name.begin(), c.name.end(), [](char ch) {
            return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                   ch == '_' || ch == '.';
        });
        if (!url_safe)
            r.fail(t.get("name") ? t.get("name") : t.get("crl_key"), p + ".name",
                   "an issuer with crl_key needs a name of letters, digits, '-', '_' and '.': its CRL is served at "
                   "/crl/<name>.crl");
    }
    return c;
}

}  // namespace

std::string index_location::describe() const { return is_file ? spec : pg::redact_conninfo(spec); }

responder_config parse_config(std::string_view toml_text, const std::filesystem::path& origin) {
    toml::table root = toml_reader::parse(toml_text, origin);
    reader r(origin);
    responder_config c;
    c.source = origin;
    r.reject_unknown(root, "", {"database", "server", "log", "http_cache", "pkcs11", "crl", "issuer"});
    const auto database = r.string(root, "", "database");
    if (!database)
        r.fail(nullptr, "database", "is required (the index made by ocspctl init: a SQLite file or a PostgreSQL "
                                    "connection string)");
    if (database->empty()) r.fail(root.get("database"), "database", "must not be empty");
    c.database.is_file = pg::database_kind_of(*database) == pg::database_kind::sqlite_file;
    c.database.spec = c.database.is_file ? r.resolve(*database).string() : *database;
    if (const toml::node* n = root.get("server")) {
        if (!n->is_table()) r.fail(n, "server", "must be a table [server]");
        parse_server(r, *n->as_table(), c.server);
    }
    if (const toml::node* n = root.get("log")) {
        if (!n->is_table()) r.fail(n, "log", "must be a table [log]");
        const auto& t = *n->as_table();
        r.reject_unknown(t, "log", {"level", "access_log", "format"});
        if (auto v = r.string(t, "log", "level")) {
            static const std::set<std::string_view> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
            if (!levels.contains(*v)) r.fail(t.get("level"), "log.level", fmt::format("'{}' is not a log level", *v));
            c.log.level = *v;
        }
        if (auto v = r.boolean(t, "log", "access_log")) c.log.access_log = *v;
        if (auto v = r.choice<log_format>(t, "log", "format", {{"text", log_format::text}, {"json", log_format::json}}))
            c.log.format = *v;
    }
    if (const toml::table* t = r.table(root, "", "http_cache")) c.http_cache = parse_http_cache(r, *t);
    const toml::table* pkcs11 = r.table(root, "", "pkcs11");
    if (pkcs11) parse_pkcs11(r, *pkcs11, c.pkcs11);
    if (const toml::table* t = r.table(root, "", "crl")) parse_crl(r, *t, c.crl);
    const toml::node* issuers = root.get("issuer");
    if (!issuers || !issuers->is_array_of_tables() || issuers->as_array()->empty())
        r.fail(issuers, "issuer", "at least one [[issuer]] table is required");
    std::size_t i = 0;
    for (auto& item : *issuers->as_array()) {
        c.issuers.push_back(parse_issuer(r, *item.as_table(), i++));
        auto& signing = c.issuers.back().signing;
        if (!signing.token_key && !c.issuers.back().crl_token_key) continue;
        if (c.pkcs11.module.empty())
            r.fail(pkcs11 ? static_cast<const toml::node*>(pkcs11)
                          : item.as_table()->get(signing.token_key ? "signer_key" : "crl_key"),
                   "pkcs11.module",
                   "is required when a signer_key or crl_key is a pkcs11: URI (the PKCS#11 module, e.g. "
                   "/usr/lib/softhsm/libsofthsm2.so for SoftHSM)");
        signing.token.module = c.pkcs11.module;
        signing.token.sessions = c.pkcs11.sessions;
        signing.token.timeout = c.pkcs11.timeout;
    }
    std::set<std::string> crl_names;
    for (const auto& ic : c.issuers) {
        if (ic.crl_key.empty()) continue;
        if (!crl_names.insert(ic.name).second)
            r.fail(issuers, "issuer.name", fmt::format("two issuers with crl_key are named '{}'", ic.name));
        if (c.server.path == "/crl" || c.server.path.starts_with("/crl/"))
            r.fail(root.get("server"), "server.path", "must not be /crl or under it: /crl/ serves the CRLs");
    }
    return c;
}

responder_config load_config(const std::filesystem::path& file) {
    return parse_config(toml_reader::read_text(file), std::filesystem::absolute(file));
}

}  // namespace ocspkit::responder
