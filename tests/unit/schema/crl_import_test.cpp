// Importing a CA's CRLs into the index on both backends (crl/crl_import.hpp): the listed serials become
// revoked or held in one transaction with the CRL's number; the same CRL again writes nothing; an older
// CRL, another CA's CRL and a malformed one are refused with the index unchanged; a delta CRL applies
// on top of its base and lifts a hold with removeFromCRL; the next full CRL lifts a hold it leaves off
// and keeps a permanent revocation it leaves off; every change is audited.
#include "crl/crl_import.hpp"

#include <gtest/gtest.h>

#include "common/pem.hpp"
#include "tests/support/test_crl.hpp"
#include "tests/unit/schema/index_backends.hpp"

namespace ocspkit::schema {
namespace {

using namespace std::chrono_literals;
using test::crl_spec;
const sys_seconds t0 = test::reference_time;

test::crl_entry_spec entry(const char* hex, std::optional<int> reason, sys_seconds when = t0 - 1h) {
    return {hex, when, reason, std::nullopt, std::nullopt};
}

class crl_import_test : public test::index_fixture {
protected:
    test::issued ca = test::make_ca("CRL Import CA");
    std::int64_t issuer_id = index.add_issuer(ca.cert.get(), t0 - 24h * 30);

    issuer_record issuer() { return *index.find_issuer(issuer_id); }

    result<crl::crl_import_report> import(const crl_spec& spec, const test::issued* signer = nullptr) {
        const auto der = test::make_crl(signer ? *signer : ca, spec);
        return crl::import_crl(index, issuer(), der, spec.this_update + 1h);
    }
    crl::crl_import_report imported(const crl_spec& spec) {
        auto r = import(spec);
        EXPECT_TRUE(r.has_value()) << r.error_message();
        return r ? std::move(r).value() : crl::crl_import_report{};
    }
    cert_status status_of(const char* hex) {
        const auto r = index.find_certificate(issuer_id, *serial_number::from_hex(hex));
        EXPECT_TRUE(r.has_value()) << hex;
        return r ? r->status : cert_status::good;
    }
    // Everything an import could change, to compare before and after a refusal.
    std::pair<std::int64_t, std::size_t> fingerprint() {
        return {index.current_change_seq(), index.list_audit({}).size()};
    }
};

INSTANTIATE_TEST_SUITE_P(backends, crl_import_test, testing::ValuesIn(test::all_backends), test::backend_name);

TEST_P(crl_import_test, a_full_crl_revokes_and_holds_its_serials_once) {
    crl_spec first;
    first.number_hex = "05";
    first.entries = {entry("1001", 1), entry("1002", 6), entry("1003", std::nullopt)};
    const auto r = imported(first);
    EXPECT_EQ(r.counts.added, 3u);
    EXPECT_FALSE(r.already_imported);
    EXPECT_GT(r.change_seq, 0);
    EXPECT_EQ(status_of("1001"), cert_status::revoked);
    EXPECT_EQ(status_of("1002"), cert_status::hold);
    const auto kc = index.find_certificate(issuer_id, *serial_number::from_hex("1001"));
    EXPECT_EQ(kc->reason, revocation_reason::key_compromise);
    EXPECT_EQ(kc->revocation_time, t0 - 1h);
    EXPECT_FALSE(kc->cert_der.has_value());

    const auto before = fingerprint();
    const auto again = imported(first);
    EXPECT_TRUE(again.already_imported);
    EXPECT_EQ(fingerprint(), before) << "the same CRL again writes nothing, not even an audit row";

    const auto audit = index.list_audit({});
    ASSERT_GE(audit.size(), 4u);
    EXPECT_NE(audit.back().entry.detail.find("import-crl: CRL 0x05"), std::string::npos) << audit.back().entry.detail;
}

TEST_P(crl_import_test, refusals_leave_the_index_unchanged) {
    crl_spec current;
    current.number_hex = "10";
    current.entries = {entry("01", 6)};
    imported(current);
    const auto before = fingerprint();

    crl_spec older;
    older.number_hex = "0F";  // lists nothing: would lift 01's hold if it were taken
    older.this_update = t0 - 24h;
    auto r = import(older);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.code(), errc::conflict);
    EXPECT_NE(r.error_message().find("older than the last CRL imported"), std::string::npos) << r.error_message();

