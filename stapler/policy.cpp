#include "stapler/policy.hpp"

#include <memory>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace ocspkit::stapler {

namespace {
struct tls_feature_deleter {
    void operator()(TLS_FEATURE* f) const noexcept { sk_ASN1_INTEGER_pop_free(f, ASN1_INTEGER_free); }
};
using tls_feature_ptr = std::unique_ptr<TLS_FEATURE, tls_feature_deleter>;
}  // namespace

std::string_view to_string(staple_policy policy) noexcept {
    switch (policy) {
    case staple_policy::soft: return "soft";
    case staple_policy::hard: return "hard";
    }
    return "invalid";
}

std::string_view to_string(staple_action action) noexcept {
    switch (action) {
    case staple_action::staple: return "staple";
    case staple_action::no_staple: return "no_staple";
    case staple_action::not_servable: return "not_servable";
    }
    return "invalid";
}

std::string_view to_string(staple_outcome outcome) noexcept {
    switch (outcome) {
    case staple_outcome::good: return "good";
    case staple_outcome::revoked: return "revoked";
    case staple_outcome::unknown: return "unknown";
    case staple_outcome::no_response: return "no_response";
    case staple_outcome::expired: return "expired";
    }
    return "invalid";
}

staple_action action_without_response(staple_policy policy, bool must_staple) noexcept {
    return (must_staple || policy == staple_policy::hard) ? staple_action::not_servable : staple_action::no_staple;
}

staple_decision decide(staple_policy policy, bool must_staple, const std::optional<validated_response>& response,
                       sys_seconds now) noexcept {
    const bool hard = must_staple || policy == staple_policy::hard;
    staple_decision d;
    if (!response || response->next_update <= now) {
        d.outcome = response ? staple_outcome::expired : staple_outcome::no_response;
        d.action = action_without_response(policy, must_staple);
        d.alert = hard;
        return d;
    }
    switch (response->status) {
    case cert_status::good:
        d.outcome = staple_outcome::good;
        d.action = staple_action::staple;
        break;
    case cert_status::revoked:
        d.outcome = staple_outcome::revoked;
        d.action = staple_action::staple;
        d.alert = true;
        break;
    case cert_status::unknown:
        d.outcome = staple_outcome::unknown;
        d.action = hard ? staple_action::not_servable : staple_action::no_staple;
        d.alert = true;
        break;
    }
    if (d.action == staple_action::staple) d.staple = response->der;
    return d;
}

bool has_must_staple(X509* cert) noexcept {
    if (cert == nullptr) return false;
    int critical = 0;
    // TLS_FEATURE is a SEQUENCE OF INTEGER (RFC 7633 §4.2); status_request is extension type 5 (RFC 6066).
    tls_feature_ptr features{static_cast<TLS_FEATURE*>(X509_get_ext_d2i(cert, NID_tlsfeature, &critical, nullptr))};
    if (!features) {
        ERR_clear_error();
        // -1: absent. Otherwise present but undecodable (or repeated): fail closed.
        return critical != -1;
    }
    for (int i = 0; i < sk_ASN1_INTEGER_num(features.get()); ++i) {
        if (ASN1_INTEGER_get(sk_ASN1_INTEGER_value(features.get(), i)) == 5) return true;
    }
    return false;
}

}  // namespace ocspkit::stapler
