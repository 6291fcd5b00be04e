// The certificate index: schema versions, issuers, the merge rules of a write batch, and change tracking
// for our own writes and for foreign ones (raw SQL from another client, through the triggers).
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/pem.hpp"
#include "schema/cert_index.hpp"
#include "schema/migrations.hpp"
#include "schema/index_store.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/unit/schema/index_backends.hpp"

namespace ocspkit::schema {
namespace {

using namespace std::chrono_literals;
using sqlite::open_mode;

const sys_seconds t0 = test::reference_time;

cert_record good_cert(std::int64_t issuer, const std::string& hex) {
    cert_record r;
    r.issuer_id = issuer;
    r.serial = *serial_number::from_hex(hex);
    r.not_after = t0 + 24h * 365;
    r.subject = "/CN=" + hex;
    return r;
}

cert_record revoked_cert(std::int64_t issuer, const std::string& hex, revocation_reason reason) {
    auto r = good_cert(issuer, hex);
    r.status = reason == revocation_reason::certificate_hold ? cert_status::hold : cert_status::revoked;
    r.revocation_time = t0 - 1h;
    r.reason = reason;
    return r;
}

// A client that is not ocspkit: a plain connection, triggers on (as the sqlite3 CLI would have them).
std::int64_t foreign_exec(const std::filesystem::path& db, const std::string& sql) {
    sqlite::connection conn(db, open_mode::read_write_create);
    conn.exec(sql);
    return conn.changes();
}

std::int64_t foreign_query_int(const std::filesystem::path& db, const std::string& sql) {
    sqlite::connection conn(db, open_mode::read_only);
    auto s = conn.prepare(sql);
    EXPECT_TRUE(s.step()) << sql;
    return s.column_int(0);
}

// The SQLite file itself: PRAGMAs, foreign clients through the triggers, locks.
class cert_index_test : public testing::Test {
protected:
    test::temp_dir dir;
    std::filesystem::path db = dir / "index.db";
    test::issued ca = test::make_ca("Schema Test CA");
    cert_index index = cert_index::open(db, open_mode::read_write_create);
    std::int64_t issuer = index.add_issuer(ca.cert.get(), t0);

    void put(const cert_record& r) {
        const auto batch_owner = index.begin_write();
        auto& batch = *batch_owner;
        auto outcome = batch.merge(r);
        ASSERT_TRUE(outcome.has_value()) << outcome.error_message();
        batch.commit();
    }
};

// What both backends must answer the same (index_backends.hpp).
class index_store_test : public test::index_fixture {
protected:
    test::issued ca = test::make_ca("Schema Test CA");
    std::int64_t issuer = index.add_issuer(ca.cert.get(), t0);

