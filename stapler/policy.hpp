#pragma once
// Whether to staple is a pure function of (policy, must-staple, response, now) (house rule 11). The
// daemon calls decide() when it publishes an entry; the TLS-side library only copies what was decided.
//
//   response                     soft policy           hard policy (or Must-Staple)
//   usable, good                 staple                staple
//   usable, revoked              staple + alert        staple + alert
//   usable, unknown              no staple + alert     not servable + alert
//   none / expired / invalid     no staple             not servable + alert
//
// Revoked is stapled: the client learns the truth at once, and the handshake failing on the client's
// side is the intended outcome. Unknown is never stapled because a client may treat it as revoked while
// it only means the responder does not know the certificate (a misconfiguration worth an alert).
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <openssl/x509.h>

#include "stapler/validate.hpp"

namespace ocspkit::stapler {

enum class staple_policy : std::uint8_t { soft = 0, hard = 1 };
std::string_view to_string(staple_policy policy) noexcept;

std::string_view to_string(staple_action action) noexcept;

// One counter per outcome: why the action was chosen.
enum class staple_outcome : std::uint8_t { good = 0, revoked = 1, unknown = 2, no_response = 3, expired = 4 };
inline constexpr std::size_t staple_outcome_count = 5;
std::string_view to_string(staple_outcome outcome) noexcept;

struct staple_decision {
    staple_action action = staple_action::no_staple;
    staple_outcome outcome = staple_outcome::no_response;
    bool alert = false;                   // revoked, unknown, or a certificate that cannot be served
    std::span<const std::uint8_t> staple;  // the response's bytes iff action == staple; borrowed from it
};

// Must-Staple (RFC 7633) makes the policy hard regardless of `policy`. A response whose nextUpdate is
// not later than `now` counts as no response: it may have been validated long ago.
staple_decision decide(staple_policy policy, bool must_staple, const std::optional<validated_response>& response,
                       sys_seconds now) noexcept;

// The action once the stored response has expired and nothing replaced it: what decide() returns
// without a response. Stored next to each shm entry so that readers degrade safely if the daemon dies.
staple_action action_without_response(staple_policy policy, bool must_staple) noexcept;

// True if the certificate has the TLS Feature extension (RFC 7633 §4, id-pe-tlsfeature) listing
// status_request(5). An extension that is present but cannot be decoded counts as Must-Staple, so that
// a damaged certificate fails closed. `cert` is borrowed; null yields false.
bool has_must_staple(X509* cert) noexcept;

}  // namespace ocspkit::stapler
