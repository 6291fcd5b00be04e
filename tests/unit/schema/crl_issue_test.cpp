// CRLs from the index on both backends (crl/crl_issue.hpp over index_store::take_crl_snapshot): CRL
// numbers start at 1 and strictly increase per issuer, and survive a restore of an older backup; the
// snapshot lists exactly the revoked and held certificates, a lifted hold leaves the next CRL; a
// disabled issuer and a signer of another CA are refused.
#include "crl/crl_issue.hpp"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "schema/cert_index.hpp"
#include "tests/unit/schema/index_backends.hpp"

namespace ocspkit::schema {
namespace {

using namespace std::chrono_literals;
const sys_seconds t0 = test::reference_time;

cert_record cert(std::int64_t issuer, const std::string& hex, cert_status status = cert_status::good,
                 std::optional<revocation_reason> reason = std::nullopt) {
    cert_record r;
    r.issuer_id = issuer;
    r.serial = *serial_number::from_hex(hex);
    r.not_after = t0 + 24h * 365;
    r.subject = "/CN=" + hex;
    r.status = status;
    if (status != cert_status::good) r.revocation_time = t0 - 1h;
    r.reason = reason;
    return r;
}

crl::crl_signer signer_of(const test::issued& ca) {
    auto s = crl::crl_signer::make(ossl::up_ref(ca.cert.get()), ossl::up_ref(ca.key.get()), false, "ca", "key");
    EXPECT_TRUE(s.has_value()) << s.error_message();
    return std::move(s).value();
}

// The serials a CRL lists, in its (sorted) order.
std::vector<std::string> serials_of(const crl::built_crl& built) {
    const unsigned char* p = built.der.data();
    ossl::x509_crl_ptr crl{d2i_X509_CRL(nullptr, &p, static_cast<long>(built.der.size()))};
    EXPECT_TRUE(crl);
    std::vector<std::string> out;
    STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl.get());
    for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i)
        out.push_back(serial_number::from_asn1(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i)))->to_hex());
    return out;
}

class crl_issue_test : public test::index_fixture {
protected:
    test::issued ca = test::make_ca("CRL Issue CA");
    std::int64_t issuer = index.add_issuer(ca.cert.get(), t0);
    crl::crl_signer signer = signer_of(ca);
    crl::crl_policy policy{24h, 24h * 30};

    void put(const cert_record& r) {
        const auto batch = index.begin_write();
        auto outcome = batch->merge(r);
        ASSERT_TRUE(outcome.has_value()) << outcome.error_message();
        batch->commit();
    }
    crl::issued_crl issue(sys_seconds now = t0) {
        auto issued = crl::issue_crl(index, issuer, signer, policy, now);
        EXPECT_TRUE(issued.has_value()) << issued.error_message();
        return issued ? std::move(issued).value() : crl::issued_crl{};
    }
};

INSTANTIATE_TEST_SUITE_P(backends, crl_issue_test, testing::ValuesIn(test::all_backends), test::backend_name);

TEST_P(crl_issue_test, numbers_start_at_one_and_strictly_increase_per_issuer) {
    EXPECT_EQ(issue().crl.number, 1);
    EXPECT_EQ(issue().crl.number, 2);
    EXPECT_EQ(issue().crl.number, 3);
    // Another CA has its own sequence (RFC 5280 §5.2.3: per CRL issuer).
    const auto other = test::make_ca("Other CRL CA");
    const auto other_id = index.add_issuer(other.cert.get(), t0);
    auto first = crl::issue_crl(index, other_id, signer_of(other), policy, t0);
    ASSERT_TRUE(first.has_value()) << first.error_message();
    EXPECT_EQ(first->crl.number, 1);
    EXPECT_EQ(issue().crl.number, 4);
    // A number is a write: another connection to the same index continues the sequence.
    const auto again = open_index_store(db, sqlite::open_mode::read_write);
    auto next = crl::issue_crl(*again, issuer, signer, policy, t0);
    ASSERT_TRUE(next.has_value()) << next.error_message();
    EXPECT_EQ(next->crl.number, 5);
}

