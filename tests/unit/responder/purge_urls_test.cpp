// The GET paths the responder purges from HTTP caches: the canonical RFC 5019 request of a certificate
// must be byte for byte what a real client sends, or a purge misses what the cache holds.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "common/base64.hpp"
#include "protocol/get_path.hpp"
#include "responder/purge_urls.hpp"
#include "tests/unit/responder/responder_test_util.hpp"

namespace ocspkit::responder {
namespace {

using namespace test_util;
using ocspkit::test::run_command;
using ocspkit::test::temp_dir;

std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

bytes read_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct serial_case {
    const char* name;
    const char* serial_hex;
};
void PrintTo(const serial_case& c, std::ostream* os) { *os << c.name; }

class matches_openssl : public ::testing::TestWithParam<serial_case> {};

// What `openssl ocsp -issuer CA -cert C -no_nonce -reqout req.der` writes is what RFC 5019 clients GET
// (base64 of it after the responder's path); the SHA-256 form is the same with -sha256.
TEST_P(matches_openssl, canonical_request_is_what_openssl_ocsp_writes) {
    const auto& ca = main_ca();
    const auto leaf = ocspkit::test::make_cert(ca, "leaf", key_type::ec_p256, {.serial_hex = GetParam().serial_hex});
    temp_dir dir;
    ocspkit::test::write_pem(dir / "ca.pem", ca.cert.get());
    ocspkit::test::write_pem(dir / "leaf.pem", leaf.cert.get());
    const auto hashes = compute_issuer_hashes(ca.cert.get());
    const auto leaf_serial = serial_number::from_asn1(X509_get0_serialNumber(leaf.cert.get()));
    ASSERT_TRUE(leaf_serial);
    const auto paths = purge_paths("/ocsp", hashes, *leaf_serial);
    ASSERT_EQ(paths.size(), std::size(purged_hash_algs));
    for (std::size_t i = 0; i < std::size(purged_hash_algs); ++i) {
        const hash_alg alg = purged_hash_algs[i];
        SCOPED_TRACE(hash_name(alg));
        const auto out = run_command(fmt::format("{} ocsp -issuer {} -{} -cert {} -no_nonce -reqout {}", openssl_cli(),
                                                 quoted(dir / "ca.pem"), hash_name(alg), quoted(dir / "leaf.pem"),
                                                 quoted(dir / "req.der")));
        ASSERT_EQ(out.exit_code, 0) << out.output;
        const bytes from_openssl = read_file(dir / "req.der");
        ASSERT_FALSE(from_openssl.empty());
        EXPECT_EQ(to_hex(canonical_request_der(alg, hashes[alg], *leaf_serial)), to_hex(from_openssl));
        EXPECT_EQ(paths[i], "/ocsp/" + base64_encode(from_openssl));
    }
}

INSTANTIATE_TEST_SUITE_P(purge_urls, matches_openssl,
                         ::testing::Values(serial_case{"one_octet", "01"}, serial_case{"high_bit", "80"},
                                           serial_case{"twenty_octets", "7fa1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3"},
                                           serial_case{"twenty_octets_high_bit",
                                                       "f1a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3"}),
                         [](const auto& test_info) { return std::string(test_info.param.name); });

TEST(purge_urls, the_responder_decodes_the_path_back_to_the_request_it_answers) {
    const auto& ca = main_ca();
    const auto hashes = compute_issuer_hashes(ca.cert.get());
    const auto paths = purge_paths("/", hashes, serial("1001"));
    ASSERT_EQ(paths.size(), 2u);
    for (std::size_t i = 0; i < paths.size(); ++i) {
        const hash_alg alg = purged_hash_algs[i];
        const bytes der = canonical_request_der(alg, hashes[alg], serial("1001"));
        EXPECT_EQ(paths[i], "/" + base64_encode(der));
        const auto decoded_path = protocol::decode_get_path(paths[i], "/");
        ASSERT_TRUE(decoded_path) << decoded_path.error_message();
        EXPECT_EQ(*decoded_path, der);
        const auto request = decode_request(der, {});
        ASSERT_TRUE(request) << request.error_message();
        ASSERT_EQ(request->certs.size(), 1u);
        EXPECT_EQ(request->certs[0].alg, alg);
        EXPECT_EQ(request->certs[0].serial, serial("1001"));
        EXPECT_FALSE(request->nonce);
    }
}

TEST(purge_urls, get_path_joins_the_mount_point_without_doubling_the_slash) {
    const bytes der{0x30, 0x03, 0x02, 0x01, 0xfb};  // base64 "MAMCAfs=", chosen for its '='
    EXPECT_EQ(get_path("/", der), "/MAMCAfs=");
    EXPECT_EQ(get_path("/ocsp", der), "/ocsp/MAMCAfs=");
    EXPECT_EQ(get_path("/ocsp/", der), "/ocsp/MAMCAfs=");
}

TEST(purge_urls, long_serials_use_long_form_lengths_where_needed) {
    // A 64-octet key hash (SHA-512 sized) makes the CertID longer than 127 octets: X.690 long form.
    const name_and_key_hash big{bytes(64, 0x11), bytes(64, 0x22)};
    const bytes der = canonical_request_der(hash_alg::sha512, big, serial("01"));
    ASSERT_GT(der.size(), 130u);
    EXPECT_EQ(der[0], 0x30);
    EXPECT_EQ(der[1], 0x81);
    EXPECT_EQ(static_cast<std::size_t>(der[2]) + 3, der.size());
    const auto request = decode_request(der, {});
    ASSERT_TRUE(request) << request.error_message();
    EXPECT_EQ(request->certs.at(0).alg, hash_alg::sha512);
}

}  // namespace
}  // namespace ocspkit::responder
