// CertID hashes (RFC 6960 §4.1.1) must be byte-identical to what real clients send, so they are checked
// against requests that `openssl ocsp` builds from the same certificates.
#include "common/cert_id.hpp"

#include <map>
#include <regex>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "common/pem.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit {

// Found by argument-dependent lookup, so GoogleTest prints "sha256" rather than a byte dump.
void PrintTo(hash_alg alg, std::ostream* os) { *os << hash_name(alg); }

namespace {

using test::key_type;

// Keys are slow to make (RSA especially), so each CA is made once per process and only when a test
// asks for it: ctest runs every test in its own process.
class cert_id_vs_openssl : public testing::TestWithParam<std::tuple<hash_alg, key_type>> {
protected:
    static const test::issued& ca(key_type type) {
        auto it = cas_.find(type);
        if (it == cas_.end()) it = cas_.emplace(type, test::make_ca("CertID CA", type)).first;
        return it->second;
    }
    // Freed here rather than by static destruction, which may run after OpenSSL's own cleanup.
    static void TearDownTestSuite() { cas_.clear(); }

private:
    static std::map<key_type, test::issued> cas_;
};
std::map<key_type, test::issued> cert_id_vs_openssl::cas_;

// The two OCTET STRINGs of the request's CertID, in order: issuerNameHash then issuerKeyHash.
name_and_key_hash hashes_from_openssl_request(const test::temp_dir& dir, const test::issued& ca, hash_alg alg) {
    const auto leaf = test::make_cert(ca, "leaf.example", key_type::ec_p256, {.serial_hex = "1001"});
    test::write_pem(dir / "ca.pem", ca.cert.get());
    test::write_pem(dir / "leaf.pem", leaf.cert.get());
    // The digest option must come before -cert: it applies to the CertIDs built after it.
    const auto req = test::run_command(fmt::format("openssl ocsp -issuer {} -{} -cert {} -reqout {} -no_nonce",
                                                   (dir / "ca.pem").string(), hash_name(alg),
                                                   (dir / "leaf.pem").string(), (dir / "req.der").string()));
    EXPECT_EQ(req.exit_code, 0) << req.output;
    const auto parsed = test::run_command("openssl asn1parse -inform DER -in " + (dir / "req.der").string(), false);
    EXPECT_EQ(parsed.exit_code, 0) << parsed.output;

    static const std::regex octet_string{R"(OCTET STRING\s+\[HEX DUMP\]:([0-9A-F]+))"};
    std::vector<std::string> dumps;
    for (std::sregex_iterator it{parsed.output.begin(), parsed.output.end(), octet_string}, end; it != end; ++it) {
        dumps.push_back((*it)[1]);
    }
    EXPECT_EQ(dumps.size(), 2U) << parsed.output;
    if (dumps.size() != 2) return {};

    const auto unhex = [](const std::string& hex) {
        bytes out;
        for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
            out.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
        }
        return out;
    };
    return {unhex(dumps[0]), unhex(dumps[1])};
}

TEST_P(cert_id_vs_openssl, compute_issuer_hashes_matches) {
    const auto [alg, type] = GetParam();
    const auto& issuer = ca(type);
    const test::temp_dir dir;
    const auto expected = hashes_from_openssl_request(dir, issuer, alg);

    const auto all = compute_issuer_hashes(issuer.cert.get());
    EXPECT_EQ(to_hex(all[alg].name_hash), to_hex(expected.name_hash));
    EXPECT_EQ(to_hex(all[alg].key_hash), to_hex(expected.key_hash));
    EXPECT_EQ(all[alg].name_hash.size(), hash_size(alg));
    EXPECT_EQ(issuer_name_hash(issuer.cert.get(), alg), expected.name_hash);
    EXPECT_EQ(issuer_key_hash(issuer.cert.get(), alg), expected.key_hash);
}

