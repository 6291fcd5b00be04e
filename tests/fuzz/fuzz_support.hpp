#pragma once
// Shared by the fuzz targets: invariant checks that abort (so libFuzzer and the replay test both see a
// failure), and a run of answer() on whatever a decoder produced.
#include <cstdio>
#include <cstdlib>

#include "responder/ocsp_request.hpp"

// Not assert(): it must hold in release builds too, where the replay test runs.
#define OCSPKIT_FUZZ_CHECK(cond)                                                                 \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            std::abort();                                                                        \
        }                                                                                        \
    } while (false)

namespace ocspkit::fuzz {

// Checks what decode_request promises, then answers the request with an issuer that serves the first
// CertID's hashes (so that hostile CertIDs reach the response writer) and checks that the result is a
// DER OCSPResponse whose status matches the metadata and, when successful, whose signature verifies
// and which holds one SingleResponse per CertID.
void check_decoded_and_answer(const responder::decode_result& decoded, const responder::request_limits& limits);

}  // namespace ocspkit::fuzz
