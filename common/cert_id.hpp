#pragma once
// CertID material (RFC 6960 §4.1.1): issuerNameHash is the hash of the DER of the issuer's subject
// name, issuerKeyHash the hash of the issuer's subjectPublicKey BIT STRING contents. Computed once per
// issuer so that requests are matched by comparison, never by hashing at request time.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

namespace ocspkit {

enum class hash_alg : std::uint8_t { sha1 = 0, sha256 = 1, sha384 = 2, sha512 = 3 };
inline constexpr std::array<hash_alg, 4> all_hash_algs{hash_alg::sha1, hash_alg::sha256, hash_alg::sha384,
                                                        hash_alg::sha512};

const EVP_MD* evp_md(hash_alg alg);
int hash_nid(hash_alg alg);
std::string_view hash_name(hash_alg alg);  // "sha1", "sha256", ...
std::size_t hash_size(hash_alg alg);
std::optional<hash_alg> hash_alg_from_nid(int nid);
std::optional<hash_alg> hash_alg_from_name(std::string_view name);

using bytes = std::vector<std::uint8_t>;

struct name_and_key_hash {
    bytes name_hash;
    bytes key_hash;
    friend bool operator==(const name_and_key_hash&, const name_and_key_hash&) = default;
};

// Hashes of one issuer under all four algorithms, indexed by static_cast<size_t>(hash_alg).
struct issuer_hashes {
    std::array<name_and_key_hash, 4> by_alg;
    const name_and_key_hash& operator[](hash_alg alg) const { return by_alg[static_cast<std::size_t>(alg)]; }
};

// Throws openssl_error if a digest cannot be computed.
issuer_hashes compute_issuer_hashes(X509* issuer);
bytes issuer_name_hash(X509* issuer, hash_alg alg);
bytes issuer_key_hash(X509* issuer, hash_alg alg);

// The subjectKeyIdentifier extension if present, otherwise SHA-1 of the public key (RFC 5280 method 1).
bytes subject_key_id(X509* cert);

std::string to_hex(const std::uint8_t* data, std::size_t len);
inline std::string to_hex(const bytes& b) { return to_hex(b.data(), b.size()); }

}  // namespace ocspkit
