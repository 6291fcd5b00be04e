#pragma once
// Reading a CRL that a CA published (RFC 5280 §5), for `ocspctl import-crl`: pure, bytes in, the fields
// the import needs out. Nothing here trusts the bytes: every field is checked, and whatever the import
// could misread is refused rather than guessed at:
//   - a v1 CRL, or one without a CRL Number (the import keeps CRLs in order by it, §5.2.3);
//   - a critical extension we do not know, on the CRL or on an entry (§5.2, §5.3);
//   - indirect CRLs (certificateIssuer entries, issuingDistributionPoint indirectCRL) and CRLs whose
//     scope is not "all of this CA's end-entity certificates" (onlySomeReasons, onlyContainsCACerts,
//     onlyContainsAttributeCerts): a serial missing from such a CRL says nothing about it;
//   - a serial listed twice, a reason code outside RFC 5280's list, a time that does not parse.
// check_crl_signed_by() then says whether the CRL is the CA's: its issuer name, its authority key
// identifier (when both carry one), the CA's keyUsage (cRLSign) and the signature.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <openssl/x509.h>

#include "common/result.hpp"
#include "common/serial.hpp"
#include "schema/index_types.hpp"

namespace ocspkit::crl {

using bytes = std::vector<std::uint8_t>;
using sys_seconds = std::chrono::sys_seconds;

struct crl_entry {
    serial_number serial = *serial_number::from_hex("00");
    sys_seconds revocation_date{};
    // Absent when the entry has no reasonCode (RFC 5280 §5.3.1: unspecified is left out).
    std::optional<schema::revocation_reason> reason;
    std::optional<sys_seconds> invalidity_date;   // §5.3.2
    std::optional<std::string> hold_instruction;  // dotted OID, §5.3.2 (obsolete but still seen)

    bool is_hold() const noexcept { return reason == schema::revocation_reason::certificate_hold; }
    bool is_removal() const noexcept { return reason == schema::revocation_reason::remove_from_crl; }
};

struct crl_contents {
    bytes der;                 // the CRL as DER, for the signature check
    std::string issuer;        // the issuer name, RFC 2253, for messages
    serial_number number = *serial_number::from_hex("00");  // cRLNumber
    std::optional<serial_number> delta_base;                 // deltaCRLIndicator: this is a delta CRL
    sys_seconds this_update{};
    std::optional<sys_seconds> next_update;
    std::vector<crl_entry> entries;  // in the CRL's order

    bool is_delta() const noexcept { return delta_base.has_value(); }
};

// One CRL as DER, or as PEM ("-----BEGIN X509 CRL-----"). errc::malformed (or errc::unsupported for a
// CRL outside what the import can apply, as listed above) with a message saying what is wrong.
result<crl_contents> parse_crl(std::span<const std::uint8_t> input);

// errc::unauthorized when the CRL is not `ca`'s: another issuer name, another authority key identifier,
// a CA certificate whose keyUsage lacks cRLSign, or a signature that does not verify with its key.
status check_crl_signed_by(const crl_contents& crl, X509* ca);

// Numeric order of two CRL numbers (serial_number's own order is by octets, not by value).
bool number_less(const serial_number& a, const serial_number& b);

}  // namespace ocspkit::crl
