#pragma once
// [proxy] and [[proxy.issuer]]: the OCSP caching proxy that mTLS servers (Apache SSLOCSPEnable, nginx
// ssl_ocsp) ask about their clients' certificates (docs/stapler.md, "Checking client certificates").
//
//   [proxy]
//   listen = ["127.0.0.1:8888"]          # GET and POST, RFC 6960 / RFC 5019
//   [[proxy.issuer]]
//   ca = "/etc/pki/clients-ca.pem"       # CertIDs of this issuer (SHA-1/256/384/512) are served
//   responder_url = "http://ocsp.internal.example/"
//
// Parsing (parse_proxy) checks syntax, types and ranges; build_proxy_issuers reads the CA files. Both
// throw config_error naming file, line and key.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/cert_id.hpp"
#include "common/ossl_ptr.hpp"
#include "common/toml_reader.hpp"
#include "protocol/http_server.hpp"
#include "protocol/listen_address.hpp"
#include "stapler/daemon/key_location.hpp"

namespace ocspkit::stapler::daemon {

struct proxy_issuer_entry {  // one [[proxy.issuer]] as written
    std::string name;              // logs and metrics; empty: the CA file's name without extension
    std::filesystem::path ca;      // the issuing CA of the client certificates
    std::string responder_url;     // where misses and refreshes are fetched (http only)
    key_location at, ca_at, url_at;
};

struct proxy_config {
    std::vector<protocol::listen_address> listen{{"127.0.0.1", 8888}};
    // Limits of the HTTP side: requests are as small as the responder's (16 KiB body, 8 KiB head).
    protocol::http_limits http{.max_connections = 1024, .max_header_bytes = 8 * 1024, .max_body_bytes = 16 * 1024,
                               .request_timeout = std::chrono::seconds(10), .idle_timeout = std::chrono::seconds(30)};
    std::size_t max_cert_ids = 16;          // per request; more is malformedRequest
    std::size_t max_entries = 100'000;      // cached responses (one per set of CertIDs), least recently used evicted
    std::size_t max_upstream_fetches = 32;  // concurrent upstream requests; misses beyond wait, then tryLater
    std::chrono::milliseconds upstream_timeout{5'000};  // one upstream exchange; a miss waits at most this long
    std::chrono::milliseconds negative_ttl{10'000};     // a failed miss is answered tryLater this long
    std::size_t max_response_bytes = 16 * 1024;          // upstream responses longer are refused
    // The client cache that libocspstaple's ocsp_client_check_install() reads (stapler/client_check.hpp),
    // with its miss socket at "<client_cache>.misses". nullopt until load_config puts it beside
    // [stapler] shm_path as "clients"; an empty path switches it off.
    std::optional<std::filesystem::path> client_cache;
    std::uint32_t client_cache_capacity = 65536;  // slots, as [stapler] shm_capacity
    std::uint32_t client_cache_slot_size = 4096;  // bytes per slot, as [stapler] shm_slot_size
    std::vector<proxy_issuer_entry> issuers;
    key_location at;  // the [proxy] table
};

// True when `a` and `b` configure the same proxy (where in the file they were written aside): SIGHUP
// warns when [proxy] changed, since it only takes effect at the next start.
bool same_settings(const std::optional<proxy_config>& a, const std::optional<proxy_config>& b);

// Reads the [proxy] table (`proxy`) and the [[proxy.issuer]] tables in it.
proxy_config parse_proxy(const toml_reader& r, const toml::table& proxy);

// A configured issuer, ready to match CertIDs and validate responses.
struct proxy_issuer {
    std::string name;
    ossl::x509_ptr ca;
    issuer_hashes hashes;
    std::string responder_url;
};

// Reads every CA file; a missing or unreadable one, or two entries for one CA, throws config_error with
// the entry's file:line:key (`source` is the configuration file).
std::vector<proxy_issuer> build_proxy_issuers(const proxy_config& config, const std::filesystem::path& source);

}  // namespace ocspkit::stapler::daemon
