#pragma once
// The responder's protocol core as pure functions (house rule 2): decoded request + issuers + index
// lookup + time in, signed OCSPResponse DER out. No sockets, no clocks, no threads.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/cert_id.hpp"
#include "protocol/cache_headers.hpp"
#include "protocol/ocsp_request.hpp"
#include "responder/signer.hpp"
#include "schema/cert_index.hpp"

namespace ocspkit::responder {

using sys_seconds = std::chrono::sys_seconds;
// The decoded request this core answers (protocol/ocsp_request.hpp).
using protocol::decode_request;
using protocol::decode_result;
using protocol::decoded_request;
using protocol::request_limits;
using protocol::requested_cert;

// RFC 6960 §4.2.1 OCSPResponseStatus.
enum class ocsp_status : int {
    successful = 0,
    malformed_request = 1,
    internal_error = 2,
    try_later = 3,
    sig_required = 5,
    unauthorized = 6,
};
std::string_view ocsp_status_name(ocsp_status s);

enum class cert_state { good, revoked, unknown };
std::string_view cert_state_name(cert_state s);

enum class nonce_policy { ignore, echo, required };
// What a serial that the index does not hold gets, under a known issuer (RFC 6960 §2.2).
enum class unknown_serial_policy { unknown, revoked };

// Everything the responder knows about one issuing CA it serves.
struct issuer_profile {
    std::int64_t issuer_id = 0;      // the index's issuers.id
    std::string name;                // for logs and metrics
    issuer_hashes hashes;            // precomputed for all four algorithms
    std::shared_ptr<const signer> signing;
    nonce_policy nonces = nonce_policy::echo;
    unknown_serial_policy unknown_serials = unknown_serial_policy::unknown;
    // nextUpdate = producedAt + validity: an answer is good for `validity` from the moment it is made,
    // whatever the backdate (clamped to the signer certificate's notAfter, past which it cannot verify).
    std::chrono::seconds validity{24 * 3600};
    std::chrono::seconds backdate{3600};       // thisUpdate = now - backdate, for client clock skew
    bool archive_cutoff = false;               // add archiveCutoff (RFC 6960 §4.4.4) for expired certificates
    bool include_signer_cert = true;           // put a delegated signer's certificate in `certs`
};

// Finds the profile whose hashes match a CertID under its algorithm (comparison only, no hashing).
class issuer_set {
public:
    explicit issuer_set(std::vector<issuer_profile> profiles);
    const issuer_profile* match(const requested_cert& id) const;
    const std::vector<issuer_profile>& profiles() const noexcept { return profiles_; }

private:
    std::vector<issuer_profile> profiles_;
};

// Index lookup injected by the caller (SQLite in production, a map in tests).
using cert_lookup = std::function<std::optional<schema::cert_record>(std::int64_t issuer_id, const serial_number&)>;

// One SingleResponse's decided content (before signing).
struct single_status {
    cert_state state = cert_state::unknown;
    std::optional<sys_seconds> revocation_time;
    std::optional<schema::revocation_reason> reason;  // omitted on the wire when unspecified (RFC 5280 §5.3.1)
    std::optional<sys_seconds> invalidity_date;
    bool extended_revoked = false;  // RFC 6960 §4.4.8: non-issued serial answered `revoked`
    bool expired = false;           // certificate past notAfter (for archiveCutoff)

    friend bool operator==(const single_status&, const single_status&) = default;
};
// Maps an index row (or its absence) to the status to sign, per the profile's policy.
single_status map_status(const std::optional<schema::cert_record>& row, const issuer_profile& issuer, sys_seconds now);

struct answer_metadata {
    ocsp_status status = ocsp_status::successful;
    std::vector<cert_state> cert_states;  // one per CertID, for metrics/logs
    sys_seconds this_update{};
    sys_seconds next_update{};
    bool has_nonce = false;
    bool cacheable = false;  // successful, no nonce, no `unknown` state
    const issuer_profile* issuer = nullptr;
    std::string detail;  // log-only reason for non-successful answers

    // What RFC 5019 HTTP caching may make of this answer: cacheable only when successful, without a
    // nonce (for one client) and without `unknown` (which may turn into a real status as soon as the
    // index learns the certificate); an error response must not outlive the error.
    protocol::answer_validity http_validity() const;
};

struct answer_result {
    std::vector<std::uint8_t> der;  // the OCSPResponse
    answer_metadata meta;
    std::vector<single_status> statuses;  // what was signed, one per CertID (empty unless successful)
};

// An unsigned error response: OCSPResponse with only responseStatus (RFC 6960 §4.2.1).
std::vector<std::uint8_t> error_response(ocsp_status status);

// Builds and signs the answer to a decoded request: one SingleResponse per CertID, in request order.
//  - decode errors (malformed, too_many_cert_ids) -> malformedRequest;
//  - a CertID whose issuer is not in `issuers`, or CertIDs that would need two different signers
//    -> unauthorized (RFC 6960 §2.3); response-level settings (nonce policy, validity, backdate,
//    certs) come from the first CertID's profile;
//  - bad_nonce -> malformedRequest unless that profile ignores nonces (RFC 9654 §2.1 binds responders
//    that support nonces); nonce_policy::required without a nonce -> malformedRequest;
//  - a lookup that throws sqlite::sqlite_error "busy" -> tryLater, anything else -> internalError;
//  - a key whose token cannot sign now (signer::sign: errc::unavailable, errc::overloaded) -> tryLater;
//    any other signing failure -> internalError.
// Never throws; `meta.detail` says why for the log.
answer_result answer(const decode_result& decoded, const issuer_set& issuers, const cert_lookup& lookup,
                     sys_seconds now);

// Signs a response for exactly the given CertIDs and statuses (used by answer() and by the
// pre-signing cache). `nonce` (the nonce octets) is echoed in the RFC 9654 form when present.
// producedAt = now, thisUpdate = now - backdate, nextUpdate = now + validity (at most the signer's
// notAfter). Throws std::invalid_argument when ids and statuses differ in number or are empty, and
// std::runtime_error when signing fails.
std::vector<std::uint8_t> sign_response(const issuer_profile& issuer, std::span<const requested_cert> ids,
                                        std::span<const single_status> statuses,
                                        const std::optional<bytes>& nonce, sys_seconds now,
                                        sys_seconds* out_this_update = nullptr,
                                        sys_seconds* out_next_update = nullptr);

}  // namespace ocspkit::responder
