// The staple decision table of stapler/policy.hpp, row by row, and Must-Staple detection.
#include "stapler/policy.hpp"

#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler {
namespace {

using namespace std::chrono_literals;
using ocspkit::test::reference_time;

enum class response_kind { good, revoked, unknown, none, expired };

std::optional<validated_response> response_of(response_kind kind) {
    if (kind == response_kind::none) return std::nullopt;
    validated_response r;
    r.der = {0x30, 0x03, 0x0a, 0x01, 0x00};
    r.this_update = reference_time - 1h;
    r.next_update = reference_time + 1h;
    switch (kind) {
    case response_kind::good: r.status = cert_status::good; break;
    case response_kind::revoked: r.status = cert_status::revoked; break;
    case response_kind::unknown: r.status = cert_status::unknown; break;
    case response_kind::expired:
        r.status = cert_status::good;  // was good; its nextUpdate has now passed
        r.next_update = reference_time;
        break;
    case response_kind::none: break;
    }
    return r;
}

struct policy_case {
    std::string name;
    staple_policy policy;
    bool must_staple;
    response_kind response;
    staple_action action;
    staple_outcome outcome;
    bool alert;
};

std::ostream& operator<<(std::ostream& os, const policy_case& c) { return os << c.name; }

using enum staple_policy;
using enum staple_action;

const policy_case policy_cases[] = {
    {"soft_good", soft, false, response_kind::good, staple, staple_outcome::good, false},
    {"soft_revoked", soft, false, response_kind::revoked, staple, staple_outcome::revoked, true},
    {"soft_unknown", soft, false, response_kind::unknown, no_staple, staple_outcome::unknown, true},
    {"soft_none", soft, false, response_kind::none, no_staple, staple_outcome::no_response, false},
    {"soft_expired", soft, false, response_kind::expired, no_staple, staple_outcome::expired, false},
    {"hard_good", hard, false, response_kind::good, staple, staple_outcome::good, false},
    {"hard_revoked", hard, false, response_kind::revoked, staple, staple_outcome::revoked, true},
    {"hard_unknown", hard, false, response_kind::unknown, not_servable, staple_outcome::unknown, true},
    {"hard_none", hard, false, response_kind::none, not_servable, staple_outcome::no_response, true},
    {"hard_expired", hard, false, response_kind::expired, not_servable, staple_outcome::expired, true},
    // Must-Staple makes a soft policy hard.
    {"must_staple_good", soft, true, response_kind::good, staple, staple_outcome::good, false},
    {"must_staple_revoked", soft, true, response_kind::revoked, staple, staple_outcome::revoked, true},
    {"must_staple_unknown", soft, true, response_kind::unknown, not_servable, staple_outcome::unknown, true},
    {"must_staple_none", soft, true, response_kind::none, not_servable, staple_outcome::no_response, true},
    {"must_staple_expired", soft, true, response_kind::expired, not_servable, staple_outcome::expired, true},
    {"must_staple_hard_none", hard, true, response_kind::none, not_servable, staple_outcome::no_response, true},
};

class policy_table : public testing::TestWithParam<policy_case> {};

TEST_P(policy_table, decision) {
    const auto& c = GetParam();
    const auto response = response_of(c.response);
    const staple_decision d = decide(c.policy, c.must_staple, response, reference_time);
    EXPECT_EQ(d.action, c.action) << to_string(d.action);
    EXPECT_EQ(d.outcome, c.outcome) << to_string(d.outcome);
    EXPECT_EQ(d.alert, c.alert);
    if (c.action == staple) {
        ASSERT_TRUE(response.has_value());
        EXPECT_EQ(d.staple.data(), response->der.data());  // borrowed, not copied
        EXPECT_EQ(d.staple.size(), response->der.size());
    } else {
        EXPECT_TRUE(d.staple.empty());
    }
    // What readers fall back to once the entry expires is the "none" row of the same policy.
    if (c.response == response_kind::none) {
        EXPECT_EQ(action_without_response(c.policy, c.must_staple), c.action);
    }
}

INSTANTIATE_TEST_SUITE_P(stapler, policy_table, testing::ValuesIn(policy_cases),
                         [](const testing::TestParamInfo<policy_case>& p) { return p.param.name; });

TEST(decide, a_response_is_usable_until_the_second_before_next_update) {
    auto r = response_of(response_kind::good);
    EXPECT_EQ(decide(soft, false, r, r->next_update - 1s).action, staple);
    EXPECT_EQ(decide(soft, false, r, r->next_update).outcome, staple_outcome::expired);
}

TEST(has_must_staple, detects_the_tls_feature_extension) {
    auto ca = ocspkit::test::make_ca("Must-Staple CA");
    ocspkit::test::cert_options o;
    o.must_staple = true;
    auto with = ocspkit::test::make_cert(ca, "must.example", ocspkit::test::key_type::ec_p256, o);
    auto without = ocspkit::test::make_cert(ca, "plain.example");
    EXPECT_TRUE(has_must_staple(with.cert.get()));
    EXPECT_FALSE(has_must_staple(without.cert.get()));
    EXPECT_FALSE(has_must_staple(ca.cert.get()));
    EXPECT_FALSE(has_must_staple(nullptr));
}

}  // namespace
}  // namespace ocspkit::stapler

namespace ocspkit::stapler {
namespace {

// has_must_staple() reads the extension without checking the signature, so extensions can be added to a
// finished certificate here.
void add_extension(X509* cert, X509_EXTENSION* raw) {
    ossl::x509_extension_ptr ext{raw};
    ASSERT_NE(ext, nullptr);
    ASSERT_EQ(X509_add_ext(cert, ext.get(), -1), 1);  // copies
}

TEST(has_must_staple, other_tls_features_are_not_must_staple) {
    auto ca = ocspkit::test::make_ca("Feature CA");
    auto cert = ocspkit::test::make_cert(ca, "v2.example");
    add_extension(cert.cert.get(), X509V3_EXT_conf_nid(nullptr, nullptr, NID_tlsfeature, "status_request_v2"));
    EXPECT_FALSE(has_must_staple(cert.cert.get()));
}

TEST(has_must_staple, an_undecodable_extension_fails_closed) {
    auto ca = ocspkit::test::make_ca("Broken Feature CA");
    auto cert = ocspkit::test::make_cert(ca, "broken.example");
    ossl::asn1_octet_string_ptr junk{ASN1_OCTET_STRING_new()};
    const unsigned char not_der[] = {0x04, 0x01};  // an OCTET STRING where a SEQUENCE OF INTEGER belongs
    ASSERT_EQ(ASN1_OCTET_STRING_set(junk.get(), not_der, sizeof not_der), 1);
    add_extension(cert.cert.get(), X509_EXTENSION_create_by_NID(nullptr, NID_tlsfeature, 0, junk.get()));
    EXPECT_TRUE(has_must_staple(cert.cert.get()));
}

}  // namespace
}  // namespace ocspkit::stapler
