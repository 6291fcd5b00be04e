// Responses checked by implementations other than the one that made them: OpenSSL in-process for
// every key type, pyca/cryptography (check_with_cryptography.py) and the `openssl ocsp` client.
#include <gtest/gtest.h>

#include <fstream>

#include <fmt/format.h>
#include <openssl/err.h>

#include "common/openssl_error.hpp"
#include "responder/answer.hpp"
#include "tests/unit/responder/responder_test_util.hpp"

namespace ocspkit::responder {
namespace {

using namespace test_util;
using namespace std::chrono_literals;
using ocspkit::test::run_command;
using ocspkit::test::temp_dir;
using schema::revocation_reason;

void write_file(const std::filesystem::path& file, const bytes& data) {
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!out) throw std::runtime_error("cannot write " + file.string());
}

std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

ocspkit::test::command_result run_python_check(const std::filesystem::path& response, const std::filesystem::path& signer_pem,
                                               const std::string& args) {
    return run_command(fmt::format("{} {} {} {} {}", python_interpreter(), quoted(cryptography_script()), quoted(response),
                                   quoted(signer_pem), args));
}

// --- every key type, CA-signed and delegated ---
enum class signer_kind { ca, delegated };
struct key_case {
    key_type type;
    signer_kind kind;
    rsa_padding padding = rsa_padding::pkcs1;
    hash_alg cert_id_alg = hash_alg::sha256;
    responder_id_form id_form = responder_id_form::by_key_hash;
};

std::string key_case_name(const ::testing::TestParamInfo<key_case>& p) {
    const auto& c = p.param;
    return fmt::format("{}_{}{}_{}_{}", key_type_name(c.type), c.kind == signer_kind::ca ? "ca" : "delegated",
                       c.padding == rsa_padding::pss ? "_pss" : "", hash_name(c.cert_id_alg),
                       c.id_form == responder_id_form::by_key_hash ? "by_key" : "by_name");
}

class every_key_type : public ::testing::TestWithParam<key_case> {};

TEST_P(every_key_type, signs_a_response_that_openssl_and_cryptography_verify) {
    const auto& c = GetParam();
    const issued& ca = c.kind == signer_kind::ca ? ca_of(c.type) : main_ca();
    const issued& signer_id = c.kind == signer_kind::ca ? ca : delegate_of(c.type);
    auto s = c.kind == signer_kind::ca ? ca_signer(ca, c.id_form, c.padding)
                                       : delegated_signer(ca, signer_id, c.id_form, c.padding);
    std::vector<issuer_profile> profiles;
    profiles.push_back(make_profile(ca, std::move(s), 1));
    const issuer_set set(std::move(profiles));

    fake_index index;
    index.add_good(1, "1001");
    index.add_revoked(1, "1002", reference_time - 30h, revocation_reason::key_compromise);
    const bytes nonce = filled(20, 0xA0);
    const bytes req = make_request_der({.certs = {{ca.cert.get(), "1001", c.cert_id_alg},
                                                  {ca.cert.get(), "1002", c.cert_id_alg},
                                                  {ca.cert.get(), "1003", c.cert_id_alg}},
                                        .nonce = nonce});
    const auto r = answer(decode_request(req), set, index.lookup(), reference_time);
    ASSERT_EQ(r.meta.status, ocsp_status::successful) << r.meta.detail;

    // OpenSSL, in-process, trusting only the CA.
    const auto parsed = parse_response(r.der);
    EXPECT_EQ(verify_with_ca(parsed.basic.get(), ca.cert.get()), 1) << drain_openssl_errors();

    // pyca/cryptography.
    temp_dir dir;
    write_file(dir / "resp.der", r.der);
    ocspkit::test::write_pem(dir / "signer.pem", signer_id.cert.get());
    const auto py = run_python_check(
        dir / "resp.der", dir / "signer.pem",
        fmt::format("--expect 1001=good --expect 1002=revoked:keyCompromise --expect 1003=unknown --hash {} "
                    "--responder-id {} --certs {} --nonce {}",
                    hash_name(c.cert_id_alg), c.id_form == responder_id_form::by_key_hash ? "key" : "name",
                    c.kind == signer_kind::delegated ? 1 : 0, to_hex(nonce)));
    EXPECT_EQ(py.exit_code, 0) << py.output;
}

INSTANTIATE_TEST_SUITE_P(
    matrix, every_key_type,
    ::testing::Values(key_case{key_type::rsa2048, signer_kind::ca}, key_case{key_type::rsa2048, signer_kind::delegated},
                      key_case{key_type::rsa2048, signer_kind::ca, rsa_padding::pss, hash_alg::sha1},
                      key_case{key_type::rsa2048, signer_kind::delegated, rsa_padding::pss},
                      key_case{key_type::rsa_pss2048, signer_kind::ca},
                      key_case{key_type::rsa_pss2048, signer_kind::delegated, rsa_padding::pkcs1, hash_alg::sha512},
                      key_case{key_type::ec_p256, signer_kind::ca, rsa_padding::pkcs1, hash_alg::sha1},
                      key_case{key_type::ec_p256, signer_kind::delegated, rsa_padding::pkcs1, hash_alg::sha256,
                               responder_id_form::by_name},
                      key_case{key_type::ec_p384, signer_kind::ca, rsa_padding::pkcs1, hash_alg::sha384},
                      key_case{key_type::ec_p384, signer_kind::delegated},
                      key_case{key_type::ed25519, signer_kind::ca, rsa_padding::pkcs1, hash_alg::sha256,
                               responder_id_form::by_name},
                      key_case{key_type::ed25519, signer_kind::delegated}),
    key_case_name);

// --- the Python checker must be able to fail ---
class cryptography_checker : public ::testing::Test {
protected:
    temp_dir dir;
    void SetUp() override {
        const auto& d = delegate_of(key_type::ec_p256);
        std::vector<issuer_profile> profiles;
        profiles.push_back(make_profile(main_ca(), delegated_signer(main_ca(), d), 1));
        profiles.back().unknown_serials = unknown_serial_policy::revoked;
        const issuer_set set(std::move(profiles));
        fake_index index;
        index.add_revoked(1, "0A", reference_time - 1h, revocation_reason::superseded);
        const auto r = answer(decode_request(make_request_der({.certs = {{main_ca().cert.get(), "0A"},
                                                                         {main_ca().cert.get(), "0B"}}})),
                              set, index.lookup(), reference_time);
        ASSERT_EQ(r.meta.status, ocsp_status::successful);
        der = r.der;
        write_file(dir / "resp.der", der);
        ocspkit::test::write_pem(dir / "signer.pem", d.cert.get());
        ocspkit::test::write_pem(dir / "other.pem", delegate_of(key_type::ed25519).cert.get());
    }
    bytes der;
};

TEST_F(cryptography_checker, accepts_the_right_expectations) {
    const auto py = run_python_check(dir / "resp.der", dir / "signer.pem",
                                     "--expect 0A=revoked:superseded --expect 0B=revoked:certificateHold --hash sha1 "
                                     "--extended-revoke --certs 1 --responder-id key");
    EXPECT_EQ(py.exit_code, 0) << py.output;
}

TEST_F(cryptography_checker, rejects_a_wrong_status) {
    const auto py = run_python_check(dir / "resp.der", dir / "signer.pem", "--expect 0A=good --expect 0B=unknown");
    EXPECT_EQ(py.exit_code, 1) << py.output;
}

TEST_F(cryptography_checker, rejects_a_wrong_reason) {
    const auto py = run_python_check(dir / "resp.der", dir / "signer.pem",
                                     "--expect 0A=revoked:keyCompromise --expect 0B=revoked:certificateHold");
    EXPECT_EQ(py.exit_code, 1) << py.output;
}

TEST_F(cryptography_checker, rejects_another_signer) {
    const auto py = run_python_check(dir / "resp.der", dir / "other.pem", "");
    EXPECT_EQ(py.exit_code, 1) << py.output;
}

TEST_F(cryptography_checker, rejects_a_tampered_response) {
    // Flip the last octet of producedAt's seconds ("...Z" is the 16th octet of the 0x18 0x0F TLV).
    bytes tampered = der;
    const bytes produced_tag{0x18, 0x0F};
    const auto at = std::search(tampered.begin(), tampered.end(), produced_tag.begin(), produced_tag.end());
    ASSERT_NE(at, tampered.end());
    *(at + 15) ^= 0x01;
    write_file(dir / "tampered.der", tampered);
    const auto py = run_python_check(dir / "tampered.der", dir / "signer.pem", "");
    EXPECT_EQ(py.exit_code, 1) << py.output;
}

// --- the openssl ocsp client ---
// `openssl ocsp` checks thisUpdate/nextUpdate against the wall clock and has no option to move it, so
// these responses are made "now" with a PKI valid around now.
sys_seconds wall_clock_now() { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }

struct cli_case {
    std::string name;
    key_type type;
    bool delegated;
    rsa_padding padding;
    hash_alg alg;
};

class openssl_ocsp_client : public ::testing::TestWithParam<cli_case> {};

TEST_P(openssl_ocsp_client, verifies_and_reports_each_status) {
    const auto& c = GetParam();
    const sys_seconds now = wall_clock_now();
    const ocspkit::test::cert_options validity{.not_before = now - 24h, .not_after = now + 24h * 30};
    const auto ca = ocspkit::test::make_ca("CLI CA", c.delegated ? key_type::ec_p256 : c.type, validity);
    const auto signer_id = c.delegated ? ocspkit::test::make_ocsp_signer(ca, "CLI signer", c.type, validity)
                                       : issued{copy_cert(ca.cert.get()), copy_key(ca.key.get())};
    auto s = signer::from_parts(copy_cert(signer_id.cert.get()), copy_key(signer_id.key.get()), copy_cert(ca.cert.get()),
                                responder_id_form::by_key_hash, c.padding);
    std::vector<issuer_profile> profiles;
    profiles.push_back(make_profile(ca, std::move(s), 1));
    const issuer_set set(std::move(profiles));
    fake_index index;
    index.add_good(1, "1001");
    index.add_revoked(1, "1002", now - 2h, revocation_reason::key_compromise);
    const auto r = answer(decode_request(make_request_der({.certs = {{ca.cert.get(), "1001", c.alg},
                                                                     {ca.cert.get(), "1002", c.alg},
                                                                     {ca.cert.get(), "1003", c.alg}}})),
                          set, index.lookup(), now);
    ASSERT_EQ(r.meta.status, ocsp_status::successful) << r.meta.detail;

    temp_dir dir;
    write_file(dir / "resp.der", r.der);
    ocspkit::test::write_pem(dir / "ca.pem", ca.cert.get());
    ocspkit::test::write_pem(dir / "signer.pem", signer_id.cert.get());
    // -issuer and the digest must come before -serial: each -serial makes its CertID on the spot.
    const std::string query = fmt::format("-issuer {} -{} -serial 0x1001 -serial 0x1002 -serial 0x1003 -no_nonce",
                                          quoted(dir / "ca.pem"), hash_name(c.alg));

    const auto out = run_command(fmt::format("{} ocsp -respin {} -CAfile {} {}", openssl_cli(), quoted(dir / "resp.der"),
                                             quoted(dir / "ca.pem"), query));
    EXPECT_EQ(out.exit_code, 0) << out.output;
    EXPECT_NE(out.output.find("Response verify OK"), std::string::npos) << out.output;
    EXPECT_NE(out.output.find("0x1001: good"), std::string::npos) << out.output;
    EXPECT_NE(out.output.find("0x1002: revoked"), std::string::npos) << out.output;
    EXPECT_NE(out.output.find("Reason: keyCompromise"), std::string::npos) << out.output;
    EXPECT_NE(out.output.find("0x1003: unknown"), std::string::npos) << out.output;
    EXPECT_EQ(out.output.find("WARNING"), std::string::npos) << out.output;

    // Trusting the responder certificate directly (-VAfile) works too.
    const auto va = run_command(fmt::format("{} ocsp -respin {} -VAfile {} {}", openssl_cli(), quoted(dir / "resp.der"),
                                            quoted(dir / "signer.pem"), query));
    EXPECT_EQ(va.exit_code, 0) << va.output;
    EXPECT_NE(va.output.find("Response verify OK"), std::string::npos) << va.output;

    // And the client does notice a broken signature: the last octet of the BIT STRING, for a CA-signed
    // response the last octet of the whole response.
    if (!c.delegated) {
        bytes tampered = r.der;
        tampered.back() ^= 0x01;
        write_file(dir / "tampered.der", tampered);
        const auto bad = run_command(fmt::format("{} ocsp -respin {} -CAfile {} {}", openssl_cli(),
                                                 quoted(dir / "tampered.der"), quoted(dir / "ca.pem"), query));
        EXPECT_NE(bad.exit_code, 0) << bad.output;
        EXPECT_NE(bad.output.find("Response Verify Failure"), std::string::npos) << bad.output;
    }
}

INSTANTIATE_TEST_SUITE_P(
    cases, openssl_ocsp_client,
    ::testing::Values(cli_case{"ca_p256_sha1", key_type::ec_p256, false, rsa_padding::pkcs1, hash_alg::sha1},
                      cli_case{"ca_ed25519_sha384", key_type::ed25519, false, rsa_padding::pkcs1, hash_alg::sha384},
                      cli_case{"delegated_rsa_pss_sha256", key_type::rsa2048, true, rsa_padding::pss, hash_alg::sha256}),
    [](const ::testing::TestParamInfo<cli_case>& p) { return p.param.name; });

}  // namespace
}  // namespace ocspkit::responder
