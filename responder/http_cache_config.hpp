#pragma once
// The [http_cache] section of ocsp-responder's configuration: how HTTP caches in front of the responder
// (nginx proxy_cache, Varnish) may keep its GET answers, and where it purges them when a certificate
// changes. Read by parse_http_cache(), called from parse_config() (config.cpp).
//
//   [http_cache]
//   s_maxage = "5m"            # optional cap on how long shared caches keep an answer
//   purge_timeout = "2s"       # connect, and then send and read one PURGE, within this
//   purge_attempts = 3         # tries per URL and target (backing off 100 ms, 200 ms, ...)
//   purge_queue = 10000        # URLs waiting per target; more are dropped (and counted)
//   [[http_cache.purge]]
//   url = "http://127.0.0.1:6081"   # plain HTTP; a path here prefixes every purged path
//   host = "ocsp.example.com"       # optional Host header (default: the url's host[:port])
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/toml_reader.hpp"

namespace ocspkit::responder {

// One cache that accepts "PURGE <path>" (Varnish with a PURGE ACL, nginx's cache_purge module).
struct purge_target {
    std::string url;          // as configured: the name in logs and metrics
    std::string host;         // to connect to: a name, an IPv4 address or an IPv6 address without brackets
    std::uint16_t port = 80;
    std::string path_prefix;  // "" or "/something" without a trailing '/', put before each purged path
    std::string host_header;  // the Host field of each PURGE
};

struct http_cache_config {
    // Unset: caches keep an answer for max-age (until nextUpdate). Set: s-maxage=min(cap, max-age).
    std::optional<std::chrono::seconds> s_maxage;
    std::vector<purge_target> purge;
    std::chrono::milliseconds purge_timeout{2000};
    unsigned purge_attempts = 3;
    std::size_t purge_queue = 10000;
};

// "http://HOST[:PORT][/PREFIX]" into a target (Host header defaulted); HOST may be "[v6]". The error
// says what is wrong with the text.
result<purge_target> parse_purge_url(std::string_view url);

// Reads the [http_cache] table; errors name the file, line and key (toml_reader::fail).
http_cache_config parse_http_cache(const toml_reader& r, const toml::table& t);

}  // namespace ocspkit::responder
