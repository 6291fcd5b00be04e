// crl_reader: CRLs as CAs write them (tests/support/test_crl.hpp) read back field by field, in DER and
// PEM; every shape the import must refuse, with the reason in the message; and the signature check
// against the right CA, another CA, another key under the same name and a CA without cRLSign.
#include "crl/crl_reader.hpp"

#include <gtest/gtest.h>

#include "tests/support/test_crl.hpp"

namespace ocspkit::crl {
namespace {

using namespace std::chrono_literals;
using schema::revocation_reason;
using test::crl_spec;
const sys_seconds t0 = test::reference_time;

class crl_reader_test : public testing::Test {
protected:
    test::issued ca = test::make_ca("Reader CA");

    result<crl_contents> read(const crl_spec& spec) {
        const auto der = test::make_crl(ca, spec);
        return parse_crl(der);
    }
};

TEST_F(crl_reader_test, reads_every_field_of_a_full_crl) {
    crl_spec spec;
    spec.number_hex = "0102030405060708090A0B0C0D0E0F1011121314";  // 20 octets
    spec.entries = {{"1001", t0 - 2h, 1, t0 - 48h, std::nullopt},
                    {"1002", t0 - 3h, 6, std::nullopt, "1.2.840.10040.2.2"},
                    {"1003", t0 - 4h, std::nullopt, std::nullopt, std::nullopt},
                    {"1004", t0 - 5h, 0, std::nullopt, std::nullopt}};
    for (const bool pem : {false, true}) {
        spec.pem = pem;
        const auto crl = read(spec);
        ASSERT_TRUE(crl.has_value()) << crl.error_message();
        EXPECT_EQ(crl->number.to_hex(), "0102030405060708090A0B0C0D0E0F1011121314");
        EXPECT_FALSE(crl->is_delta());
        EXPECT_EQ(crl->this_update, t0);
        EXPECT_EQ(crl->next_update, t0 + 24h * 7);
        EXPECT_EQ(crl->issuer, "CN=Reader CA");
        ASSERT_EQ(crl->entries.size(), 4u);
        const auto& kc = crl->entries[0];
        EXPECT_EQ(kc.serial.to_hex(), "1001");
        EXPECT_EQ(kc.revocation_date, t0 - 2h);
        EXPECT_EQ(kc.reason, revocation_reason::key_compromise);
        EXPECT_EQ(kc.invalidity_date, t0 - 48h);
        const auto& hold = crl->entries[1];
        EXPECT_TRUE(hold.is_hold());
        EXPECT_EQ(hold.hold_instruction, "1.2.840.10040.2.2");
        EXPECT_FALSE(crl->entries[2].reason.has_value());
        EXPECT_FALSE(crl->entries[3].reason.has_value()) << "unspecified reads as no reasonCode";
        EXPECT_TRUE(check_crl_signed_by(*crl, ca.cert.get()).has_value());
    }
}

TEST_F(crl_reader_test, reads_a_delta_crl_and_remove_from_crl) {
    crl_spec spec;
    spec.number_hex = "0A";
    spec.delta_base_hex = "08";
    spec.entries = {{"1002", t0 - 1h, 8, std::nullopt, std::nullopt}};
    const auto crl = read(spec);
    ASSERT_TRUE(crl.has_value()) << crl.error_message();
    ASSERT_TRUE(crl->is_delta());
    EXPECT_EQ(crl->delta_base->to_hex(), "08");
    EXPECT_TRUE(crl->entries.at(0).is_removal());
}

test::crl_entry_spec entry(const char* hex, std::optional<int> reason = std::nullopt) {
    return {hex, t0 - 1h, reason, std::nullopt, std::nullopt};
}

struct refusal {
    const char* name;
    crl_spec spec;
    errc code;
    const char* words;
};

std::vector<refusal> refusals() {
    std::vector<refusal> out;
    auto add = [&](const char* name, auto edit, errc code, const char* words) {
        crl_spec s;
        edit(s);
        out.push_back({name, s, code, words});
    };
    add("version1", [](crl_spec& s) { s.version1 = true; }, errc::unsupported, "version 1");
    add("no_number", [](crl_spec& s) { s.number_hex.reset(); }, errc::unsupported, "no cRLNumber");
    add("unknown_critical", [](crl_spec& s) { s.unknown_critical_extension = true; }, errc::unsupported,
        "1.3.6.1.4.1.99999.7");
    add("indirect", [](crl_spec& s) { s.indirect = true; }, errc::unsupported, "indirect CRL");
    add("duplicate_serial", [](crl_spec& s) { s.entries = {entry("05"), entry("05")}; }, errc::malformed,
        "listed twice");
    add("delta_base_not_older", [](crl_spec& s) { s.number_hex = "05"; s.delta_base_hex = "05"; }, errc::malformed,
        "not older");
    add("bad_reason", [](crl_spec& s) { s.entries = {entry("05", 7)}; }, errc::malformed, "reasonCode 7");
    add("next_before_this", [](crl_spec& s) { s.next_update = s.this_update - 1h; }, errc::malformed,
        "nextUpdate is before thisUpdate");
    return out;
}

TEST_F(crl_reader_test, refuses_what_the_import_cannot_apply) {
    for (const auto& r : refusals()) {
        SCOPED_TRACE(r.name);
        const auto crl = read(r.spec);
        ASSERT_FALSE(crl.has_value());
        EXPECT_EQ(crl.code(), r.code) << crl.error_message();
        EXPECT_NE(crl.error_message().find(r.words), std::string::npos) << crl.error_message();
    }
}

TEST_F(crl_reader_test, refuses_broken_bytes) {
    auto der = test::make_crl(ca, {});
    EXPECT_FALSE(parse_crl({}).has_value());
    auto trailing = der;
    trailing.push_back(0);
    const auto t = parse_crl(trailing);
    ASSERT_FALSE(t.has_value());
    EXPECT_NE(t.error_message().find("1 bytes after"), std::string::npos) << t.error_message();
    der.resize(der.size() - 5);
    EXPECT_EQ(parse_crl(der).code(), errc::malformed);
    const std::string pem = "-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n";
    EXPECT_EQ(parse_crl({reinterpret_cast<const std::uint8_t*>(pem.data()), pem.size()}).code(), errc::malformed);
}

TEST_F(crl_reader_test, signature_check_names_what_is_wrong) {
    const auto crl = read({});
    ASSERT_TRUE(crl.has_value());
    const auto other = test::make_ca("Other CA");
    auto r = check_crl_signed_by(*crl, other.cert.get());
    EXPECT_EQ(r.code(), errc::unauthorized);
    EXPECT_NE(r.error_message().find("not the CA"), std::string::npos) << r.error_message();

    // Same name, another key: the authority key identifier says so; without one, the signature does.
    const auto twin = test::make_ca("Reader CA");
    r = check_crl_signed_by(*crl, twin.cert.get());
    EXPECT_NE(r.error_message().find("authority key identifier"), std::string::npos) << r.error_message();
    crl_spec no_akid;
    no_akid.authority_key_id = false;
    const auto bare = read(no_akid);
    ASSERT_TRUE(bare.has_value());
    r = check_crl_signed_by(*bare, twin.cert.get());
    EXPECT_NE(r.error_message().find("signature does not verify"), std::string::npos) << r.error_message();
    EXPECT_TRUE(check_crl_signed_by(*bare, ca.cert.get()).has_value());

    // A certificate whose keyUsage lacks cRLSign may not sign CRLs, even with the right key.
    const auto leaf = test::make_cert(ca, "Leaf");
    const auto by_leaf = parse_crl(test::make_crl(leaf, {}));
    ASSERT_TRUE(by_leaf.has_value()) << by_leaf.error_message();
    r = check_crl_signed_by(*by_leaf, leaf.cert.get());
    EXPECT_NE(r.error_message().find("lacks cRLSign"), std::string::npos) << r.error_message();
}

}  // namespace
}  // namespace ocspkit::crl
