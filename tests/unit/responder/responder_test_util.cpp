#include "tests/unit/responder/responder_test_util.hpp"

#include <mutex>
#include <stdexcept>

#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/x509_vfy.h>

#include <fmt/format.h>

#include "common/asn1_time.hpp"
#include "common/openssl_error.hpp"

namespace ocspkit::responder::test_util {

namespace {

void check(int ok, const char* what) {
    if (ok <= 0) throw openssl_error(what);
}

template <class Make>
const issued& cached(std::map<key_type, issued>& cache, key_type t, Make&& make) {
    // Tests run on one thread, but a mutex costs nothing and keeps the helper honest.
    static std::mutex m;
    std::lock_guard lock(m);
    auto it = cache.find(t);
    if (it == cache.end()) it = cache.emplace(t, make()).first;
    return it->second;
}

ossl::asn1_integer_ptr integer_from_hex(const std::string& hex) {
    BIGNUM* raw = nullptr;
    if (BN_hex2bn(&raw, hex.c_str()) == 0) throw std::invalid_argument("bad serial hex " + hex);
    ossl::bignum_ptr bn{raw};
    ossl::asn1_integer_ptr out{BN_to_ASN1_INTEGER(bn.get(), nullptr)};
    if (!out) throw openssl_error("BN_to_ASN1_INTEGER");
    return out;
}

}  // namespace

std::string key_type_name(key_type t) {
    switch (t) {
        case key_type::rsa2048: return "rsa2048";
        case key_type::rsa_pss2048: return "rsa_pss2048";
        case key_type::ec_p256: return "ec_p256";
        case key_type::ec_p384: return "ec_p384";
        case key_type::ed25519: return "ed25519";
    }
    return "?";
}

const issued& ca_of(key_type t) {
    static std::map<key_type, issued> cache;
    return cached(cache, t, [t] { return ocspkit::test::make_ca("CA " + key_type_name(t), t); });
}

const issued& delegate_of(key_type t) {
    static std::map<key_type, issued> cache;
    return cached(cache, t, [t] {
        return ocspkit::test::make_ocsp_signer(main_ca(), "OCSP signer " + key_type_name(t), t);
    });
}

const issued& stranger_ca() {
    static const issued ca = ocspkit::test::make_ca("Stranger CA", key_type::ec_p256);
    return ca;
}

ossl::x509_ptr copy_cert(X509* cert) { return ossl::up_ref(cert); }
ossl::evp_pkey_ptr copy_key(EVP_PKEY* key) { return ossl::up_ref(key); }

std::shared_ptr<const signer> ca_signer(const issued& ca, responder_id_form form, rsa_padding padding) {
    return signer::from_parts(copy_cert(ca.cert.get()), copy_key(ca.key.get()), copy_cert(ca.cert.get()), form,
                              padding);
}

std::shared_ptr<const signer> delegated_signer(const issued& ca, const issued& delegate, responder_id_form form,
                                               rsa_padding padding) {
    return signer::from_parts(copy_cert(delegate.cert.get()), copy_key(delegate.key.get()), copy_cert(ca.cert.get()),
                              form, padding);
}

issuer_profile make_profile(const issued& ca, std::shared_ptr<const signer> s, std::int64_t id) {
    issuer_profile p;
    p.issuer_id = id;
    p.name = fmt::format("issuer{}", id);
    p.hashes = compute_issuer_hashes(ca.cert.get());
    p.signing = std::move(s);
    return p;
}

bytes filled(std::size_t n, std::uint8_t first) {
    bytes out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(first + i);
    return out;
}

bytes make_request_der(const request_spec& spec) {
    ossl::ocsp_request_ptr req{OCSP_REQUEST_new()};
    if (!req) throw openssl_error("OCSP_REQUEST_new");
    for (const auto& c : spec.certs) {
        const auto serial = integer_from_hex(c.serial_hex);
        ossl::ocsp_certid_ptr id{OCSP_cert_id_new(evp_md(c.alg), X509_get_subject_name(c.issuer),
                                                  X509_get0_pubkey_bitstr(c.issuer), serial.get())};
        if (!id) throw openssl_error("OCSP_cert_id_new");
        // add0 takes the CertID on success.
        if (OCSP_request_add0_id(req.get(), id.get()) == nullptr) throw openssl_error("OCSP_request_add0_id");
        (void)id.release();
    }
    if (spec.nonce) {
        // Built by hand rather than with OCSP_request_add1_nonce, which turns a 0-octet nonce into a
        // random 16-octet one and cannot write the raw form.
        const bytes value = spec.form == nonce_form::wrapped ? tlv(0x04, *spec.nonce) : *spec.nonce;
        ossl::asn1_octet_string_ptr os{ASN1_OCTET_STRING_new()};
        check(os != nullptr, "ASN1_OCTET_STRING_new");
        check(ASN1_OCTET_STRING_set(os.get(), value.data(), static_cast<int>(value.size())), "ASN1_OCTET_STRING_set");
        ossl::x509_extension_ptr ext{X509_EXTENSION_create_by_NID(nullptr, NID_id_pkix_OCSP_Nonce, 0, os.get())};
        check(ext != nullptr, "X509_EXTENSION_create_by_NID");
        check(OCSP_REQUEST_add_ext(req.get(), ext.get(), -1), "OCSP_REQUEST_add_ext");
    }
    if (spec.sign) {
        const auto& ca = main_ca();
        check(OCSP_request_sign(req.get(), ca.cert.get(), ca.key.get(), EVP_sha256(), nullptr, 0), "OCSP_request_sign");
    }
    unsigned char* out = nullptr;
    const int len = i2d_OCSP_REQUEST(req.get(), &out);
    check(len, "i2d_OCSP_REQUEST");
    bytes der(out, out + len);
    OPENSSL_free(out);
    return der;
}

bytes tlv(std::uint8_t tag, const bytes& content) {
    bytes out{tag};
    const std::size_t len = content.size();
    if (len < 0x80) {
        out.push_back(static_cast<std::uint8_t>(len));
    } else {
        bytes n;
        for (std::size_t v = len; v != 0; v >>= 8) n.insert(n.begin(), static_cast<std::uint8_t>(v));
        out.push_back(static_cast<std::uint8_t>(0x80 | n.size()));
        out.insert(out.end(), n.begin(), n.end());
    }
    out.insert(out.end(), content.begin(), content.end());
    return out;
}

bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

bytes oid_der(const char* dotted) {
    ossl::asn1_object_ptr obj{OBJ_txt2obj(dotted, 1)};
    if (!obj) throw openssl_error(std::string("OBJ_txt2obj ") + dotted);
    const unsigned char* p = OBJ_get0_data(obj.get());
    return tlv(0x06, bytes(p, p + OBJ_length(obj.get())));
}

bytes raw_cert_id(const bytes& alg_identifier, const bytes& name_hash, const bytes& key_hash, const bytes& serial_int) {
    return tlv(0x30, cat({alg_identifier, tlv(0x04, name_hash), tlv(0x04, key_hash), tlv(0x02, serial_int)}));
}

bytes raw_request(const std::vector<bytes>& cert_ids, const std::optional<bytes>& request_extensions) {
    // OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, ... }
    // TBSRequest ::= SEQUENCE { requestList SEQUENCE OF Request, requestExtensions [2] EXPLICIT Extensions OPTIONAL }
    // Request ::= SEQUENCE { reqCert CertID }
    bytes list;
    for (const auto& id : cert_ids) {
        const bytes one = tlv(0x30, id);
        list.insert(list.end(), one.begin(), one.end());
    }
    bytes tbs = tlv(0x30, list);
    if (request_extensions) tbs = cat({tbs, tlv(0xA2, *request_extensions)});
    return tlv(0x30, tlv(0x30, tbs));
}

parsed_response parse_response(const bytes& der) {
    parsed_response out;
    const unsigned char* p = der.data();
    out.response.reset(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
    if (!out.response || p != der.data() + der.size()) throw std::runtime_error("not an OCSPResponse: " + drain_openssl_errors());
    out.status = OCSP_response_status(out.response.get());
    if (out.status == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        out.basic.reset(OCSP_response_get1_basic(out.response.get()));
        if (!out.basic) throw openssl_error("OCSP_response_get1_basic");
    }
    return out;
}

int verify_with_ca(OCSP_BASICRESP* basic, X509* ca, STACK_OF(X509)* extra_certs, unsigned long flags) {
    ossl::x509_store_ptr store{X509_STORE_new()};
    check(store != nullptr, "X509_STORE_new");
    check(X509_STORE_add_cert(store.get(), ca), "X509_STORE_add_cert");
    // The signer's chain is checked at the reference time, not the wall clock.
    X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store.get()),
                               static_cast<time_t>(reference_time.time_since_epoch().count()));
    // A client knows the CA it asks about and offers it as a candidate signer: a CA-signed response
    // carries no certificates (RFC 6960 §4.2.2.2), and OCSP_basic_verify looks for the signer only
    // among `certs` and the response's own certificates, never in the store.
    ossl::x509_stack_ptr certs{sk_X509_new_null()};
    check(certs != nullptr, "sk_X509_new_null");
    check(sk_X509_push(certs.get(), ossl::up_ref(ca).release()), "sk_X509_push");
    for (int i = 0; extra_certs != nullptr && i < sk_X509_num(extra_certs); ++i)
        check(sk_X509_push(certs.get(), ossl::up_ref(sk_X509_value(extra_certs, i)).release()), "sk_X509_push");
    return OCSP_basic_verify(basic, certs.get(), store.get(), flags);
}

