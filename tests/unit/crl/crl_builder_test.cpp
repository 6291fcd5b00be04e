// crl_builder: a CRL built from index rows is parsed back with OpenSSL (d2i_X509_CRL) and every field
// checked: version, issuer, signature (for each key type), thisUpdate/nextUpdate, cRLNumber,
// authorityKeyIdentifier, expiredCertsOnCRL, and each entry's serial, revocation date, reason code and
// invalidity date; which rows are listed (good, held, unspecified, expired within and past the grace);
// OpenSSL's chain verification with CRL checking refusing a revoked certificate and accepting a good
// one; and the refusals, as a table.
#include "crl/crl_builder.hpp"

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/asn1_time.hpp"
#include "common/cert_id.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::crl {
namespace {

using namespace std::chrono_literals;
using schema::cert_record;
using schema::cert_status;
using schema::revocation_reason;
using test::key_type;
const sys_seconds t0 = test::reference_time;

cert_record row(const std::string& hex, cert_status status, std::optional<sys_seconds> revoked = std::nullopt,
                std::optional<revocation_reason> reason = std::nullopt) {
    cert_record r;
    r.issuer_id = 1;
    r.serial = *serial_number::from_hex(hex);
    r.not_before = t0 - 24h * 30;
    r.not_after = t0 + 24h * 365;
    r.status = status;
    r.revocation_time = revoked;
    r.reason = reason;
    return r;
}

crl_signer signer_for(const test::issued& ca) {
    auto s = crl_signer::make(ossl::up_ref(ca.cert.get()), ossl::up_ref(ca.key.get()), false, "ca", "key");
    EXPECT_TRUE(s.has_value()) << s.error_message();
    return std::move(s).value();
}

ossl::x509_crl_ptr parse(const bytes& der) {
    const unsigned char* p = der.data();
    ossl::x509_crl_ptr crl{d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size()))};
    EXPECT_TRUE(crl) << "d2i_X509_CRL refused the CRL";
    EXPECT_EQ(p, der.data() + der.size()) << "trailing bytes after the CRL";
    return crl;
}

// The entry for `hex`, or null.
X509_REVOKED* entry(X509_CRL* crl, const std::string& hex) {
    STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl);
    for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
        X509_REVOKED* e = sk_X509_REVOKED_value(entries, i);
        if (serial_number::from_asn1(X509_REVOKED_get0_serialNumber(e))->to_hex() == hex) return e;
    }
    return nullptr;
}

std::optional<long> reason_of(X509_REVOKED* e) {
    int crit = 0;
    std::unique_ptr<ASN1_ENUMERATED, ossl::deleter<ASN1_ENUMERATED_free>> code{
        static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(e, NID_crl_reason, &crit, nullptr))};
    if (!code) return std::nullopt;
    EXPECT_EQ(crit, 0) << "reasonCode is non-critical (RFC 5280 §5.3.1)";
    return ASN1_ENUMERATED_get(code.get());
}

std::optional<sys_seconds> invalidity_of(X509_REVOKED* e) {
    std::unique_ptr<ASN1_GENERALIZEDTIME, ossl::deleter<ASN1_GENERALIZEDTIME_free>> t{
        static_cast<ASN1_GENERALIZEDTIME*>(X509_REVOKED_get_ext_d2i(e, NID_invalidity_date, nullptr, nullptr))};
    if (!t) return std::nullopt;
    EXPECT_EQ(ASN1_STRING_type(t.get()), V_ASN1_GENERALIZEDTIME) << "RFC 5280 §5.3.2";
    return from_asn1_time(t.get());
}

std::optional<sys_seconds> expired_certs_on_crl_of(X509_CRL* crl) {
    ossl::asn1_object_ptr oid{OBJ_txt2obj("2.5.29.60", 1)};
    const int at = X509_CRL_get_ext_by_OBJ(crl, oid.get(), -1);
    if (at < 0) return std::nullopt;
    const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(X509_CRL_get_ext(crl, at));
    const unsigned char* p = ASN1_STRING_get0_data(value);
    std::unique_ptr<ASN1_GENERALIZEDTIME, ossl::deleter<ASN1_GENERALIZEDTIME_free>> t{
        d2i_ASN1_GENERALIZEDTIME(nullptr, &p, ASN1_STRING_length(value))};
    if (!t) return std::nullopt;
    return from_asn1_time(t.get());
}

