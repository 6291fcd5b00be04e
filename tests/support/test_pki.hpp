#pragma once
// Test PKI made at run time with OpenSSL APIs (house rule 12): no private keys are committed.
#include <chrono>
#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/ossl_ptr.hpp"

namespace ocspkit::test {

using sys_seconds = std::chrono::sys_seconds;

// A fixed reference time so tests do not depend on the wall clock: 2026-01-01T00:00:00Z.
inline constexpr sys_seconds reference_time{std::chrono::seconds{1767225600}};

enum class key_type { rsa2048, rsa_pss2048, ec_p256, ec_p384, ed25519 };

ossl::evp_pkey_ptr make_key(key_type type);
// "ec_p256", ...: readable names for parameterised tests; PrintTo makes GoogleTest use them too.
std::string_view to_string(key_type type);
inline void PrintTo(key_type type, std::ostream* os) { *os << to_string(type); }

struct issued {
    ossl::x509_ptr cert;
    ossl::evp_pkey_ptr key;
};

struct cert_options {
    std::string serial_hex = "01";  // any length, high bit allowed
    sys_seconds not_before = reference_time - std::chrono::hours{24};
    sys_seconds not_after = reference_time + std::chrono::hours{24 * 365};
    std::string ocsp_url{};          // AIA OCSP URL when non-empty
    bool must_staple = false;        // TLS Feature status_request (RFC 7633)
    bool ocsp_signing = false;       // extendedKeyUsage id-kp-OCSPSigning (+ id-pkix-ocsp-nocheck)
    bool is_ca = false;
    std::vector<std::string> dns_names{};  // subjectAltName DNS entries (leaf only)
    bool client_auth = false;        // extendedKeyUsage clientAuth in addition to serverAuth
};

// Self-signed CA with basicConstraints CA:TRUE, keyCertSign/cRLSign, SKI.
issued make_ca(const std::string& common_name, key_type type = key_type::ec_p256, cert_options options = {});
// A certificate issued by `issuer` (leaf by default; `options.is_ca` makes an intermediate).
issued make_cert(const issued& issuer, const std::string& common_name, key_type type = key_type::ec_p256,
                 cert_options options = {});
// Delegated OCSP signer: EKU id-kp-OCSPSigning and id-pkix-ocsp-nocheck.
issued make_ocsp_signer(const issued& issuer, const std::string& common_name, key_type type = key_type::ec_p256,
                        cert_options options = {});

void write_pem(const std::filesystem::path& file, X509* cert);            // appends nothing: overwrites
void append_pem(const std::filesystem::path& file, X509* cert);
void write_der(const std::filesystem::path& file, X509* cert);
void write_key(const std::filesystem::path& file, EVP_PKEY* key, unsigned mode = 0600);  // PKCS#8 PEM

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const noexcept { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

// Runs a shell command, returns its exit status and captured stdout (+stderr when merge_stderr).
struct command_result {
    int exit_code;
    std::string output;
};
command_result run_command(const std::string& command, bool merge_stderr = true);

}  // namespace ocspkit::test
