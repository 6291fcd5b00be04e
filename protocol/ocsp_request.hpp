#pragma once
// Decoding of an OCSPRequest (RFC 6960 §4.1.1) into what the responder needs: the CertIDs and the nonce.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/cert_id.hpp"
#include "common/result.hpp"
#include "common/serial.hpp"

namespace ocspkit::protocol {

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

struct decoded_request {
    std::vector<requested_cert> certs;
    // RFC 8954/9654 id-pkix-ocsp-nonce value: the OCTET STRING contents (1..128 octets).
    std::optional<bytes> nonce;
    // The client put the nonce octets straight into extnValue, without the inner OCTET STRING (as
    // OpenSSL before 0.9.7d did). Accepted, and echoed in the same form, because clients compare the
    // echoed extnValue with the one they sent.
    bool nonce_unwrapped = false;
    bool has_signature = false;  // optionalSignature present (accepted, not verified)

    // RFC 9654 §2.1: a nonce of 0 or more than 128 octets. Decoding keeps it, and the CertIDs, instead
    // of failing: whether it matters is the nonce policy of the issuer the CertIDs name (answer.hpp).
    bool nonce_out_of_range() const noexcept;
};

// A request, or why it is refused (answered malformedRequest): errc::malformed for bytes that are not one
// DER OCSPRequest this responder can read (including one longer than request_limits::max_der_size),
// errc::out_of_range for more CertIDs than request_limits::max_cert_ids. The message is for logs only,
// never sent to the client.
using decode_result = result<decoded_request>;

decode_result decode_request(std::span<const std::uint8_t> der, const request_limits& limits = {});

}  // namespace ocspkit::protocol