    void put(const cert_record& r) {
        const auto batch_owner = index.begin_write();
        auto outcome = batch_owner->merge(r);
        ASSERT_TRUE(outcome.has_value()) << outcome.error_message();
        batch_owner->commit();
    }
};

INSTANTIATE_TEST_SUITE_P(backends, index_store_test, testing::ValuesIn(test::all_backends), test::backend_name);

TEST_F(cert_index_test, creates_versioned_wal_schema) {
    EXPECT_EQ(index.schema_version(), current_schema_version);
    EXPECT_EQ(foreign_query_int(db, "PRAGMA user_version"), current_schema_version);
    EXPECT_EQ(foreign_query_int(db, "PRAGMA application_id"), application_id);
    auto mode = index.connection().prepare("PRAGMA journal_mode");
    ASSERT_TRUE(mode.step());
    EXPECT_EQ(mode.column_text(0), "wal");
    auto fk = index.connection().prepare("PRAGMA foreign_keys");
    ASSERT_TRUE(fk.step());
    EXPECT_EQ(fk.column_int(0), 1);
    // Opening again (any mode) neither migrates nor changes anything.
    const auto seq = index.current_change_seq();
    auto again = cert_index::open(db, open_mode::read_write_create);
    EXPECT_EQ(again.current_change_seq(), seq);
    EXPECT_EQ(again.list_issuers().size(), 1u);
}

TEST_F(cert_index_test, newer_schema_is_refused_in_every_mode) {
    foreign_exec(db, "PRAGMA user_version = 99");
    for (auto mode : {open_mode::read_only, open_mode::read_write, open_mode::read_write_create}) {
        try {
            cert_index::open(db, mode);
            ADD_FAILURE() << "opened a version 99 database";
        } catch (const schema_error& e) {
            EXPECT_EQ(std::string{e.what()},
                      db.string() + fmt::format(": database schema version 99 is newer than this ocspkit supports ({}); upgrade ocspkit", current_schema_version));
        }
    }
}

TEST(cert_index_open, missing_file_empty_file_and_foreign_database) {
    test::temp_dir dir;
    const auto missing = dir / "missing.db";
    EXPECT_THROW(cert_index::open(missing, open_mode::read_only), schema_error);
    EXPECT_THROW(cert_index::open(missing, open_mode::read_write), schema_error);
    EXPECT_FALSE(std::filesystem::exists(missing));

    const auto other = dir / "other.db";
    foreign_exec(other, "CREATE TABLE t (x INTEGER)");
    try {
        cert_index::open(other, open_mode::read_write_create);
        ADD_FAILURE() << "migrated someone else's database";
    } catch (const schema_error& e) {
        EXPECT_EQ(std::string{e.what()}, other.string() + ": not an ocspkit database (it has tables but no schema version)");
    }
    try {
        cert_index::open(other, open_mode::read_only);
        ADD_FAILURE() << "opened someone else's database";
    } catch (const schema_error& e) {
        EXPECT_EQ(std::string{e.what()}, fmt::format("{}: not an ocspkit database (no schema); create it with `ocspctl "
                                                     "init --db {}`",
                                                     other.string(), other.string()));
    }

    const auto foreign_app = dir / "app.db";
    foreign_exec(foreign_app, "PRAGMA application_id = 1234");
    EXPECT_THROW(cert_index::open(foreign_app, open_mode::read_write_create), schema_error);
}

TEST_P(index_store_test, duplicate_issuer_is_refused_by_subject) {
    // The same CA loaded from a DER copy is still the same issuer (name + key hashes).
    test::write_der(dir / "ca.der", ca.cert.get());
    auto copy = load_certificate(dir / "ca.der");
    try {
        index.add_issuer(copy.get());
        ADD_FAILURE() << "registered the same CA twice";
    } catch (const index_error& e) {
        EXPECT_EQ(std::string{e.what()}, fmt::format("issuer {} is already registered (ID {})",
                                                     subject_rfc2253(ca.cert.get()), issuer));
    }
    EXPECT_EQ(index.list_issuers().size(), 1u);
}

TEST_P(index_store_test, issuer_lookup_by_every_hash) {
    const auto hashes = compute_issuer_hashes(ca.cert.get());
    for (auto alg : all_hash_algs) {
        auto found = index.find_issuer_by_hashes(alg, hashes[alg]);
        ASSERT_TRUE(found.has_value()) << hash_name(alg);
        EXPECT_EQ(found->id, issuer);
        EXPECT_EQ(found->hashes[alg], hashes[alg]);
    }
    auto other = test::make_ca("Other CA");
    EXPECT_FALSE(index.find_issuer_by_cert(other.cert.get()).has_value());
    const auto rec = index.find_issuer_by_cert(ca.cert.get());
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->subject, subject_rfc2253(ca.cert.get()));
    EXPECT_EQ(rec->key_id, subject_key_id(ca.cert.get()));
    EXPECT_EQ(rec->cert_der, der_of(ca.cert.get()));
    EXPECT_TRUE(rec->enabled);
}

TEST_P(index_store_test, enabling_and_disabling_issuers_counts_as_a_change) {
    const auto before = index.current_change_seq();
    index.set_issuer_enabled(issuer, false);
    EXPECT_FALSE(index.find_issuer(issuer)->enabled);
    EXPECT_EQ(index.current_change_seq(), before + 1);
    index.set_issuer_enabled(issuer, false);  // no-op
    EXPECT_EQ(index.current_change_seq(), before + 1);
    index.set_issuer_enabled(issuer, true);
    EXPECT_TRUE(index.find_issuer(issuer)->enabled);
    EXPECT_EQ(index.current_change_seq(), before + 2);
    EXPECT_THROW(index.set_issuer_enabled(issuer + 100, true), not_found_error);
}

TEST_P(index_store_test, merge_inserts_updates_and_leaves_unchanged) {
    const auto batch_owner = index.begin_write();
    auto& batch = *batch_owner;
    EXPECT_EQ(*batch.merge(good_cert(issuer, "10")), upsert_outcome::inserted);
    EXPECT_EQ(*batch.merge(good_cert(issuer, "10")), upsert_outcome::unchanged);
    EXPECT_EQ(*batch.merge(revoked_cert(issuer, "10", revocation_reason::superseded)), upsert_outcome::updated);
    EXPECT_EQ(batch.changed_rows(), 2u);
    batch.commit();
    EXPECT_EQ(index.count_certificates(), 1);
    const auto rec = index.find_certificate(issuer, *serial_number::from_hex("0010"));
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->status, cert_status::revoked);
    EXPECT_EQ(rec->reason, revocation_reason::superseded);
    EXPECT_EQ(rec->revocation_time, t0 - 1h);
}

