#pragma once
// RFC 5019 §6 / RFC 9919 HTTP caching headers for OCSP answers.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/clock.hpp"

namespace ocspkit::protocol {

// What RFC 5019 caching needs to know of an OCSP answer. Whether an answer may be cached at all is the
// answerer's decision (the responder: successful, no nonce, no `unknown`; see responder/answer.hpp).
struct answer_validity {
    bool cacheable = false;
    sys_seconds this_update{};
    sys_seconds next_update{};
};

struct http_cache_headers {
    std::string cache_control;
    std::optional<std::string> last_modified;  // IMF-fixdate of thisUpdate
    std::optional<std::string> expires;        // IMF-fixdate of nextUpdate
    std::optional<std::string> etag;           // strong, quoted: hash of the response bytes
};

// What follows "max-age=<seconds>" (and "s-maxage=<seconds>" when capped) in the Cache-Control of a
// cacheable answer (RFC 5019 §6.2).
inline constexpr std::string_view cacheable_directives = ", public, no-transform, must-revalidate";

// The s-maxage (RFC 9111 §5.2.2.10) of a cacheable answer whose max-age is `max_age`, when the operator
// caps how long shared caches (nginx proxy_cache, Varnish) keep it: min(cap, max_age). A cache without
// purge then re-fetches, and sees a revocation, at most `cap` after it happened, while clients keep the
// full max-age. No cap, no s-maxage.
std::optional<std::size_t> shared_max_age(std::size_t max_age, std::optional<std::chrono::seconds> cap);

// Cacheable GET answers get
// "max-age=<until nextUpdate>[, s-maxage=<capped>], public, no-transform, must-revalidate" and the
// validators; everything else "no-cache" (so a shared cache in front never keeps an error or a nonce
// answer). No Vary: the answer depends on the request-target alone, never on a request header.
// `precomputed_etag` (the same quoted form) spares hashing the response on every request.
http_cache_headers cache_headers_for(const answer_validity& answer, std::span<const std::uint8_t> response_der,
                                     bool is_get, sys_seconds now, std::string_view precomputed_etag = {},
                                     std::optional<std::chrono::seconds> s_maxage_cap = std::nullopt);

// The strong ETag of a response: the quoted hex of the first 16 octets of SHA-256 over its DER.
// cache_headers_for uses it unless given a precomputed one, which must come from here too.
std::string response_etag(std::span<const std::uint8_t> response_der);

// The validator fields of a cacheable GET answer as header lines ("Last-Modified: ...\r\nExpires:
// ...\r\nETag: ...\r\n"), formatted once when the answer is cached so that a hit formats no date; nullopt
// when the answer is not cacheable over GET. `etag` comes from response_etag().
std::optional<std::string> get_validator_fields(const answer_validity& answer, std::span<const std::uint8_t> response_der,
                                                sys_seconds now, std::string_view etag);

// Conditional GET (RFC 9110 §13.1): true when the client's validators match and a 304 is due.
bool not_modified(const http_cache_headers& headers, std::optional<std::string_view> if_none_match,
                  std::optional<std::string_view> if_modified_since);

// The same for validators held as values (a cache entry's ETag and thisUpdate), so that a conditional
// request costs no date formatting: `etag` is the quoted strong tag, `last_modified` the time the
// Last-Modified field states.
bool not_modified(std::string_view etag, sys_seconds last_modified, std::optional<std::string_view> if_none_match,
                  std::optional<std::string_view> if_modified_since);

std::string imf_fixdate(sys_seconds t);
std::optional<sys_seconds> parse_http_date(std::string_view text);

}  // namespace ocspkit::protocol
