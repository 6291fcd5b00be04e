#pragma once
// Checking client certificates from the client cache: the one home for what the stapler's OCSP proxy
// publishes and what libocspstaple's verify callback (ocsp_client_check_install) reads.
// docs/stapler.md, "Checking client certificates", has the operator's view.
//
// The client cache is a staple-cache file of its own (shm_layout.hpp), written only by the proxy:
//   key     SHA-256 over client_key_tag, the SHA-1 hash of the issuer's public key (a CertID's
//           issuerKeyHash) and the DER of the serial INTEGER. A verify callback computes it from the
//           verified chain, the proxy from any CertID it caches whatever that CertID's hash algorithm,
//           because the proxy knows the issuer certificate.
//   entry   status, thisUpdate, nextUpdate and the validated DER response. Action `staple` while the
//           response is valid; once it has expired, `not_servable` for a permanent revocation (every
//           reason but certificateHold, so a revoked client stays refused when the daemon is gone) and
//           `no_staple` (no usable answer) otherwise.
// A miss reaches the proxy as one unix datagram (encode_client_miss) sent without blocking to the
// socket "<client cache path>.misses"; the proxy fetches, publishes, and a later handshake finds it.
// Nothing here blocks, allocates or throws: it runs inside TLS handshakes.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "stapler/shm_layout.hpp"
#include "stapler/shm_reader.hpp"

namespace ocspkit::stapler {

using sha1_digest = std::array<std::uint8_t, 20>;

// Domain separation: a client key can never equal a staple key (SHA-256 of a certificate's DER).
inline constexpr std::string_view client_key_tag{"ocspkit client certificate v1", 30};  // with its NUL

// The key of (issuer, serial). `sha256` may be null (then OpenSSL looks SHA-256 up). nullopt when the
// serial is missing or longer than client_max_serial_der, or the digest fails.
std::optional<cache_key> client_cache_key(const sha1_digest& issuer_key_sha1, const ASN1_INTEGER* serial,
                                          const EVP_MD* sha256) noexcept;
// SHA-1 of the issuer's subjectPublicKey BIT STRING contents and of its subject name's DER: the
// issuerKeyHash and issuerNameHash of a SHA-1 CertID (RFC 6960 §4.1.1). `sha1` may be null.
std::optional<sha1_digest> issuer_key_sha1(X509* issuer, const EVP_MD* sha1) noexcept;
std::optional<sha1_digest> issuer_name_sha1(X509* issuer, const EVP_MD* sha1) noexcept;

// What the cache says about one certificate.
enum class client_answer : std::uint8_t {
    good,     // a valid signed `good`
    revoked,  // a valid signed `revoked`, or an expired permanent revocation
    unknown,  // a valid signed `unknown`: the responder does not know the certificate
    none,     // no usable answer: missing, expired, being rewritten, or the cache is unusable
};
client_answer client_answer_of(const std::error_code& lookup_error, const lookup_result& r) noexcept;

// What to do when there is no usable answer; the values are the C API's OCSP_CLIENT_POLICY_*.
enum class client_policy : std::uint8_t { hard = 0, soft = 1, warn_only = 2 };

enum class client_verdict : std::uint8_t {
    accept,            // good, or no answer under soft / warn-only
    refuse_revoked,    // the certificate_revoked alert
    refuse_unknown,    // the responder does not know it: refused under every policy, like Apache and nginx
    refuse_no_answer,  // no answer under hard
};
client_verdict decide(client_answer answer, client_policy policy) noexcept;

// The published entry for a validated answer (see above); `permanent` is false for certificateHold.
struct client_entry_actions {
    staple_action action;
    staple_action action_when_expired;
};
inline client_entry_actions client_actions(cert_status status, bool permanent_revocation) noexcept {
    const bool sticky = status == cert_status::revoked && permanent_revocation;
    return {staple_action::staple, sticky ? staple_action::not_servable : staple_action::no_staple};
}

// The miss datagram: magic, version, issuerNameHash and issuerKeyHash (SHA-1), then the serial's DER.
inline constexpr std::array<std::uint8_t, 8> client_miss_magic{'O', 'C', 'S', 'P', 'M', 'I', 'S', 'S'};
inline constexpr std::uint8_t client_miss_version = 1;
inline constexpr std::size_t client_miss_header_size = client_miss_magic.size() + 1 + 2 * sizeof(sha1_digest);
// An INTEGER of up to 64 octets: RFC 5280 allows 20, some CAs exceed it, nothing sane needs more.
inline constexpr std::size_t client_max_serial_der = 2 + 64;
inline constexpr std::size_t client_miss_max_size = client_miss_header_size + client_max_serial_der;
inline constexpr std::string_view client_miss_socket_suffix = ".misses";

// Writes the datagram into `out`; its size, or 0 when the serial does not fit.
std::size_t encode_client_miss(const sha1_digest& issuer_name_sha1, const sha1_digest& issuer_key_sha1,
                               const ASN1_INTEGER* serial, std::span<std::uint8_t, client_miss_max_size> out) noexcept;

}  // namespace ocspkit::stapler
