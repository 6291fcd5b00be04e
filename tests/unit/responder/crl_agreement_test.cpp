// The rule under the responder's "the CRL and OCSP never disagree": for every combination of status,
// reason, invalidity date and expiry an index row can hold, the CRL built from the rows (crl_builder)
// and the status the responder signs for the same row (answer.cpp map_status) say the same thing, both
// ways, under a grace and with `keep`. The integration test (tests/integration/responder/test_crl.py)
// checks the same over HTTP against the running responder.
#include <map>

#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/asn1_time.hpp"
#include "crl/crl_builder.hpp"
#include "responder/answer.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::responder {
namespace {

using namespace std::chrono_literals;
using schema::cert_record;
using schema::cert_status;
using schema::revocation_reason;
const sys_seconds t0 = test::reference_time;

struct listed_entry {
    sys_seconds revocation_date;
    std::optional<long> reason;
    std::optional<sys_seconds> invalidity;
};

std::map<std::string, listed_entry> entries_of(const std::vector<std::uint8_t>& der) {
    const unsigned char* p = der.data();
    ossl::x509_crl_ptr crl{d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size()))};
    EXPECT_TRUE(crl);
    std::map<std::string, listed_entry> out;
    STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl.get());
    for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
        X509_REVOKED* e = sk_X509_REVOKED_value(entries, i);
        listed_entry l{*from_asn1_time(X509_REVOKED_get0_revocationDate(e)), std::nullopt, std::nullopt};
        ossl::asn1_enumerated_ptr code{static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(e, NID_crl_reason, nullptr, nullptr))};
        if (code) l.reason = ASN1_ENUMERATED_get(code.get());
        ossl::asn1_generalizedtime_ptr inv{
            static_cast<ASN1_GENERALIZEDTIME*>(X509_REVOKED_get_ext_d2i(e, NID_invalidity_date, nullptr, nullptr))};
        if (inv) l.invalidity = from_asn1_time(inv.get());
        out.emplace(serial_number::from_asn1(X509_REVOKED_get0_serialNumber(e))->to_hex(), l);
    }
    return out;
}

// Every row an index can hold, one serial each.
std::vector<cert_record> every_kind_of_row() {
    std::vector<cert_record> rows;
    int n = 0x100;
    const std::vector<std::optional<sys_seconds>> expiries{t0 + 24h * 365, t0 - 24h * 10, t0 - 24h * 400, std::nullopt};
    const std::vector<std::optional<revocation_reason>> reasons{
        std::nullopt, revocation_reason::unspecified, revocation_reason::key_compromise,
        revocation_reason::ca_compromise, revocation_reason::affiliation_changed, revocation_reason::superseded,
        revocation_reason::cessation_of_operation, revocation_reason::privilege_withdrawn,
        revocation_reason::aa_compromise};
    for (const auto& not_after : expiries) {
        auto add = [&](cert_status status, std::optional<revocation_reason> reason, std::optional<sys_seconds> invalidity) {
            cert_record r;
            r.issuer_id = 1;
            r.serial = *serial_number::from_bytes({static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n & 0xff)});
            ++n;
            r.not_after = not_after;
            r.status = status;
            if (status != cert_status::good) r.revocation_time = t0 - std::chrono::hours{n};
            r.reason = reason;
            r.invalidity_date = invalidity;
            EXPECT_TRUE(schema::check_consistency(r).has_value()) << r.serial.to_hex();
            rows.push_back(r);
        };
        add(cert_status::good, std::nullopt, std::nullopt);
        add(cert_status::hold, revocation_reason::certificate_hold, std::nullopt);
        for (const auto& reason : reasons) {
            add(cert_status::revoked, reason, std::nullopt);
            add(cert_status::revoked, reason, t0 - 24h * 3);
        }
    }
    return rows;
}

class crl_agreement : public testing::TestWithParam<std::optional<std::chrono::seconds>> {};

TEST_P(crl_agreement, every_row_says_the_same_on_the_crl_and_in_ocsp) {
    const auto ca = test::make_ca("Agreement CA");
    auto signer = crl::crl_signer::make(ossl::up_ref(ca.cert.get()), ossl::up_ref(ca.key.get()), false, "ca", "key");
    ASSERT_TRUE(signer.has_value()) << signer.error_message();
    const crl::crl_policy policy{24h * 7, GetParam()};
    const auto rows = every_kind_of_row();
    auto built = crl::build_crl(*signer, policy, 1, t0, rows);
    ASSERT_TRUE(built.has_value()) << built.error_message();
    const auto listed = entries_of(built->der);
    issuer_profile profile;
    std::size_t revoked_in_ocsp = 0;
    for (const auto& row : rows) {
        const auto st = map_status(row, profile, t0);
        const auto hex = row.serial.to_hex();
        const auto found = listed.find(hex);
        if (found != listed.end()) {
            // On the CRL: revoked in OCSP, same time, same reason (both leave unspecified out), same
            // invalidity date.
            EXPECT_EQ(st.state, cert_state::revoked) << hex;
            EXPECT_EQ(st.revocation_time, found->second.revocation_date) << hex;
            const std::optional<long> ocsp_reason =
                st.reason ? std::optional<long>(static_cast<long>(*st.reason)) : std::nullopt;
            EXPECT_EQ(ocsp_reason, found->second.reason) << hex;
            EXPECT_EQ(st.invalidity_date, found->second.invalidity) << hex;
        }
        if (st.state == cert_state::revoked) {
            ++revoked_in_ocsp;
            // Revoked in OCSP: on the CRL unless it expired before the CRL's stated scope.
            const bool in_scope = !GetParam() || !row.not_after || *row.not_after >= built->expired_certs_on_crl;
            EXPECT_EQ(found != listed.end(), in_scope) << hex;
        } else {
            EXPECT_EQ(found, listed.end()) << hex << " is good in OCSP and on the CRL";
        }
    }
    EXPECT_EQ(listed.size() + built->expired_left_off, revoked_in_ocsp);
    if (!GetParam()) {
        EXPECT_EQ(built->expired_left_off, 0u) << "keep lists every revocation";
    } else {
        EXPECT_GT(built->expired_left_off, 0u) << "the table has rows past the grace";
    }
}

INSTANTIATE_TEST_SUITE_P(grace, crl_agreement,
                         testing::Values(std::optional<std::chrono::seconds>{24h * 30},
                                         std::optional<std::chrono::seconds>{}),
                         [](const testing::TestParamInfo<std::optional<std::chrono::seconds>>& p) {
                             return std::string(p.param ? "grace_30d" : "keep");
                         });

}  // namespace
}  // namespace ocspkit::responder
