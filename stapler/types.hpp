#pragma once
// The two enumerations shared by the daemon side (validate, policy) and the reader side (shm cache,
// libocspstaple). Their numeric values are stored in shared memory: never renumber, only append.
#include <cstdint>

namespace ocspkit::stapler {

// CertStatus of RFC 6960 §4.2.1; the values are the CHOICE tags.
enum class cert_status : std::uint8_t { good = 0, revoked = 1, unknown = 2 };

// What a TLS server does for a certificate; the values are the C API's OCSP_STAPLE_VERDICT_*.
enum class staple_action : std::uint8_t { staple = 0, no_staple = 1, not_servable = 2 };

}  // namespace ocspkit::stapler
