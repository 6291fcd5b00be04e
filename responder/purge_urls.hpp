#pragma once
// The GET URLs under which HTTP caches hold a certificate's answer, so that the responder can purge
// them when the certificate changes. Pure: no sockets, no hashing (the issuer's hashes are precomputed).
//
// A cache can only purge the URL it stored, so these are the requests a client following RFC 5019 §2.1
// sends: an OCSPRequest with one Request of one CertID, no requestorName, no requestExtensions (no
// nonce) and no signature, with the CertID hashed under SHA-1 (RFC 5019) or SHA-256 (which RFC 9919
// lets clients use instead), each AlgorithmIdentifier with NULL parameters, byte for byte what
// `openssl ocsp -issuer CA -cert C -no_nonce [-sha256]` writes. The path is
// "<server.path>/<standard base64 with padding>", not percent-encoded: the caches' keys are normalised
// to that form (nginx: proxy_cache_key $uri, the decoded path, with merge_slashes off; Varnish: '%2B',
// '%2F', '%3D' decoded in vcl_recv), so the one purge also drops what clients fetched with '+', '/' and
// '=' percent-encoded. docs/operations.md and deploy/scale-out/ show both caches so configured.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/cert_id.hpp"
#include "common/serial.hpp"

namespace ocspkit::responder {

// The hash algorithms whose requests are purged, in the order their paths are returned.
inline constexpr hash_alg purged_hash_algs[] = {hash_alg::sha1, hash_alg::sha256};

// The DER of the canonical request for one certificate (see above). `issuer` holds the issuer's name and
// key hashes under `alg`.
std::vector<std::uint8_t> canonical_request_der(hash_alg alg, const name_and_key_hash& issuer,
                                                const serial_number& serial);

// "<ocsp_path>/<base64 of request_der>"; `ocsp_path` is server.path ("/" or "/ocsp", a trailing '/'
// is not doubled).
std::string get_path(std::string_view ocsp_path, const std::vector<std::uint8_t>& request_der);

// The paths to purge for one certificate: one per algorithm of purged_hash_algs.
std::vector<std::string> purge_paths(std::string_view ocsp_path, const issuer_hashes& issuer,
                                     const serial_number& serial);

}  // namespace ocspkit::responder
