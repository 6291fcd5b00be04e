#pragma once
// Shared helpers for the responder unit tests: a lazily made PKI (one CA and one delegated signer per
// key type, made at most once per process because RSA key generation is slow), OCSP request builders
// (through OpenSSL, and raw DER for inputs OpenSSL would never write), and response inspection.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <openssl/ocsp.h>

#include "common/cert_id.hpp"
#include "common/ossl_ptr.hpp"
#include "responder/answer.hpp"
#include "responder/signer.hpp"
#include "schema/cert_index.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::responder::test_util {

using ocspkit::test::issued;
using ocspkit::test::key_type;
using ocspkit::test::reference_time;

std::string key_type_name(key_type t);
inline constexpr key_type all_key_types[] = {key_type::rsa2048, key_type::rsa_pss2048, key_type::ec_p256,
                                             key_type::ec_p384, key_type::ed25519};

// A self-signed CA whose key is of type `t` ("CA <type>").
const issued& ca_of(key_type t);
// A delegated OCSP signer of key type `t`, issued by ca_of(key_type::ec_p256).
const issued& delegate_of(key_type t);
// The default CA of most tests, and an unrelated CA that no profile serves.
inline const issued& main_ca() { return ca_of(key_type::ec_p256); }
const issued& stranger_ca();

ossl::x509_ptr copy_cert(X509* cert);
ossl::evp_pkey_ptr copy_key(EVP_PKEY* key);

std::shared_ptr<const signer> ca_signer(const issued& ca, responder_id_form form = responder_id_form::by_key_hash,
                                        rsa_padding padding = rsa_padding::pkcs1);
std::shared_ptr<const signer> delegated_signer(const issued& ca, const issued& delegate,
                                               responder_id_form form = responder_id_form::by_key_hash,
                                               rsa_padding padding = rsa_padding::pkcs1);
issuer_profile make_profile(const issued& ca, std::shared_ptr<const signer> s, std::int64_t id = 1);

// --- requests built through OpenSSL ---
struct cert_spec {
    X509* issuer;
    std::string serial_hex;  // BN_hex2bn syntax; "-01" makes a negative serial
    hash_alg alg = hash_alg::sha1;
};
enum class nonce_form { wrapped, raw };
struct request_spec {
    std::vector<cert_spec> certs = {};
    std::optional<bytes> nonce = std::nullopt;
    nonce_form form = nonce_form::wrapped;
    bool sign = false;  // add an optionalSignature (made with the main CA's key)
};
bytes make_request_der(const request_spec& spec);
bytes filled(std::size_t n, std::uint8_t first = 1);  // n octets first, first+1, ...

// --- raw DER for requests OpenSSL would not produce ---
bytes tlv(std::uint8_t tag, const bytes& content);
bytes cat(std::initializer_list<bytes> parts);
bytes oid_der(const char* dotted);
bytes raw_cert_id(const bytes& alg_identifier, const bytes& name_hash, const bytes& key_hash, const bytes& serial_int);
bytes raw_request(const std::vector<bytes>& cert_ids, const std::optional<bytes>& request_extensions = std::nullopt);

// --- responses ---
struct parsed_response {
    ossl::ocsp_response_ptr response;
    ossl::ocsp_basicresp_ptr basic;  // null unless successful
    int status = -1;
};
parsed_response parse_response(const bytes& der);  // throws std::runtime_error if not an OCSPResponse
// OCSP_basic_verify against a store that holds `ca`, at the reference time, with `ca` (and
// `extra_certs`) offered as candidate signers. Returns 1 on success.
int certificate_count(OCSP_BASICRESP* basic);  // 0 when the response has no `certs`
int verify_with_ca(OCSP_BASICRESP* basic, X509* ca, STACK_OF(X509)* extra_certs = nullptr, unsigned long flags = 0);
sys_seconds to_sys(const ASN1_GENERALIZEDTIME* t);

// An in-memory index: (issuer id, serial) -> row.
class fake_index {
public:
    void add(std::int64_t issuer_id, schema::cert_record row);
    void add_good(std::int64_t issuer_id, const std::string& serial_hex);
    void add_revoked(std::int64_t issuer_id, const std::string& serial_hex, sys_seconds when,
                     std::optional<schema::revocation_reason> reason);
    cert_lookup lookup() const;
    int lookups() const noexcept { return *lookups_; }

private:
    std::map<std::pair<std::int64_t, std::string>, schema::cert_record> rows_;
    std::shared_ptr<int> lookups_ = std::make_shared<int>(0);
};

serial_number serial(const std::string& hex);

// Locations of the tools and scripts the external-verifier tests run (set by CMake).
std::string python_interpreter();
std::string openssl_cli();
std::filesystem::path cryptography_script();

}  // namespace ocspkit::responder::test_util
