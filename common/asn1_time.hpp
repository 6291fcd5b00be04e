#pragma once
// Conversions between ASN.1 times (UTCTime / GeneralizedTime) and std::chrono seconds, all UTC.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/asn1.h>

#include "common/ossl_ptr.hpp"

namespace ocspkit {

using sys_seconds = std::chrono::sys_seconds;

// "YYMMDDHHMMSSZ" (UTCTime, years 1950-2049 per RFC 5280) or "YYYYMMDDHHMMSSZ" (GeneralizedTime).
std::optional<sys_seconds> parse_asn1_time_string(std::string_view text);
std::optional<sys_seconds> from_asn1_time(const ASN1_TIME* t);
// UTCTime before 2050, GeneralizedTime from 2050 on (RFC 5280 §4.1.2.5).
std::string to_asn1_time_string(sys_seconds t);
// Always GeneralizedTime, as OCSP uses (RFC 6960 §4.2.1).
ossl::asn1_generalizedtime_ptr to_generalized_time(sys_seconds t);
// ISO 8601 "2026-11-23T09:29:36Z" for humans and logs.
std::string to_iso8601(sys_seconds t);
// Accepts ISO 8601 (with 'T' or space, optional 'Z'), ASN.1 forms, "now", or "@<unix seconds>".
std::optional<sys_seconds> parse_user_time(std::string_view text, sys_seconds now);

}  // namespace ocspkit
