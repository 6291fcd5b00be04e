// signer: the checks at start-up (RFC 6960 §4.2.2.2) and the algorithm chosen per key type.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "common/pem.hpp"
#include "common/openssl_error.hpp"
#include "responder/signer.hpp"
#include "tests/unit/responder/responder_test_util.hpp"

namespace ocspkit::responder {
namespace {

using namespace test_util;
using x509_algor_ptr = std::unique_ptr<X509_ALGOR, ossl::deleter<X509_ALGOR_free>>;

struct algorithm_case {
    key_type type;
    rsa_padding padding;
    int signature_nid;             // what signatureAlgorithm must say
    const EVP_MD* (*digest)();     // nullptr for Ed25519
    rsa_padding effective_padding;
};

std::string case_name(const ::testing::TestParamInfo<algorithm_case>& p) {
    return key_type_name(p.param.type) + (p.param.padding == rsa_padding::pss ? "_pss" : "");
}

int signature_nid(const signer& s) {
    const unsigned char* p = s.signature_algorithm_der().data();
    x509_algor_ptr alg{d2i_X509_ALGOR(nullptr, &p, static_cast<long>(s.signature_algorithm_der().size()))};
    if (!alg) return NID_undef;
    const ASN1_OBJECT* obj = nullptr;
    X509_ALGOR_get0(&obj, nullptr, nullptr, alg.get());
    return OBJ_obj2nid(obj);
}

// Verifies `sig` over `data` with the certificate's key, independently of signer::sign.
bool verifies(X509* cert, const EVP_MD* md, rsa_padding padding, const bytes& data, const bytes& sig) {
    ossl::evp_md_ctx_ptr ctx{EVP_MD_CTX_new()};
    EVP_PKEY_CTX* pctx = nullptr;
    if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, X509_get0_pubkey(cert)) != 1) return false;
    if (padding == rsa_padding::pss) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)
            return false;
    }
    const bool ok = EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data.data(), data.size()) == 1;
    ERR_clear_error();  // a failed verification is an answer here, not an error to report later
    return ok;
}

class signer_algorithms : public ::testing::TestWithParam<algorithm_case> {};

TEST_P(signer_algorithms, ca_signer_signs_what_its_certificate_verifies) {
    const auto& c = GetParam();
    const auto& ca = ca_of(c.type);
    const auto s = ca_signer(ca, responder_id_form::by_key_hash, c.padding);
    EXPECT_FALSE(s->is_delegated());
    EXPECT_EQ(s->padding(), c.effective_padding);
    EXPECT_EQ(signature_nid(*s), c.signature_nid);
    EXPECT_EQ(s->digest(), c.digest != nullptr ? c.digest() : nullptr);

    const bytes data = filled(300);
    const bytes sig = s->sign(data).value();
    EXPECT_TRUE(verifies(ca.cert.get(), s->digest(), c.effective_padding, data, sig));
    bytes tampered = data;
    tampered[7] ^= 1;
    EXPECT_FALSE(verifies(ca.cert.get(), s->digest(), c.effective_padding, tampered, sig));
}

TEST_P(signer_algorithms, delegated_signer_is_recognised_and_signs) {
    const auto& c = GetParam();
    const auto& d = delegate_of(c.type);
    const auto s = delegated_signer(main_ca(), d, responder_id_form::by_name, c.padding);
    EXPECT_TRUE(s->is_delegated());
    EXPECT_EQ(s->id_form(), responder_id_form::by_name);
    EXPECT_EQ(signature_nid(*s), c.signature_nid);
    const bytes data = filled(64, 9);
    EXPECT_TRUE(verifies(d.cert.get(), s->digest(), c.effective_padding, data, s->sign(data).value()));
    EXPECT_NE(s->description().find("delegated"), std::string::npos) << s->description();
}

INSTANTIATE_TEST_SUITE_P(
    key_types, signer_algorithms,
    ::testing::Values(
        algorithm_case{key_type::rsa2048, rsa_padding::pkcs1, NID_sha256WithRSAEncryption, EVP_sha256, rsa_padding::pkcs1},
        algorithm_case{key_type::rsa2048, rsa_padding::pss, NID_rsassaPss, EVP_sha256, rsa_padding::pss},
        // An id-RSASSA-PSS key only makes PSS signatures, whatever the configuration says.
        algorithm_case{key_type::rsa_pss2048, rsa_padding::pkcs1, NID_rsassaPss, EVP_sha256, rsa_padding::pss},
        algorithm_case{key_type::ec_p256, rsa_padding::pkcs1, NID_ecdsa_with_SHA256, EVP_sha256, rsa_padding::pkcs1},
        algorithm_case{key_type::ec_p384, rsa_padding::pkcs1, NID_ecdsa_with_SHA384, EVP_sha384, rsa_padding::pkcs1},
        algorithm_case{key_type::ed25519, rsa_padding::pkcs1, NID_ED25519, nullptr, rsa_padding::pkcs1}),
    case_name);

TEST(signer, identity_material_is_computed_once_and_right) {
    const auto& d = delegate_of(key_type::ec_p256);
    const auto s = delegated_signer(main_ca(), d);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ASSERT_EQ(X509_pubkey_digest(d.cert.get(), EVP_sha1(), md, &len), 1);
    EXPECT_EQ(s->key_hash(), bytes(md, md + len));  // RFC 6960 §4.2.2.3 KeyHash
    EXPECT_EQ(s->certificate_der(), der_of(d.cert.get()));
    EXPECT_EQ(s->ca_not_before(), to_sys(X509_get0_notBefore(main_ca().cert.get())));
    EXPECT_EQ(s->not_after(), to_sys(X509_get0_notAfter(d.cert.get())));
    unsigned char* name = nullptr;
    const int name_len = i2d_X509_NAME(X509_get_subject_name(d.cert.get()), &name);
    ASSERT_GT(name_len, 0);
    EXPECT_EQ(s->subject_der(), bytes(name, name + name_len));
    OPENSSL_free(name);
}

