#pragma once
// Decoding of an OCSPRequest (RFC 6960 §4.1.1) into what the responder needs: the CertIDs and the nonce.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/cert_id.hpp"
#include "common/serial.hpp"

namespace ocspkit::responder {

struct request_limits {
    std::size_t max_cert_ids = 64;
    std::size_t max_der_size = 16 * 1024;
};

// One Request's reqCert. Hashes are as sent; `alg` is known (SHA-1/256/384/512) or the whole
// request is malformed. The serial is canonicalised (see common/serial.hpp).
struct requested_cert {
    hash_alg alg;
    bytes issuer_name_hash;
    bytes issuer_key_hash;
    serial_number serial;
    // How hashAlgorithm's parameters were encoded: NULL (OpenSSL, BouncyCastle, RFC 5019 examples) or
    // absent (Go, RFC 5754 §2). Anything else is malformed. Kept so that the response's CertID is the
    // request's byte for byte: some clients (BouncyCastle) compare CertIDs by their encoding.
    bool hash_params_null = true;
};

enum class request_error {
    none,
    malformed,         // undecodable DER, trailing bytes, bad nesting, unknown hash OID, bad hash length
    too_many_cert_ids, // more than request_limits::max_cert_ids (answered as malformedRequest)
    bad_nonce,         // RFC 9654: nonce extension present but empty or longer than 128 octets
                       // (decoded_request is still filled in, so a policy that ignores nonces can answer)
};

struct decoded_request {
    std::vector<requested_cert> certs;
    // RFC 8954/9654 id-pkix-ocsp-nonce value: the OCTET STRING contents (1..128 octets).
    std::optional<bytes> nonce;
    // The client put the nonce octets straight into extnValue, without the inner OCTET STRING (as
    // OpenSSL before 0.9.7d did). Accepted, and echoed in the same form, because clients compare the
    // echoed extnValue with the one they sent.
    bool nonce_unwrapped = false;
    bool has_signature = false;  // optionalSignature present (accepted, not verified)
};

struct decode_result {
    request_error error = request_error::none;
    std::string detail;  // for logs only, never sent to the client
    decoded_request request;
};

decode_result decode_request(std::span<const std::uint8_t> der, const request_limits& limits = {});

}  // namespace ocspkit::responder