int certificate_count(OCSP_BASICRESP* basic) {
    const STACK_OF(X509)* certs = OCSP_resp_get0_certs(basic);
    return certs == nullptr ? 0 : sk_X509_num(certs);
}

sys_seconds to_sys(const ASN1_GENERALIZEDTIME* t) {
    const auto v = from_asn1_time(t);
    if (!v) throw std::runtime_error("unreadable time");
    return *v;
}

void fake_index::add(std::int64_t issuer_id, schema::cert_record row) {
    row.issuer_id = issuer_id;
    rows_.insert_or_assign({issuer_id, row.serial.to_hex()}, std::move(row));
}

void fake_index::add_good(std::int64_t issuer_id, const std::string& serial_hex) {
    schema::cert_record row;
    row.serial = serial(serial_hex);
    row.not_after = reference_time + std::chrono::hours{24 * 90};
    add(issuer_id, std::move(row));
}

void fake_index::add_revoked(std::int64_t issuer_id, const std::string& serial_hex, sys_seconds when,
                             std::optional<schema::revocation_reason> reason) {
    schema::cert_record row;
    row.serial = serial(serial_hex);
    row.not_after = reference_time + std::chrono::hours{24 * 90};
    row.status = schema::cert_status::revoked;
    row.revocation_time = when;
    row.reason = reason;
    add(issuer_id, std::move(row));
}

cert_lookup fake_index::lookup() const {
    return [this](std::int64_t issuer_id, const serial_number& s) -> std::optional<schema::cert_record> {
        ++*lookups_;
        const auto it = rows_.find({issuer_id, s.to_hex()});
        if (it == rows_.end()) return std::nullopt;
        return it->second;
    };
}

serial_number serial(const std::string& hex) {
    auto s = serial_number::from_hex(hex);
    if (!s) throw std::invalid_argument("bad serial " + hex + ": " + s.error_message());
    return *s;
}

std::string python_interpreter() { return OCSPKIT_TEST_PYTHON; }
std::string openssl_cli() { return OCSPKIT_TEST_OPENSSL; }
std::filesystem::path cryptography_script() { return OCSPKIT_TEST_CRYPTOGRAPHY_SCRIPT; }

}  // namespace ocspkit::responder::test_util
