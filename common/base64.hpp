#pragma once
// Base64 (RFC 4648), one home: the stapler encodes OCSP requests for GET (RFC 6960 Appendix A.1) and
// responses for HAProxy's "set ssl ocsp-response <base64>"; the responder decodes GET paths.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace ocspkit {

// Standard alphabet (RFC 4648 §4) with padding, no line breaks.
std::string base64_encode(std::span<const std::uint8_t> bytes);

// What clients send in OCSP GET paths: the standard or the url alphabet (RFC 4648 §5), even mixed,
// padding optional but exact when present, no whitespace, and canonical (the unused bits of the last
// digit are zero), so that each text decodes to one DER and each DER has one text per alphabet.
// Untrusted input: the error says why the text is not base64.
result<std::vector<std::uint8_t>> decode_base64_lenient(std::string_view text);

}  // namespace ocspkit
