// The validation table (house rule 13): every way a fetched response can be unusable, each asserting
// the exact reason, plus the shapes of a usable one.
#include "stapler/validate.hpp"

#include <functional>
#include <optional>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "common/serial.hpp"
#include "tests/unit/stapler/ocsp_fixtures.hpp"

namespace ocspkit::stapler {
namespace {

using namespace std::chrono_literals;
using test::bytes;
using test::response_spec;
using test::single_spec;
using ocspkit::test::issued;
using ocspkit::test::key_type;
using ocspkit::test::make_ca;
using ocspkit::test::make_cert;
using ocspkit::test::make_ocsp_signer;
using ocspkit::test::reference_time;

ocspkit::test::cert_options with_serial(const char* hex) {
    ocspkit::test::cert_options o;
    o.serial_hex = hex;
    return o;
}

ocspkit::test::cert_options expired_validity() {
    ocspkit::test::cert_options o;
    o.not_before = reference_time - 24h * 400;
    o.not_after = reference_time - 24h;
    return o;
}

// One PKI for the whole table; key generation dominates the run time otherwise.
struct pki {
    issued ca = make_ca("Stapler Test CA");
    issued leaf = make_cert(ca, "leaf.example", key_type::ec_p256, with_serial("1001"));
    issued other_leaf = make_cert(ca, "other.example", key_type::ec_p256, with_serial("1002"));
    issued responder = make_ocsp_signer(ca, "Stapler Test OCSP Responder");
    issued ed_responder = make_ocsp_signer(ca, "Stapler Test Ed25519 Responder", key_type::ed25519);
    issued not_a_responder = make_cert(ca, "Stapler Test TLS Server");  // EKU serverAuth only
    issued old_responder = make_ocsp_signer(ca, "Stapler Test Old Responder", key_type::ec_p256, expired_validity());
    issued impostor = make_ca("Stapler Test CA");  // the issuer's name, another key
    issued stranger = make_ca("Unrelated CA");
    issued stranger_responder = make_ocsp_signer(stranger, "Unrelated OCSP Responder");

    static const pki& get() {
        static const pki instance;
        return instance;
    }
};

// Apart, because RSA key generation is the slowest step and only one case needs it.
struct rsa_pki {
    issued ca = make_ca("Stapler Test RSA CA", key_type::rsa2048);
    issued leaf = make_cert(ca, "rsa-leaf.example", key_type::ec_p256, with_serial("2001"));