TEST_P(index_store_test, merge_keeps_stored_certificate_and_not_before) {
    auto full = good_cert(issuer, "20");
    full.cert_der = bytes{0x30, 0x03, 0x02, 0x01, 0x20};
    full.not_before = t0 - 24h;
    put(full);
    // An index.txt line knows neither; the stored values stay.
    auto from_index = revoked_cert(issuer, "20", revocation_reason::key_compromise);
    put(from_index);
    const auto rec = index.find_certificate(issuer, full.serial);
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->cert_der, full.cert_der);
    EXPECT_EQ(rec->not_before, full.not_before);
    EXPECT_EQ(rec->status, cert_status::revoked);

    // A different certificate under the same serial is refused.
    auto other = full;
    other.status = cert_status::revoked;
    other.revocation_time = rec->revocation_time;
    other.reason = rec->reason;
    other.cert_der = bytes{0x30, 0x03, 0x02, 0x01, 0x21};
    const auto batch_owner = index.begin_write();
    auto& batch = *batch_owner;
    auto outcome = batch.merge(other);
    ASSERT_FALSE(outcome.has_value());
    EXPECT_EQ(outcome.error_message(), "serial 20: a different certificate with this serial is already stored");
}

TEST_P(index_store_test, only_a_hold_can_be_lifted) {
    put(revoked_cert(issuer, "30", revocation_reason::certificate_hold));
    put(revoked_cert(issuer, "31", revocation_reason::key_compromise));
    auto no_reason = revoked_cert(issuer, "32", revocation_reason::unspecified);
    no_reason.reason.reset();
    put(no_reason);
    put(revoked_cert(issuer, "33", revocation_reason::certificate_hold));

    const auto batch_owner = index.begin_write();
    auto& batch = *batch_owner;
    EXPECT_EQ(*batch.merge(good_cert(issuer, "30")), upsert_outcome::updated);
    auto lifted = batch.merge(good_cert(issuer, "31"));
    ASSERT_FALSE(lifted.has_value());
    EXPECT_EQ(lifted.error_message(),
              "serial 31 is revoked with reason keyCompromise; only certificateHold can be lifted (RFC 5280 §5.3.1)");
    auto to_hold = batch.merge(revoked_cert(issuer, "32", revocation_reason::certificate_hold));
    ASSERT_FALSE(to_hold.has_value());
    EXPECT_EQ(to_hold.error_message(),
              "serial 32 is revoked (no reason code); only certificateHold can be lifted (RFC 5280 §5.3.1)");
    // A hold may become a permanent revocation.
    EXPECT_EQ(*batch.merge(revoked_cert(issuer, "33", revocation_reason::key_compromise)), upsert_outcome::updated);
    batch.commit();
    EXPECT_EQ(index.find_certificate(issuer, *serial_number::from_hex("30"))->status, cert_status::good);
    EXPECT_EQ(index.find_certificate(issuer, *serial_number::from_hex("31"))->status, cert_status::revoked);
    EXPECT_EQ(index.find_certificate(issuer, *serial_number::from_hex("33"))->reason, revocation_reason::key_compromise);
}

struct inconsistent_case {
    const char* name;
    cert_record rec;
    std::string error;
};

