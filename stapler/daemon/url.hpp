#pragma once
// Responder URLs of the stapler daemon: parsed by common/http_url.hpp (plain http only, see there), and
// found in a leaf's Authority Information Access. Pure: no resolution, no I/O.
#include <string>

#include <openssl/x509.h>

#include "common/http_url.hpp"
#include "common/result.hpp"

namespace ocspkit::stapler::daemon {

// The leaf's OCSP responder from Authority Information Access (RFC 5280 §4.2.2.1): the first
// accessLocation of an id-ad-ocsp AccessDescription that is a URI with the http scheme (https ones are
// skipped, see common/http_url.hpp). An error names what is missing. `leaf` is borrowed.
result<std::string> aia_ocsp_url(X509* leaf);

}  // namespace ocspkit::stapler::daemon
