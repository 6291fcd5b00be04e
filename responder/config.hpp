#pragma once
// ocsp-responder's one configuration struct (house rule 19), read from TOML with toml++. Every error
// names the file, line and key; defaults are stated next to the members.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/duration.hpp"
#include "common/config_error.hpp"
#include "common/log_format.hpp"
#include "protocol/http_server.hpp"
#include "protocol/listen_address.hpp"
#include "responder/answer.hpp"
#include "responder/http_cache_config.hpp"
#include "responder/signer.hpp"

namespace ocspkit::responder {

using ocspkit::config_error;  // common/config_error.hpp

using protocol::listen_address;

struct issuer_config {
    std::string name;                  // label for logs and metrics; defaults to the CA's CN
    std::filesystem::path ca_file;     // the issuing CA (must be registered in the index)
    signer_config signing;             // cert/key default to the CA itself
    nonce_policy nonces = nonce_policy::echo;
    unknown_serial_policy unknown_serials = unknown_serial_policy::unknown;
    std::chrono::seconds validity{24 * 3600};
    std::chrono::seconds backdate{3600};
    bool archive_cutoff = false;
    std::chrono::days signer_expiry_warning{30};  // warn this long before the signer certificate expires
    // CRL issuance, opt-in: the CA's own private key (crl/crl_signer.hpp says why not a delegated one),
    // a file or a pkcs11: URI (its PIN as for signer_key). Empty: no CRL is served for this issuer. The
    // CRL is served at /crl/<name>.crl.
    std::filesystem::path crl_key;
    std::optional<keys::pkcs11_uri> crl_token_key;  // set when crl_key is a pkcs11: URI
    std::filesystem::path crl_pin_file;             // its PIN file, resolved
};

// [crl]: how the responder's CRLs are made (for issuers with crl_key).
struct crl_config {
    std::chrono::seconds validity{std::chrono::hours{24 * 7}};  // nextUpdate - thisUpdate; re-issued at half
    // Revoked certificates that expired longer ago than this are left off; nullopt ("keep") keeps them all.
    std::optional<std::chrono::seconds> expired_grace = std::chrono::hours{24 * 30};
};

// The CPUs this process may run on (its affinity mask, as systemd's CPUAffinity= or taskset set it),
// 1 to 64: the default number of network threads, as nginx's `worker_processes auto`. More network
// threads than CPUs only time-slice each other: pinned to one core, two of them put a 4 ms step (the
// scheduler's slice) into the p99 that one thread does not have.
unsigned usable_cpus();

struct server_config {
    std::vector<listen_address> listen{{"127.0.0.1", 8080}};
    std::string path = "/";                 // where OCSP requests are served (GET <path>/<b64>, POST <path>)
    unsigned io_threads = usable_cpus();    // network threads
    // Worker pool for cache misses, nonces and index reads: at least 2, so that one slow database round
    // trip or token operation does not hold up every miss.
    unsigned signing_threads = std::max(2U, usable_cpus());
    std::size_t signing_queue = 4096;       // waiting jobs above which answers are tryLater
    std::size_t max_connections = 10000;
    std::size_t max_header_bytes = 8 * 1024;
    std::size_t max_body_bytes = 16 * 1024;
    std::size_t max_cert_ids = 64;
    std::chrono::milliseconds request_timeout{10000};  // whole request (headers + body) must arrive within
    std::chrono::milliseconds idle_timeout{30000};     // keep-alive wait for the next request
    std::chrono::milliseconds drain_timeout{5000};     // SIGTERM: in-flight work may finish within
    std::size_t cache_mib = 64;                        // pre-signed response cache bound
    std::chrono::milliseconds change_poll{100};        // how often the index's change counter is read
    // The pre-signed answers are written here at shutdown and every warm_start_interval, and read back
    // (each checked against the index) at start; empty: every start is cold.
    std::filesystem::path warm_start_file;
    std::chrono::milliseconds warm_start_interval{300000};

    protocol::http_limits http_limits() const {
        return {max_connections, max_header_bytes, max_body_bytes, request_timeout, idle_timeout};
    }
};

struct log_config {
    std::string level = "info";  // trace, debug, info, warn, error, off
    bool access_log = true;
    ocspkit::log_format format = ocspkit::log_format::text;  // "json": one object per line (journald, Loki)
};

// Where the index lives, as `database =` names it: the path of a SQLite file (relative paths resolved
// against the configuration file's folder) or a PostgreSQL connection string (pg::database_kind_of).
struct index_location {
    std::string spec;  // what schema::open_index_reader() takes: the resolved path or the connection string
    bool is_file = true;

    std::filesystem::path file() const { return spec; }
    // For logs, messages and /health: the path, or the connection string with any password masked.
    std::string describe() const;
    friend bool operator==(const index_location&, const index_location&) = default;
};

// [pkcs11]: the module through which every `signer_key = "pkcs11:..."` is reached (one per program:
// libp11 cannot take it from the URI), and how each such key is used.
struct pkcs11_config {
    std::filesystem::path module;              // required as soon as one signer_key is a pkcs11: URI
    unsigned sessions = 2;                     // helper processes (token sessions, concurrent signatures) per key
    std::chrono::milliseconds timeout{10000};  // a login or one signature must finish within this
};

struct responder_config {
    std::filesystem::path source;  // the config file itself
    index_location database;       // the index written by ocspctl
    server_config server;
    log_config log;
    pkcs11_config pkcs11;
    http_cache_config http_cache;  // [http_cache]: s-maxage cap and purge targets (http_cache_config.hpp)
    crl_config crl;                // [crl]
    std::vector<issuer_config> issuers;
};

// Reads and validates the file; relative paths are resolved against the file's directory.
// Throws config_error("FILE:LINE: key 'server.io_threads': must be between 1 and 64").
responder_config load_config(const std::filesystem::path& file);
responder_config parse_config(std::string_view toml_text, const std::filesystem::path& origin);

using ocspkit::parse_duration;  // common/duration.hpp

}  // namespace ocspkit::responder