    const auto other = test::make_ca("Another CA");
    crl_spec foreign;
    foreign.number_hex = "20";
    r = import(foreign, &other);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.code(), errc::unauthorized);

    auto der = test::make_crl(ca, crl_spec{});
    der.resize(der.size() / 2);
    r = crl::import_crl(index, issuer(), der, t0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.code(), errc::malformed);

    EXPECT_EQ(fingerprint(), before);
    EXPECT_EQ(status_of("01"), cert_status::hold);
}

TEST_P(crl_import_test, delta_and_next_full_crl_lift_holds_never_permanent_revocations) {
    crl_spec base;
    base.number_hex = "10";
    base.entries = {entry("01", 6), entry("02", 6), entry("03", 1), entry("04", 6)};
    imported(base);

    crl_spec delta;
    delta.number_hex = "11";
    delta.delta_base_hex = "10";
    delta.this_update = t0 + 1h;
    delta.entries = {entry("01", 8), entry("03", 8), entry("05", 4)};
    const auto d = imported(delta);
    EXPECT_EQ(d.counts.lifted, 1u);
    EXPECT_EQ(d.counts.added, 1u);
    EXPECT_EQ(d.counts.kept, 1u);
    ASSERT_EQ(d.warnings.size(), 1u);
    EXPECT_EQ(status_of("01"), cert_status::good);
    EXPECT_EQ(status_of("03"), cert_status::revoked) << "removeFromCRL never lifts keyCompromise";
    EXPECT_EQ(status_of("05"), cert_status::revoked);

    // A delta on a base newer than the last full CRL imported is refused until that base comes.
    crl_spec ahead;
    ahead.number_hex = "13";
    ahead.delta_base_hex = "12";
    ahead.this_update = t0 + 2h;
    EXPECT_EQ(import(ahead).code(), errc::conflict);

    crl_spec next;
    next.number_hex = "12";
    next.this_update = t0 + 3h;
    next.entries = {entry("02", 6), entry("05", 4)};  // 03 and 04 left off
    const auto f = imported(next);
    EXPECT_EQ(f.counts.lifted, 1u);
    EXPECT_EQ(f.counts.kept, 1u);
    EXPECT_EQ(status_of("02"), cert_status::hold);
    EXPECT_EQ(status_of("03"), cert_status::revoked);
    EXPECT_EQ(status_of("04"), cert_status::good);
    ahead.this_update = t0 + 4h;
    const auto on_new_base = import(ahead);
    EXPECT_TRUE(on_new_base.has_value()) << on_new_base.error_message();
}

TEST_P(crl_import_test, imported_certificates_keep_their_data_and_a_disabled_issuer_is_refused) {
    const auto leaf = test::make_cert(ca, "leaf", test::key_type::ec_p256, {.serial_hex = "2A"});
    {
        const auto batch = index.begin_write();
        cert_record r;
        r.issuer_id = issuer_id;
        r.serial = *serial_number::from_hex("2A");
        r.not_after = t0 + 24h * 365;
        r.subject = "/CN=leaf";
        r.cert_der = der_of(leaf.cert.get());
        ASSERT_TRUE(batch->merge(r).has_value());
        batch->commit();
    }
    crl_spec s;
    s.number_hex = "01";
    s.entries = {entry("2A", 1)};
    EXPECT_EQ(imported(s).counts.revoked, 1u);
    const auto row = index.find_certificate(issuer_id, *serial_number::from_hex("2A"));
    EXPECT_EQ(row->status, cert_status::revoked);
    EXPECT_TRUE(row->cert_der.has_value());
    EXPECT_EQ(row->subject, "/CN=leaf");

    index.set_issuer_enabled(issuer_id, false);
    s.number_hex = "02";
    s.this_update = t0 + 1h;
    EXPECT_EQ(import(s).code(), errc::unauthorized);
}

}  // namespace
}  // namespace ocspkit::schema
