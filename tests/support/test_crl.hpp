#pragma once
// CRLs as other CAs write them, made at run time with OpenSSL's X509_CRL API, for the import tests: full
// and delta CRLs, every entry extension, and the shapes the importer must refuse. Our own builder
// (crl/crl_builder.hpp) only writes what the index holds; these cover what a CA may send.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/test_pki.hpp"

namespace ocspkit::test {

struct crl_entry_spec {
    std::string serial_hex;
    sys_seconds revoked = reference_time - std::chrono::hours{1};
    std::optional<int> reason;              // CRLReason code; absent: no reasonCode
    std::optional<sys_seconds> invalidity;  // invalidityDate
    std::optional<std::string> hold_instruction;  // OID text
};

struct crl_spec {
    std::optional<std::string> number_hex = "01";  // cRLNumber; absent: none
    std::optional<std::string> delta_base_hex;     // deltaCRLIndicator
    sys_seconds this_update = reference_time;
    std::optional<sys_seconds> next_update = reference_time + std::chrono::hours{24 * 7};
    std::vector<crl_entry_spec> entries;
    bool version1 = false;                 // no extensions at all
    bool authority_key_id = true;          // from the signer's certificate
    bool unknown_critical_extension = false;
    bool indirect = false;                 // issuingDistributionPoint indirectCRL, critical
    bool pem = false;
};

// Signed with `signer.key`, issuer name and AKI from `signer.cert`.
std::vector<std::uint8_t> make_crl(const issued& signer, const crl_spec& spec);

}  // namespace ocspkit::test
