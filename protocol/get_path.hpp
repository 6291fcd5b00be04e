#pragma once
// RFC 6960 Appendix A.1 / RFC 5019 §5: GET {url}/{url-encoding of base-64 encoding of the DER request}.
// Real clients differ: some percent-encode '+', '/', '=' (in either case), some send them raw, some
// use base64url, drop the padding, double the '/' or put the request under a path prefix.
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/base64.hpp"  // decode_base64_lenient(), the base64 step of decode_get_path()
#include "common/result.hpp"

namespace ocspkit::protocol {

// `target` is the HTTP request-target (path, no query expected); `base_path` the configured mount
// point ("/" or e.g. "/ocsp"). Returns the DER bytes, or an error saying why the path is not a request.
// A '+' stays a '+' (it is base64, never a space).
result<std::vector<std::uint8_t>> decode_get_path(std::string_view target, std::string_view base_path);

}  // namespace ocspkit::protocol