struct refusal_case {
    std::string name;
    std::function<std::shared_ptr<const signer>()> make;
    std::string message_part;
};

class signer_refuses : public ::testing::TestWithParam<refusal_case> {};

TEST_P(signer_refuses, with_a_clear_message) {
    const auto& c = GetParam();
    try {
        (void)c.make();
        FAIL() << "accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(c.message_part), std::string::npos) << e.what();
    }
}

INSTANTIATE_TEST_SUITE_P(
    bad_identities, signer_refuses,
    ::testing::Values(
        refusal_case{"key_of_another_certificate",
                     [] {
                         return signer::from_parts(copy_cert(main_ca().cert.get()), copy_key(stranger_ca().key.get()),
                                                   copy_cert(main_ca().cert.get()), responder_id_form::by_key_hash,
                                                   rsa_padding::pkcs1);
                     },
                     "does not match"},
        refusal_case{"delegate_of_another_ca",
                     [] {
                         static const issued foreign = ocspkit::test::make_ocsp_signer(stranger_ca(), "foreign signer");
                         return delegated_signer(main_ca(), foreign);
                     },
                     "is not issued by the CA"},
        refusal_case{"delegate_of_a_namesake_ca",
                     [] {
                         // Same subject name as the main CA, different key: name chaining alone would pass.
                         static const issued namesake = ocspkit::test::make_ca("CA ec_p256");
                         static const issued fake = ocspkit::test::make_ocsp_signer(namesake, "namesake signer");
                         return delegated_signer(main_ca(), fake);
                     },
                     "CA"},
        refusal_case{"delegate_without_ocsp_signing_eku",
                     [] {
                         static const issued leaf = ocspkit::test::make_cert(main_ca(), "just a server");
                         return delegated_signer(main_ca(), leaf);
                     },
                     "id-kp-OCSPSigning"},
        refusal_case{"pss_padding_with_an_ec_key",
                     [] { return ca_signer(main_ca(), responder_id_form::by_key_hash, rsa_padding::pss); },
                     "PSS padding needs an RSA key"}),
    [](const ::testing::TestParamInfo<refusal_case>& p) { return p.param.name; });

class signer_load : public ::testing::Test {
protected:
    ocspkit::test::temp_dir dir;
    signer_config config() {
        signer_config c;
        c.cert_file = dir / "signer.pem";
        c.key_file = dir / "signer.key";
        c.issuer_ca_file = dir / "ca.pem";
        return c;
    }
    void write(const issued& ca, const issued& signer_id, EVP_PKEY* key, unsigned key_mode = 0600) {
        ocspkit::test::write_pem(dir / "ca.pem", ca.cert.get());
        ocspkit::test::write_pem(dir / "signer.pem", signer_id.cert.get());
        ocspkit::test::write_key(dir / "signer.key", key, key_mode);
    }
};

TEST_F(signer_load, delegated_signer_from_files) {
    const auto& d = delegate_of(key_type::ec_p256);
    write(main_ca(), d, d.key.get());
    const auto s = signer::load(config());
    EXPECT_TRUE(s->is_delegated());
    EXPECT_EQ(X509_cmp(s->certificate(), d.cert.get()), 0);
    EXPECT_EQ(X509_cmp(s->issuer_ca(), main_ca().cert.get()), 0);
}

TEST_F(signer_load, ca_signing_for_itself_from_files) {
    write(main_ca(), main_ca(), main_ca().key.get());
    auto c = config();
    c.responder_id = responder_id_form::by_name;
    const auto s = signer::load(c);
    EXPECT_FALSE(s->is_delegated());
    EXPECT_EQ(s->id_form(), responder_id_form::by_name);
}

TEST_F(signer_load, mismatched_key_names_both_files) {
    const auto& d = delegate_of(key_type::ec_p256);
    write(main_ca(), d, stranger_ca().key.get());
    try {
        (void)signer::load(config());
        FAIL() << "accepted a key that does not match";
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find((dir / "signer.key").string()), std::string::npos) << what;
        EXPECT_NE(what.find((dir / "signer.pem").string()), std::string::npos) << what;
    }
}

TEST_F(signer_load, wrong_ca_names_the_ca_file) {
    const auto& d = delegate_of(key_type::ec_p256);
    write(stranger_ca(), d, d.key.get());
    try {
        (void)signer::load(config());
        FAIL() << "accepted a delegate of another CA";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find((dir / "ca.pem").string()), std::string::npos) << e.what();
    }
}

TEST_F(signer_load, group_readable_key_needs_the_flag) {
    const auto& d = delegate_of(key_type::ec_p256);
    write(main_ca(), d, d.key.get(), 0640);
    EXPECT_THROW((void)signer::load(config()), std::runtime_error);
    auto c = config();
    c.allow_group_readable_key = true;
    EXPECT_TRUE(signer::load(c)->is_delegated());
}

TEST_F(signer_load, missing_file_is_an_error) {
    auto c = config();
    EXPECT_THROW((void)signer::load(c), std::runtime_error);
}

}  // namespace
}  // namespace ocspkit::responder