void PrintTo(const inconsistent_case& c, std::ostream* os) { *os << c.name; }

class inconsistent_records : public testing::TestWithParam<inconsistent_case> {};

TEST_P(inconsistent_records, refused_with_reason) {
    const auto& c = GetParam();
    const auto consistent = check_consistency(c.rec);
    ASSERT_FALSE(consistent.has_value());
    EXPECT_EQ(consistent.code(), errc::malformed);
    EXPECT_EQ(consistent.failure().message, c.error);
}

cert_record with(cert_record r, const std::function<void(cert_record&)>& change) {
    change(r);
    return r;
}

std::vector<inconsistent_case> inconsistent_cases() {
    return {

        inconsistent_case{"good_with_time", with(good_cert(1, "01"), [](auto& r) { r.revocation_time = t0; }),
                          "serial 01: a good certificate cannot carry a revocation time, reason, invalidity date or "
                          "hold instruction"},
        inconsistent_case{"revoked_without_time",
                          with(revoked_cert(1, "01", revocation_reason::superseded),
                               [](auto& r) { r.revocation_time.reset(); }),
                          "serial 01: a revoked certificate needs a revocation time"},
        inconsistent_case{"revoked_with_hold_reason",
                          with(revoked_cert(1, "01", revocation_reason::superseded),
                               [](auto& r) { r.reason = revocation_reason::certificate_hold; }),
                          "serial 01: reason certificateHold means status hold, not revoked"},
        inconsistent_case{"revoked_remove_from_crl",
                          with(revoked_cert(1, "01", revocation_reason::superseded),
                               [](auto& r) { r.reason = revocation_reason::remove_from_crl; }),
                          "serial 01: removeFromCRL is not a revocation reason (RFC 5280 §5.3.1); the certificate is "
                          "good"},
        inconsistent_case{"revoked_with_hold_instruction",
                          with(revoked_cert(1, "01", revocation_reason::superseded),
                               [](auto& r) { r.hold_instruction = "1.2.840.10040.2.1"; }),
                          "serial 01: only a held certificate has a hold instruction"},
        inconsistent_case{"hold_without_time",
                          with(revoked_cert(1, "01", revocation_reason::certificate_hold),
                               [](auto& r) { r.revocation_time.reset(); }),
                          "serial 01: a held certificate needs a revocation time"},
        inconsistent_case{"hold_with_other_reason",
                          with(revoked_cert(1, "01", revocation_reason::certificate_hold),
                               [](auto& r) { r.reason = revocation_reason::key_compromise; }),
                          "serial 01: a held certificate has reason certificateHold"}};
}

INSTANTIATE_TEST_SUITE_P(
    check_consistency, inconsistent_records, testing::ValuesIn(inconsistent_cases()),
    [](const testing::TestParamInfo<inconsistent_case>& param_info) { return std::string{param_info.param.name}; });

TEST_P(index_store_test, inconsistent_records_are_refused_and_nothing_is_written) {
    put(revoked_cert(issuer, "01", revocation_reason::certificate_hold));
    const auto before = index.current_change_seq();
    const auto batch_owner = index.begin_write();
    for (const auto& c : inconsistent_cases()) {
        auto rec = c.rec;
        rec.issuer_id = issuer;
        const auto outcome = batch_owner->merge(rec);
        ASSERT_FALSE(outcome.has_value()) << c.name;
        EXPECT_EQ(outcome.code(), errc::malformed) << c.name;
        EXPECT_EQ(outcome.error_message(), c.error) << c.name;
    }
    EXPECT_EQ(batch_owner->changed_rows(), 0u);
    batch_owner->commit();
    EXPECT_EQ(index.current_change_seq(), before);
    EXPECT_EQ(index.find_certificate(issuer, *serial_number::from_hex("01"))->status, cert_status::hold);
}

TEST_P(index_store_test, unregistered_issuer_is_refused) {
    const auto batch_owner = index.begin_write();
    auto& batch = *batch_owner;
    auto outcome = batch.merge(good_cert(issuer + 41, "01"));
    ASSERT_FALSE(outcome.has_value());
    EXPECT_EQ(outcome.error_message(), fmt::format("serial 01: issuer ID {} is not registered", issuer + 41));
    EXPECT_THROW(batch.upsert(good_cert(issuer + 41, "01")), index_error);
}