class crl_keys : public testing::TestWithParam<key_type> {};

TEST_P(crl_keys, every_field_parses_back_and_the_signature_verifies) {
    const auto ca = test::make_ca("CRL Test CA", GetParam());
    const auto signer = signer_for(ca);
    crl_policy policy{24h, 24h * 30};
    auto key_compromise = row("1001", cert_status::revoked, t0 - 3h, revocation_reason::key_compromise);
    key_compromise.invalidity_date = t0 - 48h;
    const std::vector<cert_record> rows{
        key_compromise,
        row("1002", cert_status::revoked, t0 - 2h, revocation_reason::unspecified),
        row("1003", cert_status::revoked, t0 - 1h),  // no reason code at all
        row("1004", cert_status::hold, t0 - 30min, revocation_reason::certificate_hold),
        row("1005", cert_status::good),
        row("FF1006", cert_status::revoked, t0 - 4h, revocation_reason::superseded),
    };
    auto built = build_crl(signer, policy, 42, t0, rows);
    ASSERT_TRUE(built.has_value()) << built.error_message();
    EXPECT_EQ(built->number, 42);
    EXPECT_EQ(built->entries, 5u);
    EXPECT_EQ(built->next_update, t0 + 24h);
    const auto crl = parse(built->der);
    ASSERT_TRUE(crl);

    EXPECT_EQ(X509_CRL_get_version(crl.get()), X509_CRL_VERSION_2);
    EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.cert.get())), 0);
    EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.cert.get())), 1) << "signature by the CA key";
    EXPECT_EQ(from_asn1_time(X509_CRL_get0_lastUpdate(crl.get())), t0);
    EXPECT_EQ(from_asn1_time(X509_CRL_get0_nextUpdate(crl.get())), t0 + 24h);
    EXPECT_EQ(ASN1_STRING_type(X509_CRL_get0_lastUpdate(crl.get())), V_ASN1_UTCTIME) << "before 2050: UTCTime";

    int crit = -1;
    ossl::asn1_integer_ptr number{static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, &crit, nullptr))};
    ASSERT_TRUE(number);
    EXPECT_EQ(ASN1_INTEGER_get(number.get()), 42);
    EXPECT_EQ(crit, 0) << "cRLNumber is non-critical (RFC 5280 §5.2.3)";
    ossl::authority_keyid_ptr aki{
        static_cast<AUTHORITY_KEYID*>(X509_CRL_get_ext_d2i(crl.get(), NID_authority_key_identifier, &crit, nullptr))};
    ASSERT_TRUE(aki);
    ASSERT_NE(aki->keyid, nullptr);
    const bytes key_id(aki->keyid->data, aki->keyid->data + aki->keyid->length);
    EXPECT_EQ(key_id, subject_key_id(ca.cert.get()));
    EXPECT_EQ(aki->issuer, nullptr);
    EXPECT_EQ(expired_certs_on_crl_of(crl.get()), t0 - 24h * 30);

    EXPECT_EQ(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl.get())), 5);
    auto* kc = entry(crl.get(), "1001");
    ASSERT_NE(kc, nullptr);
    EXPECT_EQ(from_asn1_time(X509_REVOKED_get0_revocationDate(kc)), t0 - 3h);
    EXPECT_EQ(reason_of(kc), 1);
    EXPECT_EQ(invalidity_of(kc), t0 - 48h);
    auto* unspecified = entry(crl.get(), "1002");
    ASSERT_NE(unspecified, nullptr);
    EXPECT_EQ(reason_of(unspecified), std::nullopt) << "unspecified is left out (RFC 5280 §5.3.1)";
    auto* none = entry(crl.get(), "1003");
    ASSERT_NE(none, nullptr);
    EXPECT_EQ(reason_of(none), std::nullopt);
    EXPECT_EQ(invalidity_of(none), std::nullopt);
    auto* hold = entry(crl.get(), "1004");
    ASSERT_NE(hold, nullptr);
    EXPECT_EQ(reason_of(hold), 6) << "certificateHold";
    EXPECT_EQ(from_asn1_time(X509_REVOKED_get0_revocationDate(hold)), t0 - 30min);
    EXPECT_EQ(entry(crl.get(), "1005"), nullptr) << "a good certificate is not listed";
    auto* big = entry(crl.get(), "FF1006");
    ASSERT_NE(big, nullptr) << "a serial with its high bit set";
    EXPECT_EQ(reason_of(big), 4);
}