    static const rsa_pki& get() {
        static const rsa_pki instance;
        return instance;
    }
};

single_spec single_for(const pki& p, cert_status status = cert_status::good) {
    single_spec s;
    s.leaf = p.leaf.cert.get();
    s.issuer = p.ca.cert.get();
    s.status = status;
    return s;
}

response_spec signed_by(const issued& signer, std::vector<single_spec> singles) {
    response_spec r;
    r.singles = std::move(singles);
    r.signer = signer.cert.get();
    r.key = signer.key.get();
    return r;
}

struct validation_case {
    std::string name;
    std::function<bytes(const pki&)> make;
    // Expected outcome: a status when usable, a reason when rejected.
    std::optional<cert_status> usable_as;
    std::optional<reject_reason> rejected_for;
    std::function<void(validation_options&)> tweak = [](validation_options&) {};
    sys_seconds now = reference_time;
    bool use_rsa_pki = false;  // validate against rsa_pki's leaf and CA
};

std::ostream& operator<<(std::ostream& os, const validation_case& c) { return os << c.name; }

validation_case usable(std::string name, std::function<bytes(const pki&)> make, cert_status status) {
    return {std::move(name), std::move(make), status, std::nullopt};
}
validation_case rejected(std::string name, std::function<bytes(const pki&)> make, reject_reason reason) {
    return {std::move(name), std::move(make), std::nullopt, reason};
}

bytes by_ca(const pki& p, single_spec s) { return test::make_response(signed_by(p.ca, {std::move(s)})); }

const bytes test_nonce{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe};

std::vector<validation_case> cases() {
    std::vector<validation_case> v;

    // --- usable ---
    v.push_back(usable("good_issuer_signed_sha1_certid", [](const pki& p) { return by_ca(p, single_for(p)); },
                       cert_status::good));
    v.push_back(usable("good_sha256_certid", [](const pki& p) {
        auto s = single_for(p);
        s.certid_md = EVP_sha256();
        return by_ca(p, s);
    }, cert_status::good));
    v.push_back(usable("good_sha512_certid", [](const pki& p) {
        auto s = single_for(p);
        s.certid_md = EVP_sha512();
        return by_ca(p, s);
    }, cert_status::good));
    v.push_back(usable("good_issuer_signed_without_certs", [](const pki& p) {
        auto r = signed_by(p.ca, {single_for(p)});
        r.include_signer = false;
        return test::make_response(r);
    }, cert_status::good));
    v.push_back(usable("good_responder_id_by_key", [](const pki& p) {
        auto r = signed_by(p.ca, {single_for(p)});
        r.responder_id_by_key = true;
        return test::make_response(r);
    }, cert_status::good));
    v.push_back(usable("good_delegated_signer", [](const pki& p) {
        return test::make_response(signed_by(p.responder, {single_for(p)}));
    }, cert_status::good));
    v.push_back(usable("good_delegated_ed25519_signer_by_key", [](const pki& p) {
        auto r = signed_by(p.ed_responder, {single_for(p)});
        r.responder_id_by_key = true;
        return test::make_response(r);
    }, cert_status::good));
    v.push_back(usable("good_rsa_issuer", [](const pki&) {
        const rsa_pki& r = rsa_pki::get();
        single_spec s;
        s.leaf = r.leaf.cert.get();
        s.issuer = r.ca.cert.get();
        return test::make_response(signed_by(r.ca, {s}));
    }, cert_status::good));
    v.back().use_rsa_pki = true;
    v.push_back(usable("good_second_of_two_single_responses", [](const pki& p) {
        auto other = single_for(p);
        other.leaf = p.other_leaf.cert.get();
        return test::make_response(signed_by(p.ca, {other, single_for(p)}));
    }, cert_status::good));
    v.push_back(usable("revoked", [](const pki& p) {
        auto s = single_for(p, cert_status::revoked);
        s.revocation_reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE;
        return by_ca(p, s);
    }, cert_status::revoked));
    v.push_back(usable("unknown", [](const pki& p) { return by_ca(p, single_for(p, cert_status::unknown)); },
                       cert_status::unknown));
    v.push_back(usable("this_update_ahead_within_skew", [](const pki& p) {
        auto s = single_for(p);
        s.this_update = reference_time + 2min;
        return by_ca(p, s);
    }, cert_status::good));
    v.push_back(usable("nonce_matches", [](const pki& p) {
        auto r = signed_by(p.ca, {single_for(p)});
        r.nonce = test_nonce;
        return test::make_response(r);
    }, cert_status::good));
    v.back().tweak = [](validation_options& o) { o.expected_nonce = test_nonce; };
    v.push_back(usable("nonce_present_but_not_expected", [](const pki& p) {
        auto r = signed_by(p.ca, {single_for(p)});
        r.nonce = test_nonce;
        return test::make_response(r);
    }, cert_status::good));

    // --- time ---
    v.push_back(rejected("expired_next_update_passed", [](const pki& p) {
        auto s = single_for(p);
        s.this_update = reference_time - 48h;
        s.next_update = reference_time - 1s;
        return by_ca(p, s);
    }, reject_reason::expired));
    v.push_back(rejected("expired_next_update_is_now", [](const pki& p) {
        auto s = single_for(p);
        s.next_update = reference_time;
        return by_ca(p, s);
    }, reject_reason::expired));
    v.push_back(rejected("this_update_in_future_beyond_skew", [](const pki& p) {
        auto s = single_for(p);
        s.this_update = reference_time + 10min;
        return by_ca(p, s);
    }, reject_reason::not_yet_valid));
    v.push_back(rejected("this_update_ahead_with_zero_skew", [](const pki& p) {
        auto s = single_for(p);
        s.this_update = reference_time + 1s;
        return by_ca(p, s);
    }, reject_reason::not_yet_valid));
    v.back().tweak = [](validation_options& o) { o.max_skew = 0s; };
    v.push_back(rejected("no_next_update", [](const pki& p) {
        auto s = single_for(p);
        s.next_update.reset();
        return by_ca(p, s);
    }, reject_reason::no_next_update));
    v.push_back(rejected("next_update_before_this_update", [](const pki& p) {
        auto s = single_for(p);
        s.this_update = reference_time + 2h;
        s.next_update = reference_time + 1h;
        return by_ca(p, s);
    }, reject_reason::not_yet_valid));
    v.back().tweak = [](validation_options& o) { o.max_skew = 3h; };
    v.back().rejected_for = reject_reason::malformed;

    // --- signature and signer ---
    v.push_back(rejected("signed_by_impostor_with_issuer_name", [](const pki& p) {
        auto r = signed_by(p.impostor, {single_for(p)});
        r.include_signer = false;
        return test::make_response(r);
    }, reject_reason::bad_signature));
    v.push_back(rejected("signed_by_impostor_with_issuer_name_and_its_cert", [](const pki& p) {
        return test::make_response(signed_by(p.impostor, {single_for(p)}));
    }, reject_reason::bad_signature));
    v.push_back(rejected("signed_by_impostor_by_key", [](const pki& p) {
        auto r = signed_by(p.impostor, {single_for(p)});
        r.responder_id_by_key = true;
        return test::make_response(r);
    }, reject_reason::signer_not_authorized));
    v.push_back(rejected("signed_by_unrelated_ca_without_cert", [](const pki& p) {
        auto r = signed_by(p.stranger, {single_for(p)});
        r.include_signer = false;
        return test::make_response(r);
    }, reject_reason::signer_not_found));
    v.push_back(rejected("signed_by_unrelated_ca_with_cert", [](const pki& p) {
        return test::make_response(signed_by(p.stranger, {single_for(p)}));
    }, reject_reason::signer_not_authorized));
    v.push_back(rejected("delegated_signer_without_ocsp_eku", [](const pki& p) {
        return test::make_response(signed_by(p.not_a_responder, {single_for(p)}));
    }, reject_reason::signer_not_authorized));
    v.push_back(rejected("delegated_signer_of_another_ca", [](const pki& p) {
        return test::make_response(signed_by(p.stranger_responder, {single_for(p)}));
    }, reject_reason::signer_not_authorized));
    v.push_back(rejected("delegated_signer_expired", [](const pki& p) {
        return test::make_response(signed_by(p.old_responder, {single_for(p)}));
    }, reject_reason::signer_not_authorized));
    v.push_back(rejected("delegated_signer_not_sent", [](const pki& p) {
        auto r = signed_by(p.responder, {single_for(p)});
        r.include_signer = false;
        return test::make_response(r);
    }, reject_reason::signer_not_found));
    v.push_back(rejected("signature_bit_flipped", [](const pki& p) {
        auto r = signed_by(p.ca, {single_for(p)});
        r.include_signer = false;  // so that the signature is the last field of the DER
        bytes der = test::make_response(r);
        der.back() ^= 0x01;
        return der;
    }, reject_reason::bad_signature));
    v.push_back(rejected("produced_at_changed_after_signing", [](const pki& p) {
        bytes der = by_ca(p, single_for(p));
        // The first GeneralizedTime (tag 0x18, 15 octets) is producedAt. Flipping the low bit of its
        // seconds' units digit keeps it a valid time, so only the signature can notice.
        for (std::size_t i = 0; i + 17 <= der.size(); ++i) {
            if (der[i] == 0x18 && der[i + 1] == 0x0f) {
                der[i + 2 + 13] ^= 0x01;
                break;
            }
        }
        return der;
    }, reject_reason::bad_signature));

    // --- CertID ---
    v.push_back(rejected("certid_of_other_serial", [](const pki& p) {
        auto s = single_for(p);
        s.leaf = p.other_leaf.cert.get();
        return by_ca(p, s);
    }, reject_reason::no_matching_response));
    v.push_back(rejected("certid_of_other_issuer", [](const pki& p) {
        auto s = single_for(p);
        s.issuer = p.stranger.cert.get();
        return by_ca(p, s);
    }, reject_reason::no_matching_response));
    v.push_back(rejected("certid_of_impostor_issuer_same_name", [](const pki& p) {
        auto s = single_for(p);
        s.issuer = p.impostor.cert.get();  // same name hash, other key hash
        return by_ca(p, s);
    }, reject_reason::no_matching_response));

    // --- response status and bytes ---
    v.push_back(rejected("try_later", [](const pki&) {
        return test::make_error_response(OCSP_RESPONSE_STATUS_TRYLATER);
    }, reject_reason::unsuccessful_status));
    v.push_back(rejected("internal_error", [](const pki&) {
        return test::make_error_response(OCSP_RESPONSE_STATUS_INTERNALERROR);
    }, reject_reason::unsuccessful_status));
    v.push_back(rejected("malformed_request", [](const pki&) {
        return test::make_error_response(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    }, reject_reason::unsuccessful_status));
    v.push_back(rejected("unauthorized", [](const pki&) {
        return test::make_error_response(OCSP_RESPONSE_STATUS_UNAUTHORIZED);
    }, reject_reason::unsuccessful_status));
    v.push_back(rejected("successful_without_response_bytes", [](const pki&) {
        return test::make_error_response(OCSP_RESPONSE_STATUS_SUCCESSFUL);
    }, reject_reason::not_basic));
    v.push_back(rejected("garbage_bytes", [](const pki&) {
        return bytes{'n', 'o', 't', ' ', 'o', 'c', 's', 'p'};
    }, reject_reason::malformed));
    v.push_back(rejected("empty", [](const pki&) { return bytes{}; }, reject_reason::malformed));
    v.push_back(rejected("truncated", [](const pki& p) {
        bytes der = by_ca(p, single_for(p));
        der.resize(der.size() / 2);
        return der;
    }, reject_reason::malformed));
    v.push_back(rejected("trailing_byte", [](const pki& p) {
        bytes der = by_ca(p, single_for(p));
        der.push_back(0);
        return der;
    }, reject_reason::malformed));
    v.push_back(rejected("oversize", [](const pki& p) { return by_ca(p, single_for(p)); }, reject_reason::too_large));
    v.back().tweak = [](validation_options& o) { o.max_size = 100; };

    // --- nonce ---
    v.push_back(rejected("nonce_mismatch", [](const pki& p) {
        auto r = signed_by(p.ca, {single_for(p)});
        r.nonce = bytes(test_nonce.rbegin(), test_nonce.rend());
        return test::make_response(r);
    }, reject_reason::nonce_mismatch));
    v.back().tweak = [](validation_options& o) { o.expected_nonce = test_nonce; };
    // --- critical extensions (RFC 5280 §4.2 semantics) ---
    v.push_back(rejected("unknown_critical_response_extension", [](const pki& p) {
        auto r = signed_by(p.ca, {single_for(p)});
        r.extensions = {test::extension_spec{.oid = "1.3.6.1.4.1.99999.1", .critical = true}};
        return test::make_response(r);
    }, reject_reason::unsupported_critical_extension));
    v.push_back(rejected("unknown_critical_single_extension", [](const pki& p) {
        auto s = single_for(p);
        s.extensions = {test::extension_spec{.oid = "1.3.6.1.4.1.99999.2", .critical = true}};
        return by_ca(p, s);
    }, reject_reason::unsupported_critical_extension));
    v.push_back(usable("unknown_non_critical_extensions", [](const pki& p) {
        auto s = single_for(p);
        s.extensions = {test::extension_spec{.oid = "1.3.6.1.4.1.99999.2", .critical = false}};
        auto r = signed_by(p.ca, {s});
        r.extensions = {test::extension_spec{.oid = "1.3.6.1.4.1.99999.1", .critical = false}};
        return test::make_response(r);
    }, cert_status::good));
    v.push_back(usable("critical_extended_revoke_extension", [](const pki& p) {
        auto r = signed_by(p.ca, {single_for(p)});
        r.extensions = {test::extension_spec{.oid = "1.3.6.1.5.5.7.48.1.9", .critical = true}};
        return test::make_response(r);
    }, cert_status::good));
    v.push_back(rejected("nonce_expected_but_absent", [](const pki& p) { return by_ca(p, single_for(p)); },
                         reject_reason::nonce_mismatch));
    v.back().tweak = [](validation_options& o) { o.expected_nonce = test_nonce; };
    return v;
}

class validation_table : public testing::TestWithParam<validation_case> {};

TEST_P(validation_table, verdict) {
    const auto& c = GetParam();
    const pki& p = pki::get();
    const bytes der = c.make(p);
    validation_options options;
    c.tweak(options);
    X509* leaf = c.use_rsa_pki ? rsa_pki::get().leaf.cert.get() : p.leaf.cert.get();
    X509* issuer = c.use_rsa_pki ? rsa_pki::get().ca.cert.get() : p.ca.cert.get();

    const verdict v = validate_response(leaf, issuer, der, c.now, options);
    if (c.usable_as) {
        ASSERT_TRUE(v.has_value()) << to_string(reject_reason_of(v)) << ": " << v.failure().message;
        EXPECT_EQ(v.value().status, *c.usable_as);
        EXPECT_EQ(v.value().der, der);
        EXPECT_GT(v.value().next_update, c.now);
    } else {
        ASSERT_FALSE(v.has_value()) << "accepted as " << to_string(v.value().status);
        EXPECT_EQ(reject_reason_of(v), *c.rejected_for)
            << "got " << to_string(reject_reason_of(v)) << ": " << v.failure().message;
        EXPECT_FALSE(v.failure().message.empty());
        RecordProperty("detail", v.failure().message);  // in --gtest_output=xml, for reading the log lines
    }
}

INSTANTIATE_TEST_SUITE_P(stapler, validation_table, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<validation_case>& p) { return p.param.name; });

TEST(validate_response, reports_times_and_revocation) {
    const pki& p = pki::get();
    auto s = single_for(p, cert_status::revoked);
    s.revocation_reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE;
    s.this_update = reference_time - 30min;
    s.next_update = reference_time + 6h;
    s.revoked_at = reference_time - 72h;
    const verdict v = validate_response(p.leaf.cert.get(), p.ca.cert.get(), by_ca(p, s), reference_time);
    ASSERT_TRUE(v.has_value()) << v.failure().message;
    const auto& r = v.value();
    EXPECT_EQ(r.this_update, reference_time - 30min);
    EXPECT_EQ(r.next_update, reference_time + 6h);
    ASSERT_TRUE(r.revocation.has_value());
    EXPECT_EQ(r.revocation->time, reference_time - 72h);
    EXPECT_EQ(r.revocation->reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
    EXPECT_FALSE(r.delegated_signer);
}

TEST(validate_response, marks_delegated_signer_and_good_has_no_revocation) {
    const pki& p = pki::get();
    const verdict v = validate_response(p.leaf.cert.get(), p.ca.cert.get(),
                                        test::make_response(signed_by(p.responder, {single_for(p)})), reference_time);
    ASSERT_TRUE(v.has_value()) << v.failure().message;
    EXPECT_TRUE(v.value().delegated_signer);
    EXPECT_FALSE(v.value().revocation.has_value());
}

TEST(validate_response, null_certificates_are_rejected_not_crashed) {
    const pki& p = pki::get();
    const bytes der = by_ca(p, single_for(p));
    EXPECT_EQ(reject_reason_of(validate_response(nullptr, p.ca.cert.get(), der, reference_time)),
              reject_reason::invalid_argument);
    EXPECT_EQ(reject_reason_of(validate_response(p.leaf.cert.get(), nullptr, der, reference_time)),
              reject_reason::invalid_argument);
}

// The proxy's form: the certificate named by issuer and serial, as a client's CertID names it.
TEST(validate_response_for, accepts_the_serial_the_response_answers_and_nothing_else) {
    const pki& p = pki::get();
    const bytes der = by_ca(p, single_for(p));
    const verdict v = validate_response_for(p.ca.cert.get(), X509_get0_serialNumber(p.leaf.cert.get()), der,
                                            reference_time);
    ASSERT_TRUE(v.has_value()) << v.failure().message;
    EXPECT_EQ(v->status, cert_status::good);
    EXPECT_EQ(v->der, der);

    const auto other_serial = serial_number::from_hex("7777").value().to_asn1();
    EXPECT_EQ(reject_reason_of(validate_response_for(p.ca.cert.get(), other_serial.get(), der, reference_time)),
              reject_reason::no_matching_response);
    EXPECT_EQ(reject_reason_of(validate_response_for(p.ca.cert.get(), nullptr, der, reference_time)),
              reject_reason::invalid_argument);
    EXPECT_EQ(reject_reason_of(validate_response_for(nullptr, other_serial.get(), der, reference_time)),
              reject_reason::invalid_argument);
}

TEST(validate_response, leaves_no_openssl_errors_behind) {
    const pki& p = pki::get();
    ERR_clear_error();
    (void)validate_response(p.leaf.cert.get(), p.ca.cert.get(), bytes{0x30, 0x03, 0x0a, 0x01}, reference_time);
    (void)validate_response(p.leaf.cert.get(), p.ca.cert.get(), by_ca(p, single_for(p)), reference_time);
    EXPECT_EQ(ERR_peek_error(), 0UL);
}

TEST(validate_response, reason_names_are_distinct) {
    std::set<std::string_view> names;
    constexpr int first = static_cast<int>(reject_reason::too_large);
    constexpr int last = static_cast<int>(reject_reason::unsupported_critical_extension);
    for (int r = first; r <= last; ++r) names.insert(to_string(static_cast<reject_reason>(r)));
    EXPECT_EQ(names.size(), static_cast<std::size_t>(last - first + 1));
    EXPECT_EQ(names.count("invalid"), 0U);
}

}  // namespace
}  // namespace ocspkit::stapler