TEST_P(index_store_test, uncommitted_batch_rolls_back) {
    const auto seq = index.current_change_seq();
    {
        const auto batch_owner = index.begin_write();
        auto& batch = *batch_owner;
        EXPECT_TRUE(batch.upsert(good_cert(issuer, "40")));
        EXPECT_TRUE(batch.find(issuer, *serial_number::from_hex("40")).has_value());
    }
    EXPECT_EQ(index.count_certificates(), 0);
    EXPECT_EQ(index.current_change_seq(), seq);
}

TEST_P(index_store_test, our_batch_bumps_the_counter_once_and_stamps_rows) {
    const auto before = index.current_change_seq();
    {
        const auto batch_owner = index.begin_write();
        auto& batch = *batch_owner;
        for (const char* hex : {"50", "51", "52"}) batch.upsert(good_cert(issuer, hex));
        EXPECT_EQ(batch.change_seq(), before + 1);
        batch.commit();
    }
    EXPECT_EQ(index.current_change_seq(), before + 1);
    auto changes = index.changes_since(before);
    ASSERT_EQ(changes.size(), 3u);
    for (const auto& c : changes) {
        EXPECT_EQ(c.change_seq, before + 1);
        EXPECT_EQ(c.issuer_id, issuer);
    }
    EXPECT_TRUE(index.changes_since(before + 1).empty());

    // A batch that changes nothing leaves the counter alone.
    {
        const auto batch_owner = index.begin_write();
        auto& batch = *batch_owner;
        EXPECT_FALSE(batch.upsert(good_cert(issuer, "50")));
        batch.commit();
    }
    EXPECT_EQ(index.current_change_seq(), before + 1);

    // The next change gets the next number, and only its row is listed.
    put(revoked_cert(issuer, "51", revocation_reason::superseded));
    EXPECT_EQ(index.current_change_seq(), before + 2);
    changes = index.changes_since(before + 1);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].serial.to_hex(), "51");
    EXPECT_EQ(changes[0].change_seq, before + 2);
    EXPECT_EQ(index.changes_since(0, 2).size(), 2u);
}

TEST_F(cert_index_test, foreign_update_insert_and_delete_are_tracked) {
    put(good_cert(issuer, "60"));
    put(good_cert(issuer, "61"));
    const auto seq = index.current_change_seq();

    // What an operator might type into the sqlite3 shell.
    EXPECT_EQ(foreign_exec(db, fmt::format("UPDATE certificates SET status = 1, revocation_time = {}, reason = 1 "
                                           "WHERE issuer_id = {} AND serial = x'60'",
                                           t0.time_since_epoch().count(), issuer)),
              1);
    EXPECT_EQ(index.current_change_seq(), seq + 1);
    auto changes = index.changes_since(seq);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].serial.to_hex(), "60");
    EXPECT_EQ(changes[0].change_seq, seq + 1);
    EXPECT_EQ(index.find_certificate(issuer, changes[0].serial)->status, cert_status::revoked);

    foreign_exec(db, fmt::format("INSERT INTO certificates (issuer_id, serial, not_after, subject) VALUES ({}, x'62', "
                                 "0, '/CN=62')",
                                 issuer));
    EXPECT_EQ(index.current_change_seq(), seq + 2);
    changes = index.changes_since(seq + 1);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].serial.to_hex(), "62");

    EXPECT_EQ(foreign_exec(db, "DELETE FROM certificates WHERE serial = x'61'"), 1);
    EXPECT_EQ(index.current_change_seq(), seq + 3);
    changes = index.changes_since(seq + 2);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].serial.to_hex(), "61");
    EXPECT_EQ(changes[0].change_seq, seq + 3);
    EXPECT_FALSE(index.find_certificate(issuer, changes[0].serial).has_value());

    // Two foreign statements in one transaction: each gets its own number, both are listed in order.
    foreign_exec(db, "BEGIN; UPDATE certificates SET subject = 'a' WHERE serial = x'60'; "
                     "UPDATE certificates SET subject = 'b' WHERE serial = x'62'; COMMIT;");
    changes = index.changes_since(seq + 3);
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[0].serial.to_hex(), "60");
    EXPECT_EQ(changes[1].serial.to_hex(), "62");
    EXPECT_LT(changes[0].change_seq, changes[1].change_seq);
    EXPECT_EQ(index.current_change_seq(), changes[1].change_seq);

    // Our next batch continues after the foreign numbers.
    put(good_cert(issuer, "63"));
    EXPECT_EQ(index.current_change_seq(), seq + 6);
}