INSTANTIATE_TEST_SUITE_P(keys, crl_keys,
                         testing::Values(key_type::rsa2048, key_type::rsa_pss2048, key_type::ec_p256, key_type::ec_p384,
                                         key_type::ed25519),
                         [](const testing::TestParamInfo<key_type>& p) { return std::string(test::to_string(p.param)); });

TEST(crl_builder, rsa_pss_signature_when_asked) {
    const auto ca = test::make_ca("PSS CA", key_type::rsa2048);
    auto signer = crl_signer::make(ossl::up_ref(ca.cert.get()), ossl::up_ref(ca.key.get()), true, "ca", "key");
    ASSERT_TRUE(signer.has_value()) << signer.error_message();
    auto built = build_crl(*signer, {}, 1, t0, {});
    ASSERT_TRUE(built.has_value()) << built.error_message();
    const auto crl = parse(built->der);
    EXPECT_EQ(X509_CRL_get_signature_nid(crl.get()), NID_rsassaPss);
    EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.cert.get())), 1);
    EXPECT_EQ(X509_CRL_get_REVOKED(crl.get()), nullptr)
        << "without entries revokedCertificates is absent (RFC 5280 §5.1.2.6)";
}

TEST(crl_builder, expired_certificates_leave_after_the_grace_or_stay_with_keep) {
    const auto ca = test::make_ca("Expiry CA");
    const auto signer = signer_for(ca);
    auto expired_long_ago = row("2001", cert_status::revoked, t0 - 24h * 100, revocation_reason::superseded);
    expired_long_ago.not_after = t0 - 24h * 31;  // past a 30-day grace
    auto expired_lately = row("2002", cert_status::revoked, t0 - 24h * 100, revocation_reason::superseded);
    expired_lately.not_after = t0 - 24h * 29;  // within it
    auto no_expiry = row("2003", cert_status::revoked, t0 - 24h, revocation_reason::key_compromise);
    no_expiry.not_after.reset();  // unknown: listed
    auto at_boundary = row("2004", cert_status::hold, t0 - 24h, revocation_reason::certificate_hold);
    at_boundary.not_after = t0 - 24h * 30;  // exactly expiredCertsOnCRL: listed
    const std::vector<cert_record> rows{expired_long_ago, expired_lately, no_expiry, at_boundary};

    auto grace = build_crl(signer, {24h, 24h * 30}, 7, t0, rows);
    ASSERT_TRUE(grace.has_value()) << grace.error_message();
    EXPECT_EQ(grace->entries, 3u);
    EXPECT_EQ(grace->expired_left_off, 1u);
    auto crl = parse(grace->der);
    EXPECT_EQ(entry(crl.get(), "2001"), nullptr);
    EXPECT_NE(entry(crl.get(), "2002"), nullptr);
    EXPECT_NE(entry(crl.get(), "2003"), nullptr);
    EXPECT_NE(entry(crl.get(), "2004"), nullptr);
    EXPECT_EQ(expired_certs_on_crl_of(crl.get()), t0 - 24h * 30);

    auto keep = build_crl(signer, {24h, std::nullopt}, 8, t0, rows);
    ASSERT_TRUE(keep.has_value()) << keep.error_message();
    EXPECT_EQ(keep->entries, 4u);
    crl = parse(keep->der);
    EXPECT_NE(entry(crl.get(), "2001"), nullptr);
    // Keeping everything: the scope starts when the CA did.
    EXPECT_EQ(expired_certs_on_crl_of(crl.get()), from_asn1_time(X509_get0_notBefore(ca.cert.get())));
}

