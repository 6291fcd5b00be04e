#pragma once
// The text database of `openssl ca` (index.txt), read and written without touching SQLite or sockets.
//
// A line has six tab-separated fields (OpenSSL apps/include/ca.h DB_type .. DB_name):
//   status   V valid, R revoked, E expired (set by `openssl ca -updatedb`)
//   expiry   notAfter as UTCTime "YYMMDDHHMMSSZ", or GeneralizedTime "YYYYMMDDHHMMSSZ" from 2050 on
//   revoked  empty unless R: "time" or "time,reason" or "time,reason,argument" (apps/ca.c
//            make_revocation_str); time is UTCTime, reason one of OpenSSL's names (case-insensitive):
//              unspecified keyCompromise CACompromise affiliationChanged superseded cessationOfOperation
//              certificateHold removeFromCRL      plain reasons (certificateHold may carry an OID)
//              holdInstruction,<OID or name>      `-crl_hold`: on hold with that hold instruction
//              keyTime,<GeneralizedTime>          `-crl_compromise`: keyCompromise + invalidity date
//              CAkeyTime,<GeneralizedTime>        `-crl_CA_compromise`: cACompromise + invalidity date
//   serial   uppercase hex
//   file     where `openssl ca` wrote the certificate, almost always "unknown"; not stored
//   subject  X509_NAME_oneline form, "/C=../CN=.."
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "schema/cert_index.hpp"

namespace ocspkit::schema::index_txt {

// Parses one line (without its newline; a trailing '\r' is tolerated). The record's issuer_id is 0 and
// cert_der/not_before are absent. Errors are messages without a location; the caller adds FILE:LINE.
//
// V and E both become good: E only records that notAfter has passed, which not_after already says.
// "removeFromCRL" also becomes good: RFC 5280 §5.3.1 uses it only in delta CRLs, for an entry whose hold
// was released, so the certificate is valid again (RFC 6960 §2.2 "good"). OpenSSL's own `ocsp -index`
// would answer it as revoked, which no CA means.
result<cert_record> parse_line(std::string_view line);
// The same into an existing record, reusing its buffers (for bulk imports). On error (errc::malformed)
// `rec` holds a partial parse.
status parse_line_into(std::string_view line, cert_record& rec);

struct formatted_line {
    std::string line;                    // without newline
    std::optional<std::string> warning;  // set when something could not be expressed in index.txt
};

// Writes a line that `openssl ocsp -index` and `openssl ca` read back: good is always V (OpenSSL's OCSP
// responder gives no status at all for E rows), hold is "time,holdInstruction,<OID>" (or
// "time,certificateHold" without an instruction), a compromise with an invalidity date is keyTime or
// CAkeyTime. privilegeWithdrawn and aACompromise have no index.txt spelling and are written without a
// reason; an invalidity date on other reasons is dropped; both come with a warning. A certificate without
// a known notAfter gets 99991231235959Z, RFC 5280 §4.1.2.5's "no well-defined expiration date".
formatted_line format_line(const cert_record& rec);

// A hold instruction (RFC 3280 §5.3.2 holdInstructionCode) given as a dotted OID or a name OpenSSL knows
// (holdInstructionNone, holdInstructionCallIssuer, holdInstructionReject), in dotted form.
result<std::string> normalize_hold_instruction(std::string_view text);

// "YYYYMMDDHHMMSSZ", as keyTime and CAkeyTime carry it.
std::string generalized_time_string(sys_seconds t);

}  // namespace ocspkit::schema::index_txt
