#include "tests/unit/stapler/ocsp_fixtures.hpp"

#include "common/asn1_time.hpp"
#include "common/openssl_error.hpp"
#include "common/ossl_ptr.hpp"

namespace ocspkit::stapler::test {

namespace {

bytes to_der(OCSP_RESPONSE* resp) {
    const int len = i2d_OCSP_RESPONSE(resp, nullptr);
    if (len <= 0) throw openssl_error("i2d_OCSP_RESPONSE");
    bytes out(static_cast<std::size_t>(len));
    unsigned char* p = out.data();
    i2d_OCSP_RESPONSE(resp, &p);
    return out;
}

int v_status(cert_status s) {
    switch (s) {
    case cert_status::good: return V_OCSP_CERTSTATUS_GOOD;
    case cert_status::revoked: return V_OCSP_CERTSTATUS_REVOKED;
    case cert_status::unknown: return V_OCSP_CERTSTATUS_UNKNOWN;
    }
    return V_OCSP_CERTSTATUS_UNKNOWN;
}

// The key that signs decides the digest: EdDSA takes none.
const EVP_MD* digest_for(EVP_PKEY* key) {
    return EVP_PKEY_is_a(key, "ED25519") != 0 || EVP_PKEY_is_a(key, "ED448") != 0 ? nullptr : EVP_sha256();
}

// Value: DER NULL, wrapped in the extension's OCTET STRING by X509_EXTENSION_create_by_OBJ.
ossl::x509_extension_ptr make_extension(const extension_spec& spec) {
    ossl::asn1_object_ptr oid{OBJ_txt2obj(spec.oid, 1)};
    if (!oid) throw openssl_error("OBJ_txt2obj");
    ossl::asn1_octet_string_ptr value{ASN1_OCTET_STRING_new()};
    static const unsigned char der_null[] = {0x05, 0x00};
    if (!value || ASN1_OCTET_STRING_set(value.get(), der_null, sizeof der_null) != 1)
        throw openssl_error("ASN1_OCTET_STRING_set");
    ossl::x509_extension_ptr ext{X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), spec.critical ? 1 : 0, value.get())};
    if (!ext) throw openssl_error("X509_EXTENSION_create_by_OBJ");
    return ext;
}

}  // namespace

bytes make_response(const response_spec& spec) {
    ossl::ocsp_basicresp_ptr bs{OCSP_BASICRESP_new()};
    if (!bs) throw openssl_error("OCSP_BASICRESP_new");
    for (const auto& s : spec.singles) {
        ossl::ocsp_certid_ptr cid{
            OCSP_cert_to_id(s.certid_md != nullptr ? s.certid_md : EVP_sha1(), s.leaf, s.issuer)};
        if (!cid) throw openssl_error("OCSP_cert_to_id");
        auto this_update = to_generalized_time(s.this_update);
        ossl::asn1_generalizedtime_ptr next_update;
        if (s.next_update) next_update = to_generalized_time(*s.next_update);
        ossl::asn1_generalizedtime_ptr revoked_at;
        if (s.status == cert_status::revoked) revoked_at = to_generalized_time(s.revoked_at);
        OCSP_SINGLERESP* single = OCSP_basic_add1_status(bs.get(), cid.get(), v_status(s.status), s.revocation_reason,
                                                         revoked_at.get(), this_update.get(), next_update.get());
        if (single == nullptr) throw openssl_error("OCSP_basic_add1_status");
        for (const auto& e : s.extensions) {
            if (OCSP_SINGLERESP_add_ext(single, make_extension(e).get(), -1) != 1)
                throw openssl_error("OCSP_SINGLERESP_add_ext");
        }
    }
    if (spec.nonce && OCSP_basic_add1_nonce(bs.get(), const_cast<unsigned char*>(spec.nonce->data()),
                                            static_cast<int>(spec.nonce->size())) != 1) {
        throw openssl_error("OCSP_basic_add1_nonce");
    }
    for (const auto& e : spec.extensions) {
        if (OCSP_BASICRESP_add_ext(bs.get(), make_extension(e).get(), -1) != 1)
            throw openssl_error("OCSP_BASICRESP_add_ext");
    }
    unsigned long flags = 0;
    if (!spec.include_signer) flags |= OCSP_NOCERTS;
    if (spec.responder_id_by_key) flags |= OCSP_RESPID_KEY;
    if (OCSP_basic_sign(bs.get(), spec.signer, spec.key, digest_for(spec.key), nullptr, flags) != 1) {
        throw openssl_error("OCSP_basic_sign");
    }
    ossl::ocsp_response_ptr resp{OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs.get())};
    if (!resp) throw openssl_error("OCSP_response_create");
    return to_der(resp.get());
}

bytes make_error_response(int status) {
    ossl::ocsp_response_ptr resp{OCSP_response_create(status, nullptr)};
    if (!resp) throw openssl_error("OCSP_response_create");
    return to_der(resp.get());
}

}  // namespace ocspkit::stapler::test