TEST(crl_builder, openssl_chain_verification_refuses_the_revoked_and_accepts_the_good) {
    const auto ca = test::make_ca("Verify CA");
    const auto signer = signer_for(ca);
    const auto good = test::make_cert(ca, "good.example", key_type::ec_p256, {.serial_hex = "3001"});
    const auto revoked = test::make_cert(ca, "revoked.example", key_type::ec_p256, {.serial_hex = "3002"});
    const auto held = test::make_cert(ca, "held.example", key_type::ec_p256, {.serial_hex = "3003"});
    const std::vector<cert_record> rows{row("3002", cert_status::revoked, t0 - 1h, revocation_reason::key_compromise),
                                        row("3003", cert_status::hold, t0 - 1h, revocation_reason::certificate_hold)};
    auto built = build_crl(signer, {}, 1, t0 - 10min, rows);
    ASSERT_TRUE(built.has_value()) << built.error_message();
    auto crl = parse(built->der);

    const auto verify = [&](X509* leaf) {
        ossl::x509_store_ptr store{X509_STORE_new()};
        X509_STORE_add_cert(store.get(), ca.cert.get());
        X509_STORE_add_crl(store.get(), crl.get());
        X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
        ossl::x509_store_ctx_ptr ctx{X509_STORE_CTX_new()};
        X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
        X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(t0.time_since_epoch().count()));
        X509_verify_cert(ctx.get());
        return X509_STORE_CTX_get_error(ctx.get());
    };
    EXPECT_EQ(verify(good.cert.get()), X509_V_OK);
    EXPECT_EQ(verify(revoked.cert.get()), X509_V_ERR_CERT_REVOKED);
    EXPECT_EQ(verify(held.cert.get()), X509_V_ERR_CERT_REVOKED);
}

// --- refusals --------------------------------------------------------------------------------------------

struct refusal {
    std::string name;
    std::int64_t number = 1;
    crl_policy policy{};
    bool revoked_without_time = false;
    errc expected = errc::config;
};

class crl_refusals : public testing::TestWithParam<refusal> {};

TEST_P(crl_refusals, are_values_with_their_code) {
    static const auto ca = test::make_ca("Refusal CA");
    const auto signer = signer_for(ca);
    std::vector<cert_record> rows;
    if (GetParam().revoked_without_time) rows.push_back(row("4001", cert_status::revoked));
    auto built = build_crl(signer, GetParam().policy, GetParam().number, t0, rows);
    ASSERT_FALSE(built.has_value());
    EXPECT_EQ(built.code(), make_error_code(GetParam().expected)) << built.error_message();
}

INSTANTIATE_TEST_SUITE_P(
    table, crl_refusals,
    testing::Values(refusal{"number_zero", 0, {}, false, errc::out_of_range},
                    refusal{"negative_number", -5, {}, false, errc::out_of_range},
                    refusal{"grace_shorter_than_validity", 1, {24h * 7, 24h}, false, errc::config},
                    refusal{"validity_under_a_minute", 1, {30s, std::nullopt}, false, errc::config},
                    refusal{"revoked_without_a_time", 1, {}, true, errc::malformed}),
    [](const testing::TestParamInfo<refusal>& p) { return p.param.name; });

TEST(crl_signer, refuses_a_key_that_is_not_the_cas) {
    const auto ca = test::make_ca("Signer CA");
    const auto other = test::make_ca("Other CA");
    auto s = crl_signer::make(ossl::up_ref(ca.cert.get()), ossl::up_ref(other.key.get()), false, "ca.pem", "other.key");
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.code(), make_error_code(errc::config));
    EXPECT_NE(s.error_message().find("other.key"), std::string::npos) << s.error_message();
}

TEST(crl_signer, refuses_a_certificate_that_is_not_a_ca) {
    const auto ca = test::make_ca("Parent CA");
    const auto leaf = test::make_cert(ca, "leaf.example");
    auto s = crl_signer::make(ossl::up_ref(leaf.cert.get()), ossl::up_ref(leaf.key.get()), false, "leaf.pem", "leaf.key");
    ASSERT_FALSE(s.has_value());
    EXPECT_NE(s.error_message().find("not a CA certificate"), std::string::npos) << s.error_message();
}

TEST(crl_signer, refuses_pss_for_an_ec_key) {
    const auto ca = test::make_ca("EC CA", key_type::ec_p256);
    auto s = crl_signer::make(ossl::up_ref(ca.cert.get()), ossl::up_ref(ca.key.get()), true, "ca", "ec.key");
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.code(), make_error_code(errc::unsupported));
}

}  // namespace
}  // namespace ocspkit::crl
