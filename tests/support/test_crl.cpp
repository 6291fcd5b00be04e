#include "tests/support/test_crl.hpp"

#include <stdexcept>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/asn1_time.hpp"
#include "common/serial.hpp"

namespace ocspkit::test {

namespace {

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("make_crl: ") + what);
}

ossl::asn1_integer_ptr integer_of(const std::string& hex) {
    auto n = serial_number::from_hex(hex);
    check(n.has_value(), "a number that is not hex");
    return n->to_asn1();
}

ossl::asn1_time_ptr time_of(sys_seconds t) {
    ossl::asn1_time_ptr out{ASN1_TIME_set(nullptr, static_cast<time_t>(t.time_since_epoch().count()))};
    check(out != nullptr, "ASN1_TIME_set");
    return out;
}

}  // namespace

std::vector<std::uint8_t> make_crl(const issued& signer, const crl_spec& spec) {
    ossl::x509_crl_ptr crl{X509_CRL_new()};
    check(crl != nullptr, "X509_CRL_new");
    check(X509_CRL_set_version(crl.get(), spec.version1 ? X509_CRL_VERSION_1 : X509_CRL_VERSION_2) == 1, "version");
    check(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(signer.cert.get())) == 1, "issuer");
    check(X509_CRL_set1_lastUpdate(crl.get(), time_of(spec.this_update).get()) == 1, "thisUpdate");
    if (spec.next_update) check(X509_CRL_set1_nextUpdate(crl.get(), time_of(*spec.next_update).get()) == 1, "nextUpdate");
    if (!spec.version1) {
        if (spec.number_hex)
            check(X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, integer_of(*spec.number_hex).get(), 0, 0) == 1,
                  "cRLNumber");
        if (spec.delta_base_hex)
            check(X509_CRL_add1_ext_i2d(crl.get(), NID_delta_crl, integer_of(*spec.delta_base_hex).get(), 1, 0) == 1,
                  "deltaCRLIndicator");
        if (spec.authority_key_id) {
            ossl::authority_keyid_ptr akid{AUTHORITY_KEYID_new()};
            akid->keyid = ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(signer.cert.get()));
            check(akid->keyid != nullptr, "the signer has no subjectKeyIdentifier");
            check(X509_CRL_add1_ext_i2d(crl.get(), NID_authority_key_identifier, akid.get(), 0, 0) == 1, "AKI");
        }
        if (spec.indirect) {
            std::unique_ptr<ISSUING_DIST_POINT, decltype(&ISSUING_DIST_POINT_free)> idp{ISSUING_DIST_POINT_new(),
                                                                                        ISSUING_DIST_POINT_free};
            idp->indirectCRL = 1;
            check(X509_CRL_add1_ext_i2d(crl.get(), NID_issuing_distribution_point, idp.get(), 1, 0) == 1, "IDP");
        }
        if (spec.unknown_critical_extension) {
            ossl::asn1_object_ptr oid{OBJ_txt2obj("1.3.6.1.4.1.99999.7", 1)};
            ossl::asn1_octet_string_ptr value{ASN1_OCTET_STRING_new()};
            const unsigned char null_der[] = {0x05, 0x00};
            ASN1_OCTET_STRING_set(value.get(), null_der, sizeof null_der);
            ossl::x509_extension_ptr ext{X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 1, value.get())};
            check(ext && X509_CRL_add_ext(crl.get(), ext.get(), -1) == 1, "unknown extension");
        }
    }
    for (const auto& e : spec.entries) {
        ossl::x509_revoked_ptr r{X509_REVOKED_new()};
        check(X509_REVOKED_set_serialNumber(r.get(), integer_of(e.serial_hex).get()) == 1, "entry serial");
        check(X509_REVOKED_set_revocationDate(r.get(), time_of(e.revoked).get()) == 1, "revocationDate");
        if (e.reason) {
            ossl::asn1_enumerated_ptr code{ASN1_ENUMERATED_new()};
            ASN1_ENUMERATED_set(code.get(), *e.reason);
            check(X509_REVOKED_add1_ext_i2d(r.get(), NID_crl_reason, code.get(), 0, 0) == 1, "reasonCode");
        }
        if (e.invalidity) {
            auto when = to_generalized_time(*e.invalidity);
            check(X509_REVOKED_add1_ext_i2d(r.get(), NID_invalidity_date, when.get(), 0, 0) == 1, "invalidityDate");
        }
        if (e.hold_instruction) {
            ossl::asn1_object_ptr oid{OBJ_txt2obj(e.hold_instruction->c_str(), 1)};
            check(oid && X509_REVOKED_add1_ext_i2d(r.get(), NID_hold_instruction_code, oid.get(), 0, 0) == 1,
                  "holdInstructionCode");
        }
        check(X509_CRL_add0_revoked(crl.get(), r.release()) == 1, "add entry");
    }
    check(X509_CRL_sort(crl.get()) == 1, "sort");
    check(X509_CRL_sign(crl.get(), signer.key.get(), EVP_sha256()) > 0, "sign");
    if (spec.pem) {
        ossl::bio_ptr bio{BIO_new(BIO_s_mem())};
        check(bio && PEM_write_bio_X509_CRL(bio.get(), crl.get()) == 1, "PEM");
        char* data = nullptr;
        const long len = BIO_get_mem_data(bio.get(), &data);
        return {reinterpret_cast<std::uint8_t*>(data), reinterpret_cast<std::uint8_t*>(data) + len};
    }
    const int len = i2d_X509_CRL(crl.get(), nullptr);
    check(len > 0, "i2d_X509_CRL");
    std::vector<std::uint8_t> out(static_cast<std::size_t>(len));
    unsigned char* p = out.data();
    i2d_X509_CRL(crl.get(), &p);
    return out;
}

}  // namespace ocspkit::test
