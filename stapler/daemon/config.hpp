#pragma once
// ocsp-stapler's one configuration struct (house rule 19) and the certificate inventory built from it.
// docs/stapler.md ("Daemon") is the reference of every key; the defaults below are the documented ones.
//
// Two stages, both at start-up and on SIGHUP:
//   parse_config / load_config   TOML -> stapler_config; syntax, types, ranges, unknown keys
//   build_inventory              stapler_config -> certificates: reads the chain files, checks that the
//                                issuer signed the leaf, finds the responder URL
// Every error of either stage is a config_error whose message names file, line and key:
//   /etc/ocsp-stapler.toml:12: key 'certificate[0].issuer': did not sign the leaf in /etc/ssl/www.pem
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cert_id.hpp"
#include "common/config_error.hpp"
#include "common/log_format.hpp"
#include "common/ossl_ptr.hpp"
#include "stapler/daemon/key_location.hpp"
#include "stapler/daemon/proxy_config.hpp"
#include "stapler/policy.hpp"
#include "stapler/shm_writer.hpp"

namespace ocspkit::stapler::daemon {

using ocspkit::config_error;

enum class request_method : std::uint8_t { get, post };
std::string_view to_string(request_method m) noexcept;

// How one certificate's responses are fetched and judged: [defaults], overridden per entry.
struct fetch_settings {
    staple_policy policy = staple_policy::soft;  // Must-Staple certificates are hard regardless
    bool nonce = false;                           // send a nonce and require it back (RFC 8954)
    hash_alg hash = hash_alg::sha1;               // CertID hash of the request (RFC 5019 §2.1.1: SHA-1)
    request_method method = request_method::get;  // GET falls back to POST above 255 bytes (RFC 5019 §5)
    std::chrono::milliseconds timeout{10000};     // the whole HTTP exchange
    std::size_t max_response_bytes = 0;           // 0: the shm slot's payload size
};

struct certificate_entry {  // one [[certificate]] as written
    std::string name;                  // empty: the chain file's name without extension
    std::filesystem::path chain;       // leaf first, then (optionally) its issuer
    std::filesystem::path issuer;      // empty: the chain's second certificate
    std::string responder_url;         // empty: the leaf's AIA OCSP URL
    std::filesystem::path nginx_file;  // empty: no nginx export
    bool haproxy = false;              // write <chain>.ocsp and push it over [haproxy] stats_socket
    fetch_settings settings;
    key_location at, name_at, chain_at, issuer_at, url_at, nginx_file_at, haproxy_at;
};

struct directory_entry {  // one [[directory]]
    std::filesystem::path path;  // every *.pem / *.crt directly in it that holds leaf + issuer
    bool haproxy = false;
    fetch_settings settings;
    key_location at, haproxy_at;
};

struct stapler_config {
    std::filesystem::path source;  // the file itself, absolute
    // [stapler]
    std::filesystem::path state_dir = "/var/lib/ocsp-stapler";
    std::filesystem::path shm_path = "/run/ocsp-stapler/staples";
    std::uint32_t shm_capacity = 4096;
    std::uint32_t shm_slot_size = 4096;
    std::filesystem::path control_socket = "/run/ocsp-stapler/control.sock";
    std::string metrics_listen;  // "host:port"; empty: no metrics endpoint
    std::chrono::milliseconds min_refresh_interval{60'000};
    std::chrono::milliseconds retry_initial{10'000};
    std::chrono::milliseconds retry_max{600'000};
    double jitter = 0.1;
    std::chrono::seconds max_skew{300};
    std::vector<std::chrono::milliseconds> expiry_alert{std::chrono::hours{12}, std::chrono::hours{1}};  // descending
    std::chrono::milliseconds startup_timeout{30'000};
    // [log] level and format; `[stapler] log_level` is the deprecated spelling of [log] level (setting
    // both is an error, so that nobody edits the one that is ignored).
    std::string log_level = "info";
    ocspkit::log_format log_format = ocspkit::log_format::text;
    bool deprecated_log_level = false;  // the level came from [stapler] log_level: warn at start-up
    // [defaults]
    fetch_settings defaults;
    // [nginx]
    std::vector<std::string> nginx_reload_command;  // argv, run without a shell
    // [haproxy]
    std::string haproxy_stats_socket;  // unix socket path or host:port; empty: files only

    std::vector<certificate_entry> certificates;
    std::vector<directory_entry> directories;
    // [proxy] and its [[proxy.issuer]]s: the OCSP caching proxy for client certificates (proxy_config.hpp).
    std::optional<proxy_config> proxy;

    std::size_t max_der_len() const noexcept { return shm_slot_size - shm_slot_header_size; }
};

// Throws config_error. Relative paths are resolved against the file's directory.
stapler_config load_config(const std::filesystem::path& file);
stapler_config parse_config(std::string_view toml_text, const std::filesystem::path& origin);

// A certificate the daemon staples for: everything needed to fetch, validate and publish.
struct certificate {
    std::string name;  // unique; [A-Za-z0-9._-], the persisted file is <state_dir>/<name>.der
    std::filesystem::path chain;
    ossl::x509_ptr leaf;
    ossl::x509_ptr issuer;
    cache_key key{};  // SHA-256 of the leaf's DER: the shm cache key
    std::string responder_url;
    bool must_staple = false;
    std::filesystem::path nginx_file;    // empty: none
    std::filesystem::path haproxy_file;  // <chain>.ocsp, empty unless haproxy = true
    fetch_settings settings;             // max_response_bytes resolved (never 0)
    std::string origin;                  // "certificate[0]" or "directory[1] /etc/ssl/stapled/www.pem"
    key_location nginx_file_at, haproxy_at;  // where the exports were asked for, for check_export_folders

    staple_policy effective_policy() const noexcept { return must_staple ? staple_policy::hard : settings.policy; }
    // True when both would fetch the same thing the same way (a reload keeps the state of such a one).
    bool same_source(const certificate& other) const noexcept;
};

struct inventory {
    std::vector<certificate> certificates;
    std::vector<std::string> skipped;  // [[directory]] files left out, one log line each
};

// Reads every chain. A bad [[certificate]] (unreadable chain, no issuer, issuer did not sign the leaf, no
// responder URL, duplicate or unusable name) throws config_error naming file:line:key; a bad file found
// through [[directory]] is listed in `skipped` instead.
inventory build_inventory(const stapler_config& config);

// Every folder an export is written into (nginx_file's, and the chain's for HAProxy's <chain>.ocsp)
// must exist and be writable and searchable by this process's effective user: exports are written as
// a temporary file in that folder, then renamed. --check-config, start-up and SIGHUP call it after
// build_inventory. Throws one config_error listing every problem, one line each:
//   FILE:LINE: key 'certificate[0].nginx_file': certificate 'www': cannot write /srv/nginx/www.der:
//   the folder /srv/nginx does not exist; create it ... (the fix)
void check_export_folders(const stapler_config& config, const inventory& inv);

// "FILE:LINE: key 'KEY'", the start of every error line about a key.
std::string config_location(const stapler_config& config, const key_location& at);

// Names are file names under state_dir: letters, digits, '.', '_' and '-', not starting with '.'.
bool valid_certificate_name(std::string_view name) noexcept;

}  // namespace ocspkit::stapler::daemon
