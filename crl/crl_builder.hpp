#pragma once
// Building a full CRL (RFC 5280 §5, version 2) from the index's revoked and held certificates: pure,
// the rows, the CRL number and `now` in, DER out. Nothing here reads the clock, the index or a file.
//
//   CertificateList { tbsCertList, signatureAlgorithm, signatureValue }
//   TBSCertList: version v2, signature, issuer (the CA's subject), thisUpdate, nextUpdate,
//     revokedCertificates { userCertificate, revocationDate, crlEntryExtensions {
//         reasonCode (left out for unspecified, §5.3.1; certificateHold for held certificates),
//         invalidityDate (§5.3.2) } },
//     crlExtensions { authorityKeyIdentifier (§5.2.1), cRLNumber (§5.2.3),
//                     expiredCertsOnCRL (X.509 §9.6.2.7, OID 2.5.29.60) }
//
// What is on it agrees with what the responder answers for the same rows (responder/answer.cpp
// map_status): every listed serial is `revoked` there with the same revocationTime, reason (certificateHold
// for a hold) and invalidity date, and every revoked or held row is listed unless it expired more than
// `expired_grace` before thisUpdate. expiredCertsOnCRL states that boundary, so the CRL's scope is exact:
// a revoked certificate whose notAfter is at or after that date is on it.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "crl/crl_signer.hpp"
#include "schema/index_types.hpp"

namespace ocspkit::crl {

using bytes = std::vector<std::uint8_t>;

struct crl_policy {
    // nextUpdate - thisUpdate.
    std::chrono::seconds validity{std::chrono::hours{24}};
    // Revoked certificates that expired more than this before thisUpdate are left off; nullopt keeps
    // every one (expiredCertsOnCRL is then the CA's notBefore). RFC 5280 §3.3 wants an entry to stay
    // until it appeared on one regularly scheduled CRL issued after the certificate expired, hence
    // check_policy()'s lower bound.
    std::optional<std::chrono::seconds> expired_grace = std::chrono::hours{24 * 30};
};

// errc::config when validity is under a minute or over ten years, or a grace is shorter than the
// validity (an expired certificate could then leave before any CRL issued after its expiry listed it).
status check_policy(const crl_policy& policy);

// The expiredCertsOnCRL date of a CRL issued at `this_update`: revoked certificates whose notAfter is at or
// after it are on the CRL. thisUpdate - grace; with `keep` (every revocation listed) the CA's notBefore.
sys_seconds expired_certs_on_crl(const crl_policy& policy, sys_seconds this_update, sys_seconds ca_not_before);

// Whether a row is on a CRL issued at `this_update`: revoked or held, and (under a grace) not expired
// before this_update - grace. A row without notAfter is listed (its expiry is unknown); `keep` lists
// every revoked and held row.
bool listed(const schema::cert_record& row, const crl_policy& policy, sys_seconds this_update);

struct built_crl {
    bytes der;
    std::int64_t number = 0;
    sys_seconds this_update{};
    sys_seconds next_update{};
    sys_seconds expired_certs_on_crl{};
    std::size_t entries = 0;
    std::size_t expired_left_off = 0;  // revoked rows not listed because they expired before the grace
};

// Signs a CRL numbered `number` (> 0) listing `rows` that listed() keeps (rows that are good are
// ignored). errc::out_of_range for a number <= 0, errc::crypto (with OpenSSL's error queue) when
// encoding or signing fails, errc::malformed for a revoked row without a revocation time.
result<built_crl> build_crl(const crl_signer& signer, const crl_policy& policy, std::int64_t number,
                            sys_seconds this_update, std::span<const schema::cert_record> rows);

}  // namespace ocspkit::crl
