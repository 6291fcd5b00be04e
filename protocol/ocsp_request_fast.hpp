#pragma once
// The two halves of decode_request (ocsp_request.hpp), apart so that the fuzz target can hold one
// against the other:
//  - decode_plain_request reads, in a single pass over the bytes, the request every client sends (no
//    requestorName, no signature, no version field, DER throughout) and answers nullopt for everything
//    else, valid or not;
//  - decode_request_with_openssl is the full decoder (OpenSSL's d2i, DER checked by re-encoding), which
//    decides and words every refusal.
// decode_request tries the first, then the second. The first must never accept what the second refuses,
// nor read anything differently (tests/fuzz/decode_request_fuzzer.cpp checks both).
// The single pass exists for speed: d2i_OCSP_REQUEST, the re-encoding and OpenSSL's OID lookups (under a
// global lock) took ~5 µs per request, a tenth of an ECDSA nonce answer's whole cost.
#include <optional>
#include <span>

#include "protocol/ocsp_request.hpp"

namespace ocspkit::protocol {

std::optional<decoded_request> decode_plain_request(std::span<const std::uint8_t> der, const request_limits& limits);
decode_result decode_request_with_openssl(std::span<const std::uint8_t> der, const request_limits& limits);

}  // namespace ocspkit::protocol
