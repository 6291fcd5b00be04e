// decode_request: what real clients send decodes to the right CertIDs and nonce; everything else is
// refused with the exact error (RFC 6960 §4.1.1, RFC 9654 §2.1).
#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>

#include <fmt/format.h>

#include "common/openssl_error.hpp"
#include "common/pem.hpp"
#include "protocol/ocsp_request.hpp"
#include "protocol/ocsp_request_fast.hpp"
#include "tests/unit/responder/responder_test_util.hpp"

namespace ocspkit::protocol {
namespace {

using namespace responder::test_util;

std::string serial_hex_of(std::size_t i) { return fmt::format("{:X}", 0x1000 + i); }

requested_cert expected_cert(const issued& ca, const std::string& serial_hex, hash_alg alg, bool params_null = true) {
    const auto h = compute_issuer_hashes(ca.cert.get());
    return requested_cert{.alg = alg,
                          .issuer_name_hash = h[alg].name_hash,
                          .issuer_key_hash = h[alg].key_hash,
                          .serial = serial(serial_hex),
                          .hash_params_null = params_null};
}

bytes sha1_alg_id(bool null_params = true) {
    return tlv(0x30, null_params ? cat({oid_der("1.3.14.3.2.26"), bytes{0x05, 0x00}}) : oid_der("1.3.14.3.2.26"));
}
bytes sha256_alg_id(bool null_params) {
    return tlv(0x30, null_params ? cat({oid_der("2.16.840.1.101.3.4.2.1"), bytes{0x05, 0x00}})
                                 : oid_der("2.16.840.1.101.3.4.2.1"));
}
bytes raw_main_cert_id(hash_alg alg, const bytes& alg_id, const bytes& serial_int) {
    const auto h = compute_issuer_hashes(main_ca().cert.get());
    return raw_cert_id(alg_id, h[alg].name_hash, h[alg].key_hash, serial_int);
}

// Extensions ::= SEQUENCE OF Extension; Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue }
bytes extension(const char* oid, const bytes& value, bool critical = false) {
    return tlv(0x30, cat({oid_der(oid), critical ? bytes{0x01, 0x01, 0xFF} : bytes{}, tlv(0x04, value)}));
}
constexpr const char* nonce_oid = "1.3.6.1.5.5.7.48.1.2";

struct good_case {
    std::string name;
    std::function<bytes()> make;
    decoded_request expect;
    request_limits limits{};
};

class decode_request_accepts : public ::testing::TestWithParam<good_case> {};

TEST_P(decode_request_accepts, and_reports_what_was_sent) {
    const auto& c = GetParam();
    const bytes der = c.make();
    const auto r = decode_request(der, c.limits);
    ASSERT_TRUE(r.has_value()) << r.error_message();
    ASSERT_EQ(r->certs.size(), c.expect.certs.size());
    for (std::size_t i = 0; i < c.expect.certs.size(); ++i) {
        SCOPED_TRACE(i);
        const auto& got = r->certs[i];
        const auto& want = c.expect.certs[i];
        EXPECT_EQ(got.alg, want.alg);
        EXPECT_EQ(got.issuer_name_hash, want.issuer_name_hash);
        EXPECT_EQ(got.issuer_key_hash, want.issuer_key_hash);
        EXPECT_EQ(got.serial, want.serial);
        EXPECT_EQ(got.hash_params_null, want.hash_params_null);
    }
    EXPECT_EQ(r->nonce, c.expect.nonce);
    EXPECT_EQ(r->nonce_unwrapped, c.expect.nonce_unwrapped);
    EXPECT_EQ(r->has_signature, c.expect.has_signature);
    // Both halves of decode_request read it the same; the single-pass reader takes every unsigned
    // request without version or requestorName (what clients send), and leaves signed ones to OpenSSL.
    const auto full = decode_request_with_openssl(der, c.limits);
    ASSERT_TRUE(full.has_value()) << full.error_message();
    const auto plain = decode_plain_request(der, c.limits);
    if (c.expect.has_signature) {
        EXPECT_FALSE(plain.has_value());
    }
    if (plain) {
        ASSERT_EQ(plain->certs.size(), full->certs.size());
        for (std::size_t i = 0; i < full->certs.size(); ++i) {
            EXPECT_EQ(plain->certs[i].alg, full->certs[i].alg);
            EXPECT_EQ(plain->certs[i].issuer_name_hash, full->certs[i].issuer_name_hash);
            EXPECT_EQ(plain->certs[i].issuer_key_hash, full->certs[i].issuer_key_hash);
            EXPECT_EQ(plain->certs[i].serial, full->certs[i].serial);
            EXPECT_EQ(plain->certs[i].hash_params_null, full->certs[i].hash_params_null);
        }
        EXPECT_EQ(plain->nonce, full->nonce);
        EXPECT_EQ(plain->nonce_unwrapped, full->nonce_unwrapped);
    }
}

TEST(decode_plain_request, reads_what_openssl_ocsp_sends) {
    for (bool with_nonce : {false, true}) {
        for (hash_alg alg : {hash_alg::sha1, hash_alg::sha256}) {
            std::optional<bytes> nonce;
            if (with_nonce) nonce = filled(16);
            const bytes der = make_request_der({.certs = {{main_ca().cert.get(), "2A", alg}}, .nonce = nonce});
            EXPECT_TRUE(decode_plain_request(der, {}).has_value()) << with_nonce << " " << static_cast<int>(alg);
        }
    }
}

decoded_request expect_certs(std::vector<requested_cert> certs, std::optional<bytes> nonce = std::nullopt,
                             bool unwrapped = false, bool is_signed = false) {
    decoded_request d;
    d.certs = std::move(certs);
    d.nonce = std::move(nonce);
    d.nonce_unwrapped = unwrapped;
    d.has_signature = is_signed;
    return d;
}

std::vector<good_case> good_cases() {
    X509* ca = main_ca().cert.get();
    X509* other = stranger_ca().cert.get();
    std::vector<good_case> v;
    for (const auto alg : all_hash_algs) {
        v.push_back({std::string("one_cert_") + std::string(hash_name(alg)),
                     [ca, alg] { return make_request_der({.certs = {{ca, "0A", alg}}}); },
                     expect_certs({expected_cert(main_ca(), "0A", alg)})});
    }
    v.push_back({"three_certs_mixed_algorithms_and_issuers",
                 [ca, other] {
                     return make_request_der({.certs = {{ca, "01", hash_alg::sha1},
                                                        {other, "7F", hash_alg::sha384},
                                                        {ca, "00F0", hash_alg::sha512}}});
                 },
                 expect_certs({expected_cert(main_ca(), "01", hash_alg::sha1),
                               expected_cert(stranger_ca(), "7F", hash_alg::sha384),
                               expected_cert(main_ca(), "F0", hash_alg::sha512)})});
    v.push_back({"serial_zero", [ca] { return make_request_der({.certs = {{ca, "0"}}}); },
                 expect_certs({expected_cert(main_ca(), "00", hash_alg::sha1)})});
    v.push_back({"serial_20_octets_high_bit",
                 [ca] { return make_request_der({.certs = {{ca, "F1E2D3C4B5A69788796A5B4C3D2E1F0011223344"}}}); },
                 expect_certs({expected_cert(main_ca(), "F1E2D3C4B5A69788796A5B4C3D2E1F0011223344", hash_alg::sha1)})});
    for (const std::size_t n : {1, 16, 32, 128}) {
        v.push_back({fmt::format("nonce_{}_octets", n),
                     [ca, n] { return make_request_der({.certs = {{ca, "02"}}, .nonce = filled(n)}); },
                     expect_certs({expected_cert(main_ca(), "02", hash_alg::sha1)}, filled(n))});
    }
    for (const std::size_t n : {1, 128}) {
        v.push_back({fmt::format("raw_nonce_{}_octets", n),
                     [ca, n] {
                         return make_request_der(
                             {.certs = {{ca, "02"}}, .nonce = filled(n, 0x41), .form = nonce_form::raw});
                     },
                     expect_certs({expected_cert(main_ca(), "02", hash_alg::sha1)}, filled(n, 0x41), true)});
    }
    v.push_back({"signed_request_is_accepted",
                 [ca] { return make_request_der({.certs = {{ca, "03"}}, .sign = true}); },
                 expect_certs({expected_cert(main_ca(), "03", hash_alg::sha1)}, std::nullopt, false, true)});
    v.push_back({"sha256_without_hash_parameters",
                 [] { return raw_request({raw_main_cert_id(hash_alg::sha256, sha256_alg_id(false), {0x05})}); },
                 expect_certs({expected_cert(main_ca(), "05", hash_alg::sha256, false)})});
    v.push_back({"noncritical_unknown_extension_is_ignored",
                 [] {
                     return raw_request({raw_main_cert_id(hash_alg::sha1, sha1_alg_id(), {0x06})},
                                        tlv(0x30, extension("1.3.6.1.5.5.7.48.1.4", tlv(0x30, oid_der("1.3.6.1.5.5.7.48.1.1")))));
                 },
                 expect_certs({expected_cert(main_ca(), "06", hash_alg::sha1)})});
    {
        std::vector<cert_spec> specs;
        std::vector<requested_cert> want;
        for (std::size_t i = 0; i < 1000; ++i) {
            specs.push_back({ca, serial_hex_of(i), hash_alg::sha256});
            want.push_back(expected_cert(main_ca(), serial_hex_of(i), hash_alg::sha256));
        }
        v.push_back({"one_thousand_certs_within_limits", [specs] { return make_request_der({.certs = specs}); },
                     expect_certs(std::move(want)), request_limits{.max_cert_ids = 1000, .max_der_size = 1 << 20}});
    }
    return v;
}

INSTANTIATE_TEST_SUITE_P(requests, decode_request_accepts, ::testing::ValuesIn(good_cases()),
                         [](const ::testing::TestParamInfo<good_case>& p) { return p.param.name; });

struct bad_case {
    std::string name;
    std::function<bytes()> make;
    errc expect;
    request_limits limits{};
};

class decode_request_refuses : public ::testing::TestWithParam<bad_case> {};

TEST_P(decode_request_refuses, with_the_exact_error) {
    const auto& c = GetParam();
    const bytes der = c.make();
    const auto r = decode_request(der, c.limits);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.code(), c.expect) << r.error_message();
    EXPECT_FALSE(r.failure().message.empty());
    // The single-pass reader never takes what the full decoder refuses.
    EXPECT_FALSE(decode_plain_request(der, c.limits).has_value());
}

bytes simple_request() { return make_request_der({.certs = {{main_ca().cert.get(), "2A", hash_alg::sha256}}}); }

std::vector<bad_case> bad_cases() {
    X509* ca = main_ca().cert.get();
    std::vector<bad_case> v;
    const auto malformed = errc::malformed;
    v.push_back({"empty", [] { return bytes{}; }, malformed});
    v.push_back({"not_der_at_all", [] { return bytes{'h', 'e', 'l', 'l', 'o'}; }, malformed});
    v.push_back({"a_certificate_instead", [] { return der_of(main_ca().cert.get()); }, malformed});
    v.push_back({"larger_than_limit", [] { return simple_request(); }, malformed,
                 request_limits{.max_cert_ids = 64, .max_der_size = 32}});
    v.push_back({"truncated_by_one", [] { bytes d = simple_request(); d.pop_back(); return d; }, malformed});
    v.push_back({"truncated_to_half", [] { bytes d = simple_request(); d.resize(d.size() / 2); return d; }, malformed});
    v.push_back({"outer_length_too_long",
                 [] {
                     bytes d = simple_request();
                     // The last octet of the outer length, short or long form.
                     const std::size_t at = d[1] < 0x80 ? 1 : 1 + (d[1] & 0x7fU);
                     d[at] = static_cast<std::uint8_t>(d[at] + 1);
                     return d;
                 },
                 malformed});
    v.push_back({"outer_length_four_gigabytes",
                 [] {
                     bytes d = simple_request();
                     if (d[1] >= 0x80) throw std::logic_error("sample request too long for this case");
                     const bytes body(d.begin() + 2, d.end());
                     return cat({bytes{0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xF0}, body});
                 },
                 malformed});
    v.push_back({"trailing_zero_octet", [] { bytes d = simple_request(); d.push_back(0); return d; }, malformed});
    v.push_back({"two_requests_back_to_back", [] { return cat({simple_request(), simple_request()}); }, malformed});
    v.push_back({"ber_indefinite_length",
                 [] {
                     bytes d = simple_request();
                     if (d[1] >= 0x80) throw std::logic_error("sample request too long for this case");
                     const bytes body(d.begin() + 2, d.end());
                     return cat({bytes{0x30, 0x80}, body, bytes{0x00, 0x00}});
                 },
                 malformed});
    v.push_back({"ber_non_minimal_length",
                 [] {
                     bytes d = simple_request();
                     if (d[1] >= 0x80) throw std::logic_error("sample request too long for this case");
                     const bytes body(d.begin() + 2, d.end());
                     return cat({bytes{0x30, 0x81, d[1]}, body});
                 },
                 malformed});
    v.push_back({"nested_indefinite_sequences_5000_deep",
                 [] {
                     bytes d;
                     for (int i = 0; i < 5000; ++i) d.insert(d.end(), {0x30, 0x80});
                     return d;
                 },
                 malformed});
    v.push_back({"nested_definite_sequences_in_hash_parameters",
                 [] {
                     bytes nest{0x05, 0x00};
                     for (int i = 0; i < 2000; ++i) nest = tlv(0x30, nest);
                     const bytes alg = tlv(0x30, cat({oid_der("1.3.14.3.2.26"), nest}));
                     return raw_request({raw_main_cert_id(hash_alg::sha1, alg, {0x01})});
                 },
                 malformed, request_limits{.max_cert_ids = 64, .max_der_size = 1 << 20}});
    v.push_back({"nested_indefinite_sequences_in_hash_parameters",
                 [] {
                     // BER in an ANY field: OpenSSL skips it iteratively (asn1_find_end), never recursing.
                     bytes nest;
                     for (int i = 0; i < 4000; ++i) nest.insert(nest.end(), {0x30, 0x80});
                     for (int i = 0; i < 4000; ++i) nest.insert(nest.end(), {0x00, 0x00});
                     const bytes alg = tlv(0x30, cat({oid_der("1.3.14.3.2.26"), nest}));
                     return raw_request({raw_main_cert_id(hash_alg::sha1, alg, {0x01})});
                 },
                 malformed, request_limits{.max_cert_ids = 64, .max_der_size = 1 << 20}});
    v.push_back({"no_cert_ids", [] { return raw_request({}); }, malformed});
    v.push_back({"md5_cert_id",
                 [] {
                     const bytes alg = tlv(0x30, cat({oid_der("1.2.840.113549.2.5"), bytes{0x05, 0x00}}));
                     return raw_request({raw_cert_id(alg, filled(16), filled(16), {0x01})});
                 },
                 malformed});
    v.push_back({"sha224_cert_id",
                 [] {
                     const bytes alg = tlv(0x30, oid_der("2.16.840.1.101.3.4.2.4"));
                     return raw_request({raw_cert_id(alg, filled(28), filled(28), {0x01})});
                 },
                 malformed});
    v.push_back({"unknown_oid_cert_id",
                 [] {
                     const bytes alg = tlv(0x30, oid_der("1.3.6.1.4.1.99999.1"));
                     return raw_request({raw_cert_id(alg, filled(20), filled(20), {0x01})});
                 },
                 malformed});
    v.push_back({"sha256_oid_with_sha1_length_hashes",
                 [] { return raw_request({raw_cert_id(sha256_alg_id(true), filled(20), filled(20), {0x01})}); },
                 malformed});
    v.push_back({"short_key_hash",
                 [] {
                     const auto h = compute_issuer_hashes(main_ca().cert.get());
                     bytes key = h[hash_alg::sha1].key_hash;
                     key.pop_back();
                     return raw_request({raw_cert_id(sha1_alg_id(), h[hash_alg::sha1].name_hash, key, {0x01})});
                 },
                 malformed});
    v.push_back({"hash_parameters_not_null",
                 [] {
                     const bytes alg = tlv(0x30, cat({oid_der("1.3.14.3.2.26"), bytes{0x02, 0x01, 0x00}}));
                     return raw_request({raw_main_cert_id(hash_alg::sha1, alg, {0x01})});
                 },
                 malformed});
    v.push_back({"negative_serial", [ca] { return make_request_der({.certs = {{ca, "-05"}}}); }, malformed});
    v.push_back({"serial_of_21_octets",
                 [ca] { return make_request_der({.certs = {{ca, "01F1E2D3C4B5A69788796A5B4C3D2E1F0011223344"}}}); },
                 malformed});
    v.push_back({"duplicate_nonce_extension",
                 [] {
                     const bytes n = extension(nonce_oid, tlv(0x04, filled(8)));
                     return raw_request({raw_main_cert_id(hash_alg::sha1, sha1_alg_id(), {0x01})}, tlv(0x30, cat({n, n})));
                 },
                 malformed});
    v.push_back({"critical_unknown_request_extension",
                 [] {
                     return raw_request({raw_main_cert_id(hash_alg::sha1, sha1_alg_id(), {0x01})},
                                        tlv(0x30, extension("1.3.6.1.4.1.99999.7", {0x05, 0x00}, true)));
                 },
                 malformed});
    v.push_back({"critical_single_request_extension",
                 [] {
                     // Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT Extensions }
                     const bytes one = tlv(0x30, cat({raw_main_cert_id(hash_alg::sha1, sha1_alg_id(), {0x01}),
                                                      tlv(0xA0, tlv(0x30, extension("1.3.6.1.4.1.99999.8", {0x05, 0x00}, true)))}));
                     return tlv(0x30, tlv(0x30, tlv(0x30, one)));
                 },
                 malformed});
    v.push_back({"sixty_five_certs_over_default_limit",
                 [ca] {
                     std::vector<cert_spec> specs;
                     for (std::size_t i = 0; i < 65; ++i) specs.push_back({ca, serial_hex_of(i)});
                     return make_request_der({.certs = specs});
                 },
                 errc::out_of_range});
    v.push_back({"thousand_and_one_certs_over_limit_of_1000",
                 [ca] {
                     std::vector<cert_spec> specs;
                     for (std::size_t i = 0; i < 1001; ++i) specs.push_back({ca, serial_hex_of(i)});
                     return make_request_der({.certs = specs});
                 },
                 errc::out_of_range, request_limits{.max_cert_ids = 1000, .max_der_size = 1 << 20}});
    return v;
}

INSTANTIATE_TEST_SUITE_P(requests, decode_request_refuses, ::testing::ValuesIn(bad_cases()),
                         [](const ::testing::TestParamInfo<bad_case>& p) { return p.param.name; });

// RFC 9654 §2.1: a nonce of 0 or more than 128 octets. Decoding keeps the request, CertIDs included:
// answer() needs them to find the issuer whose nonce policy decides (RFC 9654 binds only responders that
// support nonces), and refuses it there (answer_test).
struct nonce_case {
    std::string name;
    std::function<bytes()> make;
};

class decode_request_keeps : public ::testing::TestWithParam<nonce_case> {};

TEST_P(decode_request_keeps, a_nonce_out_of_range_for_the_issuer_policy_to_judge) {
    const auto r = decode_request(GetParam().make());
    ASSERT_TRUE(r.has_value()) << r.error_message();
    EXPECT_TRUE(r->nonce_out_of_range());
    ASSERT_EQ(r->certs.size(), 1U);
    EXPECT_EQ(r->certs[0].serial, serial("01"));
}

std::vector<nonce_case> out_of_range_nonces() {
    const auto ca = main_ca().cert.get();
    std::vector<nonce_case> v;
    v.push_back({"nonce_0_octets",
                 [ca] { return make_request_der({.certs = {{ca, "01"}}, .nonce = bytes{}}); }});
    v.push_back({"nonce_129_octets",
                 [ca] { return make_request_der({.certs = {{ca, "01"}}, .nonce = filled(129)}); }});
    v.push_back({"nonce_1000_octets",
                 [ca] { return make_request_der({.certs = {{ca, "01"}}, .nonce = filled(1000)}); }});
    v.push_back({"raw_nonce_0_octets",
                 [ca] { return make_request_der({.certs = {{ca, "01"}}, .nonce = bytes{}, .form = nonce_form::raw}); }});
    v.push_back({"raw_nonce_129_octets",
                 [ca] {
                     return make_request_der({.certs = {{ca, "01"}}, .nonce = filled(129, 0x41), .form = nonce_form::raw});
                 }});
    return v;
}

INSTANTIATE_TEST_SUITE_P(requests, decode_request_keeps, ::testing::ValuesIn(out_of_range_nonces()),
                         [](const ::testing::TestParamInfo<nonce_case>& p) { return p.param.name; });

TEST(decode_request, nonces_of_1_and_128_octets_are_in_range) {
    for (const std::size_t n : {std::size_t{1}, std::size_t{128}}) {
        const auto r = decode_request(make_request_der({.certs = {{main_ca().cert.get(), "01"}}, .nonce = filled(n)}));
        ASSERT_TRUE(r.has_value()) << r.error_message();
        EXPECT_FALSE(r->nonce_out_of_range()) << n;
    }
    EXPECT_FALSE(decode_request(simple_request())->nonce_out_of_range());
}

TEST(decode_request, every_prefix_of_a_request_is_refused_without_crashing) {
    const bytes der = make_request_der({.certs = {{main_ca().cert.get(), "0102", hash_alg::sha384},
                                                  {main_ca().cert.get(), "0103", hash_alg::sha1}},
                                        .nonce = filled(32)});
    for (std::size_t n = 0; n < der.size(); ++n) {
        const auto r = decode_request(std::span<const std::uint8_t>(der.data(), n));
        EXPECT_EQ(r.code(), errc::malformed) << "prefix of " << n << " octets";
    }
    EXPECT_TRUE(decode_request(der).has_value());
}

}  // namespace
}  // namespace ocspkit::protocol
