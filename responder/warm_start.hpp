#pragma once
// The warm-start file: the responder's pre-signed answers written at shutdown (and periodically), read
// back at start so that a restarted responder answers repeated requests from memory at once instead of
// queueing every first request for a signature. Pure encoding and decoding here (bytes in, bytes out);
// what is loaded, and only after checking each answer against the index, is in service_warm.cpp.
//
// Layout (integers little-endian): "OCSPKIT-WARM-START\n", u32 version, u32 count, the entries, then the
// SHA-256 of everything before it. Entry: u32 length + request DER, u32 length + response DER, the
// SHA-256 of the signer certificate, i64 thisUpdate, nextUpdate and re-sign time (seconds since the
// epoch), u16 count of statuses, each u8 state, u8 flags, i64 revocationTime, u8 reason, i64
// invalidityDate. The file is the responder's own, but it is read as untrusted: a damaged file is refused
// whole (the responder then starts cold), never half-read.
#include <cstdint>
#include <span>
#include <vector>

#include "common/cert_id.hpp"
#include "common/result.hpp"
#include "responder/answer.hpp"

namespace ocspkit::responder {

struct warm_entry {
    bytes request_der;   // the cache key: a request without nonce
    bytes response_der;  // the signed OCSPResponse
    bytes signer_sha256;  // which signer certificate signed it (32 bytes)
    sys_seconds this_update{};
    sys_seconds next_update{};
    sys_seconds refresh_at{};
    std::vector<single_status> statuses;  // one per CertID of the request, in its order: what was signed

    friend bool operator==(const warm_entry&, const warm_entry&) = default;
};

inline constexpr std::size_t warm_max_der = 1 << 20;     // per request or response
inline constexpr std::size_t warm_max_statuses = 10000;  // as server.max_cert_ids allows at most

bytes encode_warm_start(std::span<const warm_entry> entries);
// errc::malformed naming what is wrong (bad magic, version, checksum, truncation, a field out of range).
result<std::vector<warm_entry>> decode_warm_start(std::span<const std::uint8_t> file);

}  // namespace ocspkit::responder
