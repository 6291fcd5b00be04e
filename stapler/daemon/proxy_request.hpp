#pragma once
// What the stapler's OCSP proxy makes of a client's request, pure (house rule 2): which configured issuer
// its CertIDs name, the cache key, and whether the cache may answer it at all.
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "common/cert_id.hpp"
#include "common/result.hpp"
#include "common/serial.hpp"
#include "protocol/ocsp_request.hpp"

namespace ocspkit::stapler::daemon {

struct proxy_request {
    // The CertIDs, canonical and in request order: one cache entry per key. Two requests with the same
    // CertIDs are answered by the same response whatever else they carry (without a nonce nothing else
    // changes the answer), but CertIDs differing in hash algorithm or in the encoding of its parameters
    // are different keys, because clients compare the response's CertID with the one they sent.
    std::string key;
    std::size_t issuer = 0;              // index of the configured issuer every CertID names
    std::vector<serial_number> serials;  // one per CertID
    // A nonce (RFC 9654) binds the answer to this one request: forwarded upstream, never cached.
    bool has_nonce = false;
};

// `issuers[i]` are the hashes of configured issuer i. errc::unauthorized when a CertID names no
// configured issuer, or when the CertIDs name different issuers (answered unauthorized, RFC 6960 §2.3);
// errc::malformed for a request without CertIDs.
result<proxy_request> classify(const protocol::decoded_request& request, std::span<const issuer_hashes> issuers);

}  // namespace ocspkit::stapler::daemon
