// The test PKI is what every other test trusts, so it is checked here against OpenSSL's own view:
// chains verify at the reference time and the extensions say what the options asked for.
#include "tests/support/test_pki.hpp"

#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "common/asn1_time.hpp"
#include "common/cert_id.hpp"
#include "common/pem.hpp"
#include "common/serial.hpp"

namespace ocspkit {
namespace {

using test::key_type;

class test_pki_chain : public testing::TestWithParam<key_type> {};

// Every key type signs a chain that `openssl verify` accepts at the reference time.
TEST_P(test_pki_chain, verifies_with_openssl_cli) {
    const key_type type = GetParam();
    const test::temp_dir dir;
    const auto root = test::make_ca("chain root", type);
    const auto intermediate = test::make_cert(root, "chain intermediate", type, {.is_ca = true});
    const auto leaf = test::make_cert(intermediate, "chain leaf", type, {.dns_names = {"leaf.test"}});
    const auto signer = test::make_ocsp_signer(intermediate, "chain signer", type);
    test::write_pem(dir / "root.pem", root.cert.get());
    test::write_pem(dir / "intermediate.pem", intermediate.cert.get());
    test::write_pem(dir / "leaf.pem", leaf.cert.get());
    test::write_pem(dir / "signer.pem", signer.cert.get());

    const auto verify = test::run_command(fmt::format(
        "openssl verify -attime {} -x509_strict -CAfile {} -untrusted {} {} {}", test::reference_time.time_since_epoch().count(),
        (dir / "root.pem").string(), (dir / "intermediate.pem").string(), (dir / "leaf.pem").string(),
        (dir / "signer.pem").string()));
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    EXPECT_EQ(verify.output, (dir / "leaf.pem").string() + ": OK\n" + (dir / "signer.pem").string() + ": OK\n");

    EXPECT_EQ(X509_check_issued(root.cert.get(), intermediate.cert.get()), X509_V_OK);
    EXPECT_EQ(X509_check_issued(intermediate.cert.get(), leaf.cert.get()), X509_V_OK);
    ASSERT_TRUE(X509_get0_authority_key_id(leaf.cert.get()) != nullptr);
    EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf.cert.get()),
                                    X509_get0_subject_key_id(intermediate.cert.get())),
              0);
}

INSTANTIATE_TEST_SUITE_P(all, test_pki_chain,
                         testing::Values(key_type::ec_p256, key_type::ec_p384, key_type::ed25519, key_type::rsa2048,
                                         key_type::rsa_pss2048),
                         [](const testing::TestParamInfo<key_type>& p) { return std::string(test::to_string(p.param)); });

TEST(test_pki, leaf_extensions_follow_the_options) {
    const auto ca = test::make_ca("ext CA");
    const auto leaf = test::make_cert(ca, "ext leaf", key_type::ec_p256,
                                      {.serial_hex = "00C0FFEE",
                                       .ocsp_url = "http://127.0.0.1:8080/ocsp",
                                       .must_staple = true,
                                       .dns_names = {"a.test", "b.test"},
                                       .client_auth = true});
    X509* cert = leaf.cert.get();

    EXPECT_EQ(serial_number::from_asn1(X509_get0_serialNumber(cert))->to_hex(), "C0FFEE");
    EXPECT_EQ(subject_oneline(cert), "/CN=ext leaf");
    EXPECT_EQ(X509_check_ca(cert), 0);
    EXPECT_EQ(X509_get_key_usage(cert), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
    EXPECT_EQ(X509_get_extended_key_usage(cert), static_cast<std::uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
    EXPECT_GE(X509_get_ext_by_NID(cert, NID_tlsfeature, -1), 0);
    EXPECT_EQ(X509_get_ext_by_NID(cert, NID_id_pkix_OCSP_noCheck, -1), -1);

    // X509_email_free is the documented way to free what X509_get1_ocsp returns.
    const std::unique_ptr<STACK_OF(OPENSSL_STRING), ossl::deleter<X509_email_free>> urls{X509_get1_ocsp(cert)};
    ASSERT_NE(urls, nullptr);
    EXPECT_EQ(sk_OPENSSL_STRING_num(urls.get()), 1);
    EXPECT_EQ(std::string(sk_OPENSSL_STRING_value(urls.get(), 0)), "http://127.0.0.1:8080/ocsp");

    EXPECT_EQ(X509_check_host(cert, "a.test", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_host(cert, "b.test", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_host(cert, "c.test", 0, 0, nullptr), 0);

    EXPECT_EQ(from_asn1_time(X509_get0_notBefore(cert)), test::reference_time - std::chrono::hours{24});
}

TEST(test_pki, defaults_and_ocsp_signer) {
    const auto ca = test::make_ca("signer CA");
    EXPECT_EQ(X509_check_ca(ca.cert.get()), 1);
    EXPECT_EQ(X509_get_key_usage(ca.cert.get()),
              static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    EXPECT_EQ(X509_get_ext_by_NID(ca.cert.get(), NID_authority_key_identifier, -1), -1);

    const auto plain = test::make_cert(ca, "plain leaf");
    EXPECT_EQ(X509_get_extended_key_usage(plain.cert.get()), static_cast<std::uint32_t>(XKU_SSL_SERVER));
    EXPECT_EQ(X509_get_ext_by_NID(plain.cert.get(), NID_tlsfeature, -1), -1);
    EXPECT_EQ(X509_get_ext_by_NID(plain.cert.get(), NID_info_access, -1), -1);
    EXPECT_EQ(X509_get_ext_by_NID(plain.cert.get(), NID_subject_alt_name, -1), -1);

    const auto signer = test::make_ocsp_signer(ca, "signer");
    EXPECT_EQ(X509_check_ca(signer.cert.get()), 0);
    EXPECT_EQ(X509_get_extended_key_usage(signer.cert.get()), static_cast<std::uint32_t>(XKU_OCSP_SIGN));
    EXPECT_GE(X509_get_ext_by_NID(signer.cert.get(), NID_id_pkix_OCSP_noCheck, -1), 0);
    EXPECT_EQ(X509_check_private_key(signer.cert.get(), signer.key.get()), 1);
}

TEST(test_pki, write_key_sets_the_mode_despite_umask) {
    const test::temp_dir dir;
    const auto key = test::make_key(key_type::ed25519);
    test::write_key(dir / "k.pem", key.get(), 0640);
    EXPECT_EQ(std::filesystem::status(dir / "k.pem").permissions(),
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                  std::filesystem::perms::group_read);
    EXPECT_EQ(EVP_PKEY_eq(load_private_key(dir / "k.pem", {.allow_group_readable = true}).get(), key.get()),
              1);
}

TEST(test_pki, temp_dir_is_removed_and_run_command_reports_status) {
    std::filesystem::path kept;
    {
        const test::temp_dir dir;
        kept = dir.path();
        test::write_key(dir / "k.pem", test::make_key(key_type::ec_p256).get());
        EXPECT_TRUE(std::filesystem::is_directory(kept));
    }
    EXPECT_FALSE(std::filesystem::exists(kept));

    const auto merged = test::run_command("echo out; echo err >&2; exit 3");
    EXPECT_EQ(merged.exit_code, 3);
    EXPECT_EQ(merged.output, "out\nerr\n");
    // Without merging, stderr goes to the test's own stderr and not into the output.
    const auto separate = test::run_command("echo out; echo 'run_command stderr, expected in the log' >&2", false);
    EXPECT_EQ(separate.exit_code, 0);
    EXPECT_EQ(separate.output, "out\n");
}

}  // namespace
}  // namespace ocspkit
