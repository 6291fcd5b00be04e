#pragma once
// The [http_cache] section of ocsp-responder's configuration: how HTTP caches in front of the responder
// (nginx proxy_cache, Varnish) may keep its GET answers. Read by parse_http_cache(), called from
// parse_config() (config.cpp).
//
//   [http_cache]
//   s_maxage = "5m"            # optional cap on how long shared caches keep an answer
#include <chrono>
#include <optional>

#include "common/toml_reader.hpp"

namespace ocspkit::responder {

struct http_cache_config {
    // Unset: caches keep an answer for max-age (until nextUpdate). Set: s-maxage=min(cap, max-age).
    std::optional<std::chrono::seconds> s_maxage;
};

// Reads the [http_cache] table; errors name the file, line and key (toml_reader::fail).
http_cache_config parse_http_cache(const toml_reader& r, const toml::table& t);

}  // namespace ocspkit::responder