TEST_P(crl_issue_test, lists_revoked_and_held_certificates_and_drops_a_lifted_hold) {
    put(cert(issuer, "10"));
    put(cert(issuer, "11", cert_status::revoked, revocation_reason::key_compromise));
    put(cert(issuer, "12", cert_status::hold, revocation_reason::certificate_hold));
    put(cert(issuer, "0100", cert_status::revoked));
    const auto before = index.current_change_seq();
    auto first = issue();
    EXPECT_EQ(serials_of(first.crl), (std::vector<std::string>{"11", "12", "0100"}));
    EXPECT_GE(first.change_seq, before);

    put(cert(issuer, "12"));  // the hold is lifted: good again
    auto second = issue();
    EXPECT_EQ(serials_of(second.crl), (std::vector<std::string>{"11", "0100"}));
    EXPECT_GT(second.crl.number, first.crl.number);
    EXPECT_GT(second.change_seq, first.change_seq);
}

TEST_P(crl_issue_test, taking_a_number_does_not_move_the_change_counter) {
    const auto before = index.current_change_seq();
    issue();
    EXPECT_EQ(index.current_change_seq(), before) << "responders would re-read for nothing";
}

TEST_P(crl_issue_test, a_disabled_issuer_gets_no_crl) {
    index.set_issuer_enabled(issuer, false);
    auto refused = crl::issue_crl(index, issuer, signer, policy, t0);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.code(), make_error_code(errc::unauthorized)) << refused.error_message();
}

TEST_P(crl_issue_test, a_signer_of_another_ca_is_refused) {
    const auto other = test::make_ca("Other CRL CA");
    index.add_issuer(other.cert.get(), t0);
    auto refused = crl::issue_crl(index, issuer, signer_of(other), policy, t0);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.code(), make_error_code(errc::conflict)) << refused.error_message();
}

TEST_P(crl_issue_test, an_unknown_issuer_is_not_found) {
    auto refused = crl::issue_crl(index, issuer + 100, signer, policy, t0);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.code(), make_error_code(errc::not_found));
}

// SQLite only: backup and restore are pg_dump/pg_restore on PostgreSQL.
TEST(crl_numbers_sqlite, restoring_an_older_backup_never_takes_the_number_back) {
    test::temp_dir dir;
    const auto db = dir / "index.db";
    const auto ca = test::make_ca("Restore CRL CA");
    auto index = cert_index::open(db, sqlite::open_mode::read_write_create);
    const auto issuer = index.add_issuer(ca.cert.get(), t0);
    const auto signer = signer_of(ca);
    const crl::crl_policy policy{24h, 24h * 30};
    auto number = [&] {
        auto issued = crl::issue_crl(index, issuer, signer, policy, t0);
        EXPECT_TRUE(issued.has_value()) << issued.error_message();
        return issued ? issued->crl.number : 0;
    };
    EXPECT_EQ(number(), 1);
    EXPECT_EQ(number(), 2);
    cert_index::backup_to(db, dir / "backup.db", std::chrono::milliseconds{5000});
    EXPECT_EQ(number(), 3);
    EXPECT_EQ(number(), 4);
    cert_index::restore_from(dir / "backup.db", db, std::chrono::milliseconds{5000}, audit_context{"root", {}, "restore", t0});
    auto reopened = cert_index::open(db, sqlite::open_mode::read_write);
    auto issued = crl::issue_crl(reopened, issuer, signer, policy, t0);
    ASSERT_TRUE(issued.has_value()) << issued.error_message();
    EXPECT_EQ(issued->crl.number, 5) << "the backup's 2 would repeat numbers clients have seen";
}

// Foreign SQLite clients (triggers on) cannot move a CRL number back or delete it.
TEST(crl_numbers_sqlite, foreign_writers_cannot_lower_or_delete_a_number) {
    test::temp_dir dir;
    const auto db = dir / "index.db";
    const auto ca = test::make_ca("Foreign CRL CA");
    auto index = cert_index::open(db, sqlite::open_mode::read_write_create);
    const auto issuer = index.add_issuer(ca.cert.get(), t0);
    ASSERT_TRUE(crl::issue_crl(index, issuer, signer_of(ca), {24h, 24h * 30}, t0).has_value());
    sqlite::connection foreign(db, sqlite::open_mode::read_write);
    EXPECT_THROW(foreign.exec("UPDATE crl_numbers SET last_number = last_number"), sqlite::sqlite_error);
    EXPECT_THROW(foreign.exec("DELETE FROM crl_numbers"), sqlite::sqlite_error);
}

}  // namespace
}  // namespace ocspkit::schema