INSTANTIATE_TEST_SUITE_P(all, cert_id_vs_openssl,
                         testing::Combine(testing::ValuesIn(all_hash_algs),
                                          testing::Values(key_type::ec_p256, key_type::rsa2048, key_type::ed25519)),
                         [](const testing::TestParamInfo<std::tuple<hash_alg, key_type>>& p) {
                             return std::string(hash_name(std::get<0>(p.param))) + "_" +
                                    std::string(test::to_string(std::get<1>(p.param)));
                         });

TEST(hash_alg_table, names_nids_and_sizes_agree_with_openssl) {
    for (hash_alg alg : all_hash_algs) {
        SCOPED_TRACE(std::string(hash_name(alg)));
        EXPECT_EQ(EVP_MD_get_type(evp_md(alg)), hash_nid(alg));
        EXPECT_EQ(static_cast<std::size_t>(EVP_MD_get_size(evp_md(alg))), hash_size(alg));
        EXPECT_EQ(hash_alg_from_nid(hash_nid(alg)), alg);
        EXPECT_EQ(hash_alg_from_name(hash_name(alg)), alg);
        EXPECT_EQ(std::string(OBJ_nid2sn(hash_nid(alg))), "SHA" + std::string(hash_name(alg)).substr(3));
    }
    EXPECT_EQ(hash_alg_from_name("SHA-256"), hash_alg::sha256);
    EXPECT_EQ(hash_alg_from_name("Sha384"), hash_alg::sha384);
    EXPECT_EQ(hash_alg_from_name("md5"), std::nullopt);
    EXPECT_EQ(hash_alg_from_name(""), std::nullopt);
    EXPECT_EQ(hash_alg_from_nid(NID_md5), std::nullopt);
}

// A copy of `ca` with its subjectKeyIdentifier replaced by `ski_hex`, or removed when it is empty.
// Re-signed, because X509_add_ext and X509_delete_ext leave the cached DER of the TBSCertificate alone,
// and re-parsed, so that OpenSSL's cached extension values come from the new extensions.
ossl::x509_ptr with_ski(const test::issued& ca, const std::string& ski_hex) {
    ossl::x509_ptr copy{X509_dup(ca.cert.get())};
    const ossl::x509_extension_ptr removed{
        X509_delete_ext(copy.get(), X509_get_ext_by_NID(copy.get(), NID_subject_key_identifier, -1))};
    if (!ski_hex.empty()) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, nullptr, copy.get(), nullptr, nullptr, 0);
        ossl::x509_extension_ptr ext{X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_key_identifier, ski_hex.c_str())};
        EXPECT_TRUE(ext);
        EXPECT_EQ(X509_add_ext(copy.get(), ext.get(), -1), 1);
    }
    EXPECT_GT(X509_sign(copy.get(), ca.key.get(), EVP_sha256()), 0);
    const auto der = der_of(copy.get());
    const unsigned char* p = der.data();
    return ossl::x509_ptr{d2i_X509(nullptr, &p, static_cast<long>(der.size()))};
}

TEST(subject_key_id, prefers_extension_then_sha1_of_key) {
    const auto ca = test::make_ca("SKI CA");
    const auto sha1_of_key = issuer_key_hash(ca.cert.get(), hash_alg::sha1);
    // The test PKI writes subjectKeyIdentifier=hash, which is RFC 5280 method 1.
    EXPECT_EQ(subject_key_id(ca.cert.get()), sha1_of_key);

    const auto custom = with_ski(ca, "01:02:03:04");
    ASSERT_TRUE(custom);
    EXPECT_EQ(subject_key_id(custom.get()), (bytes{1, 2, 3, 4}));

    const auto none = with_ski(ca, "");
    ASSERT_TRUE(none);
    ASSERT_EQ(X509_get_ext_by_NID(none.get(), NID_subject_key_identifier, -1), -1);
    EXPECT_EQ(subject_key_id(none.get()), sha1_of_key);
}

TEST(to_hex, uppercase_two_digits_per_octet) {
    EXPECT_EQ(to_hex(bytes{}), "");
    EXPECT_EQ(to_hex(bytes{0x00, 0x0f, 0xa0, 0xff}), "000FA0FF");
}

}  // namespace
}  // namespace ocspkit
