#pragma once
// Loading certificates, keys and CA bundles from files, PEM or DER. Failures throw load_error whose
// message names the file; these run at start-up and in the CLI, never on a request path.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/ossl_ptr.hpp"

namespace ocspkit {

class load_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The first certificate of a PEM or DER file.
ossl::x509_ptr load_certificate(const std::filesystem::path& file);
// Every certificate of a PEM file (a chain or bundle), or the single one of a DER file. Empty files fail.
std::vector<ossl::x509_ptr> load_certificates(const std::filesystem::path& file);
// Certificates parsed from memory (PEM or DER).
std::vector<ossl::x509_ptr> parse_certificates(const std::string& data, const std::string& origin);

struct key_file_policy {
    // A private key others can read or write is always refused, and one its group can write or execute
    // (like ssh does). Group read (0640) is allowed only when this is set: a key shared with a service
    // group on purpose (the responder's `allow_group_readable_key`).
    bool allow_group_readable = false;
};
// Why a key file with these permission bits must not be used, with the chmod that fixes it, or "" when
// the mode is acceptable. `owner`/`group` are the names shown in the message. Pure, for tests and
// --check-config alike.
std::string key_mode_problem(const std::filesystem::path& file, unsigned mode, std::string_view owner,
                             std::string_view group, key_file_policy policy);
// PEM (PKCS#8, traditional RSA/EC) or DER private key; unencrypted. The mode check runs on the opened
// descriptor, before a byte is read.
ossl::evp_pkey_ptr load_private_key(const std::filesystem::path& file, key_file_policy policy = {});

// A trust store from a file holding one or more CA certificates.
ossl::x509_store_ptr load_ca_bundle(const std::filesystem::path& file);

std::string read_file(const std::filesystem::path& file);  // throws load_error
std::vector<std::uint8_t> der_of(X509* cert);
std::string subject_oneline(X509* cert);  // "/C=../CN=.." as index.txt stores it
std::string subject_rfc2253(X509* cert);
std::string name_rfc2253(const X509_NAME* name);

}  // namespace ocspkit