TEST_F(cert_index_test, foreign_issuer_changes_bump_the_counter) {
    const auto seq = index.current_change_seq();
    foreign_exec(db, "UPDATE issuers SET enabled = 0");
    EXPECT_EQ(index.current_change_seq(), seq + 1);
    EXPECT_FALSE(index.find_issuer(issuer)->enabled);
    put(good_cert(issuer, "70"));
    // An issuer with certificates cannot be deleted behind our back, even with foreign keys off.
    EXPECT_THROW(foreign_exec(db, "DELETE FROM issuers"), sqlite::sqlite_error);
}

struct bad_sql_case {
    const char* name;
    std::string values;  // (serial, status, revocation_time, reason, hold_instruction)
};

void PrintTo(const bad_sql_case& c, std::ostream* os) { *os << c.name; }

class schema_checks : public cert_index_test, public testing::WithParamInterface<bad_sql_case> {};

TEST_P(schema_checks, refuse_foreign_rows) {
    const auto sql = fmt::format("INSERT INTO certificates (issuer_id, serial, status, revocation_time, reason, "
                                 "hold_instruction) VALUES ({}, {})",
                                 issuer, GetParam().values);
    EXPECT_THROW(foreign_exec(db, sql), sqlite::sqlite_error) << sql;
    EXPECT_EQ(index.count_certificates(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    constraints, schema_checks,
    testing::Values(bad_sql_case{"serial_21_octets", "x'0102030405060708090A0B0C0D0E0F101112131415', 0, NULL, NULL, NULL"},
                    bad_sql_case{"serial_leading_zero", "x'0001', 0, NULL, NULL, NULL"},
                    bad_sql_case{"serial_empty", "x'', 0, NULL, NULL, NULL"},
                    bad_sql_case{"serial_as_text", "'1000', 0, NULL, NULL, NULL"},
                    bad_sql_case{"status_3", "x'01', 3, 1, NULL, NULL"},
                    bad_sql_case{"revoked_without_time", "x'01', 1, NULL, 1, NULL"},
                    bad_sql_case{"good_with_time", "x'01', 0, 1, NULL, NULL"},
                    bad_sql_case{"hold_without_hold_reason", "x'01', 2, 1, 1, NULL"},
                    bad_sql_case{"revoked_with_hold_reason", "x'01', 1, 1, 6, NULL"},
                    bad_sql_case{"reason_7", "x'01', 1, 1, 7, NULL"},
                    bad_sql_case{"reason_remove_from_crl", "x'01', 1, 1, 8, NULL"},
                    bad_sql_case{"instruction_without_hold", "x'01', 1, 1, 1, '1.2.3'"}),
    [](const testing::TestParamInfo<bad_sql_case>& param_info) { return std::string{param_info.param.name}; });

TEST_F(cert_index_test, locked_database_fails_with_busy) {
    const auto holder = index.begin_write();
    auto other = cert_index::open(db, open_mode::read_write, 50ms);
    try {
        const auto batch = other.begin_write();
        ADD_FAILURE() << "took a second write lock";
    } catch (const sqlite::sqlite_error& e) {
        EXPECT_TRUE(e.is_busy()) << e.what();
    }
    // Readers are not blocked by the writer (WAL).
    auto reader = cert_index::open(db, open_mode::read_only, 50ms);
    EXPECT_EQ(reader.count_certificates(), 0);
}

TEST_F(cert_index_test, readers_on_other_connections_see_commits_and_survive_moves) {
    auto reader = cert_index::open(db, open_mode::read_only);
    const auto serial = *serial_number::from_hex("80");
    EXPECT_FALSE(reader.find_certificate(issuer, serial).has_value());  // prepares and caches the statement
    put(revoked_cert(issuer, "80", revocation_reason::key_compromise));
    cert_index moved = std::move(reader);
    const auto rec = moved.find_certificate(issuer, serial);
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->reason, revocation_reason::key_compromise);
    EXPECT_EQ(moved.current_change_seq(), index.current_change_seq());
}

TEST_P(index_store_test, serial_lookup_across_issuers_and_listing_order) {
    auto other_ca = test::make_ca("Second CA");
    const auto second = index.add_issuer(other_ca.cert.get(), t0);
    put(good_cert(issuer, "0100"));
    put(good_cert(issuer, "05"));
    put(revoked_cert(issuer, "FF", revocation_reason::superseded));
    put(good_cert(second, "05"));

    const auto both = index.find_certificates_by_serial(*serial_number::from_hex("05"));
    ASSERT_EQ(both.size(), 2u);
    EXPECT_EQ(both[0].issuer_id, issuer);
    EXPECT_EQ(both[1].issuer_id, second);

    std::vector<std::string> order;
    for (const auto& r : index.list_certificates(issuer, std::nullopt)) order.push_back(r.serial.to_hex());
    EXPECT_EQ(order, (std::vector<std::string>{"05", "FF", "0100"}));  // numeric order
    EXPECT_EQ(index.list_certificates(std::nullopt, cert_status::revoked).size(), 1u);
    EXPECT_EQ(index.count_certificates(second, std::nullopt), 1);
    EXPECT_EQ(index.count_certificates(std::nullopt, cert_status::good), 3);
}

TEST_P(index_store_test, other_connections_see_commits) {
    const auto reader = open_index_store(db, open_mode::read_only);
    const auto serial = *serial_number::from_hex("80");
    EXPECT_FALSE(reader->find_certificate(issuer, serial).has_value());
    put(revoked_cert(issuer, "80", revocation_reason::key_compromise));
    const auto rec = reader->find_certificate(issuer, serial);
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->reason, revocation_reason::key_compromise);
    EXPECT_EQ(reader->current_change_seq(), index.current_change_seq());
    EXPECT_EQ(reader->schema_version(), current_schema_version);
}

// Two writers at once: every batch gets its own change number, in commit order, and no write is lost.
TEST_P(index_store_test, concurrent_writers_neither_lose_nor_reorder_changes) {
    constexpr int per_writer = 15;
    const auto before = index.current_change_seq();
    const auto write_many = [&](int first) {
        auto writer = open_index_store(db, open_mode::read_write);
        for (int i = 0; i < per_writer; ++i) {
            const auto batch = writer->begin_write();
            // Each batch's number is the counter's next value, seen under the batch's lock: a later commit
            // never has a smaller one.
            EXPECT_EQ(batch->change_seq(), writer->current_change_seq() + 1);
            EXPECT_TRUE(batch->merge(good_cert(issuer, fmt::format("{:04X}", first + i))).has_value());
            batch->commit();
        }
    };
    std::thread a(write_many, 0x1000);
    std::thread b(write_many, 0x2000);
    a.join();
    b.join();
    EXPECT_EQ(index.current_change_seq(), before + 2 * per_writer);
    const auto changes = index.changes_since(before);
    ASSERT_EQ(changes.size(), std::size_t{2 * per_writer});
    for (std::size_t i = 0; i < changes.size(); ++i) EXPECT_EQ(changes[i].change_seq, before + 1 + std::int64_t(i));
}

TEST(reason_names, round_trip_and_case_insensitive) {
    for (int code = 0; code <= 10; ++code) {
        const auto reason = reason_from_code(code);
        if (code == 7) {
            EXPECT_FALSE(reason.has_value());
            continue;
        }
        ASSERT_TRUE(reason.has_value()) << code;
        EXPECT_EQ(reason_from_name(reason_name(*reason)), reason);
    }
    EXPECT_EQ(reason_from_name("CACompromise"), revocation_reason::ca_compromise);
    EXPECT_EQ(reason_from_name("cacompromise"), revocation_reason::ca_compromise);
    EXPECT_FALSE(reason_from_name("keyCompromised").has_value());
    EXPECT_EQ(status_from_name("HOLD"), cert_status::hold);
    EXPECT_FALSE(status_from_name("expired").has_value());
}

}  // namespace
}  // namespace ocspkit::schema
