// Schema version 2: the audit table (written with every change, append-only, migrated into version 1
// databases) and backup/restore with the online backup API (consistent copies, monotonic change sequence).
#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "schema/cert_index.hpp"
#include "schema/migrations.hpp"
#include "schema/index_store.hpp"
#include "schema/pg_migrations.hpp"
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

cert_record revoked_cert(std::int64_t issuer, const std::string& hex) {
    auto r = good_cert(issuer, hex);
    r.status = cert_status::revoked;
    r.revocation_time = t0 - 1h;
    r.reason = revocation_reason::key_compromise;
    return r;
}

audit_context alice(std::string command) {
    return audit_context{"root", std::string{"alice"}, std::move(command), t0};
}

// One change in its own batch.
void write(index_store& index, const cert_record& rec, std::string_view detail = {}) {
    const auto batch = index.begin_write();
    auto outcome = batch->merge(rec, merge_options{.detail = detail});
    ASSERT_TRUE(outcome) << outcome.error_message();
    batch->commit();
}

class audit_backup_test : public testing::Test {
protected:
    test::temp_dir dir;
    std::filesystem::path db = dir / "index.db";
    test::issued ca = test::make_ca("Audit Test CA");

    std::int64_t setup(cert_index& index) {
        const auto issuer = index.add_issuer(ca.cert.get());
        const auto batch_owner = index.begin_write();
        auto& batch = *batch_owner;
        for (const char* s : {"10", "11", "12"}) batch.merge(good_cert(issuer, s));
        batch.commit();
        return issuer;
    }
};

// The audit on both backends (index_backends.hpp).
class audit_test : public testing::TestWithParam<test::backend> {
protected:
    test::temp_dir dir;
    std::string db = test::fresh_database(GetParam(), dir.path());
    test::issued ca = test::make_ca("Audit Test CA");
};

INSTANTIATE_TEST_SUITE_P(backends, audit_test, testing::ValuesIn(test::all_backends), test::backend_name);

TEST_P(audit_test, every_change_is_audited_with_who_and_what) {
    const auto store = open_index_store(db, open_mode::read_write_create, alice("init"));
    auto& index = *store;
    const auto issuer = index.add_issuer(ca.cert.get());
    {
        const auto writer = open_index_store(db, open_mode::read_write, alice("revoke"));
        write(*writer, good_cert(issuer, "10"));
        write(*writer, revoked_cert(issuer, "10"), "reason keyCompromise");
        writer->set_issuer_enabled(issuer, false);
    }
    const auto rows = index.list_audit({});
    ASSERT_EQ(rows.size(), 5u);
    EXPECT_EQ(rows[0].command, "init");
    EXPECT_EQ(rows[0].entry.detail, fmt::format("schema created at version {}", current_schema_version));
    EXPECT_EQ(rows[1].entry.detail, "issuer added: CN=Audit Test CA");
    EXPECT_EQ(rows[2].entry.new_status, cert_status::good);
    EXPECT_FALSE(rows[2].entry.old_status);
    const auto& revoke = rows[3];
    EXPECT_EQ(revoke.time, t0);
    EXPECT_EQ(revoke.unix_user, "root");
    EXPECT_EQ(revoke.sudo_user, "alice");
    EXPECT_EQ(revoke.command, "revoke");
    EXPECT_EQ(revoke.entry.issuer_id, issuer);
    EXPECT_EQ(revoke.entry.serial->to_hex(), "10");
    EXPECT_EQ(revoke.entry.old_status, cert_status::good);
    EXPECT_EQ(revoke.entry.new_status, cert_status::revoked);
    EXPECT_EQ(revoke.entry.detail, "reason keyCompromise");
    EXPECT_EQ(rows[4].entry.detail, "issuer disabled: CN=Audit Test CA");

    audit_filter by_serial;
    by_serial.serial = *serial_number::from_hex("10");
    EXPECT_EQ(index.list_audit(by_serial).size(), 2u);
    audit_filter later;
    later.since = t0 + 1s;
    EXPECT_EQ(index.list_audit(later).size(), 0u);

    // An unchanged write records nothing.
    write(index, revoked_cert(issuer, "10"));
    EXPECT_EQ(index.list_audit({}).size(), 5u);
}

TEST_P(audit_test, a_hold_lifted_is_found_for_the_import_rule) {
    const auto store = open_index_store(db, open_mode::read_write_create, alice("init"));
    auto& index = *store;
    const auto issuer = index.add_issuer(ca.cert.get());
    auto held = revoked_cert(issuer, "20");
    held.status = cert_status::hold;
    held.reason = revocation_reason::certificate_hold;
    write(index, held);
    EXPECT_FALSE(index.last_hold_lift(issuer, held.serial));
    write(index, good_cert(issuer, "20"), "hold lifted");
    EXPECT_EQ(index.last_hold_lift(issuer, held.serial), t0);
    EXPECT_FALSE(index.last_hold_lift(issuer, *serial_number::from_hex("21")));
    EXPECT_EQ(index.audit_actor().command, "init");
}

// A database exactly as a version-1 ocspctl left it: the v1 schema, one issuer and one revocation.
void make_version_1(test::backend kind, const std::string& db) {
    constexpr std::string_view issuer_sql =
        "INSERT INTO issuers (subject, subject_der, key_id, name_hash_sha1, key_hash_sha1, name_hash_sha256, "
        "key_hash_sha256, name_hash_sha384, key_hash_sha384, name_hash_sha512, key_hash_sha512, cert_der) VALUES ";
    if (kind == test::backend::sqlite) {
        sqlite::connection v1(db, open_mode::read_write_create);
        v1.exec("PRAGMA journal_mode = WAL");
        v1.exec(fmt::format("PRAGMA application_id = {}", application_id));
        v1.exec(migrations()[0].sql);
        v1.exec("PRAGMA user_version = 1");
        v1.exec(fmt::format("{} ('CN=Old', x'00', x'01', x'02', x'03', x'04', x'05', x'06', x'07', x'08', x'09', "
                            "x'0a')",
                            issuer_sql));
        v1.exec("INSERT INTO certificates (issuer_id, serial, status, revocation_time, reason) "
                "VALUES (1, x'1004', 1, 1767225600, 1)");
        return;
    }
    pg::connection v1(db);
    v1.exec("CREATE TABLE ocspkit_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL, "
            "application text NOT NULL)");
    v1.exec("INSERT INTO ocspkit_schema VALUES (1, 1, 'ocspkit certificate index')");
    v1.exec(pg_migrations()[0].sql);
    v1.exec(fmt::format("{} ('CN=Old', '\\x00', '\\x01', '\\x02', '\\x03', '\\x04', '\\x05', '\\x06', "
                        "'\\x07', '\\x08', '\\x09', '\\x0a')",
                        issuer_sql));
    v1.exec("INSERT INTO certificates (issuer_id, serial, status, revocation_time, reason) "
            "VALUES (1, '\\x1004', 1, 1767225600, 1)");
}

TEST_P(audit_test, version_1_database_migrates_to_2_with_its_data) {
    make_version_1(GetParam(), db);
    // The responder (read-only) is told to migrate first, with the command.
    try {
        open_index_store(db, open_mode::read_only);
        FAIL() << "read-only open of a v1 database";
    } catch (const schema_error& e) {
        EXPECT_NE(std::string{e.what()}.find("ocspctl init"), std::string::npos) << e.what();
    }
    // Any writer migrates, as init does.
    const auto store = open_index_store(db, open_mode::read_write, alice("init"));
    auto& index = *store;
    EXPECT_EQ(index.schema_version(), current_schema_version);
    auto rec = index.find_certificate(1, *serial_number::from_hex("1004"));
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->status, cert_status::revoked);
    const auto rows = index.list_audit({});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].entry.detail, fmt::format("schema migrated from version 1 to {}", current_schema_version));
    EXPECT_EQ(rows[0].sudo_user, "alice");
    EXPECT_EQ(open_index_store(db, open_mode::read_only)->schema_version(), current_schema_version);
    // Opening again migrates nothing and audits nothing.
    EXPECT_EQ(open_index_store(db, open_mode::read_write_create)->list_audit({}).size(), 1u);
}

TEST_F(audit_backup_test, audit_rows_are_append_only_for_other_clients) {
    { cert_index::open(db, open_mode::read_write_create, 5000ms, alice("init")); }
    sqlite::connection foreign(db, open_mode::read_write);
    try {
        foreign.exec("UPDATE audit SET unix_user = 'mallory'");
        FAIL() << "an audit row was updated";
    } catch (const sqlite::sqlite_error& e) {
        EXPECT_NE(std::string{e.what()}.find("audit rows are append-only"), std::string::npos) << e.what();
    }
    EXPECT_THROW(foreign.exec("DELETE FROM audit"), sqlite::sqlite_error);
    foreign.exec("INSERT INTO audit (time, unix_user, command) VALUES (1, 'script', 'manual')");  // appending is fine
}

TEST_F(audit_backup_test, restore_keeps_the_change_sequence_monotonic_and_stamps_every_row) {
    auto index = cert_index::open(db, open_mode::read_write_create, 5000ms, alice("init"));
    const auto issuer = setup(index);
    write(index, revoked_cert(issuer, "10"));
    const auto backup = dir / "backup.db";
    const auto b = cert_index::backup_to(db, backup, 5000ms);
    EXPECT_EQ(b.certificates, 3);
    EXPECT_EQ(b.revoked, 1);
    EXPECT_EQ(b.change_seq, index.current_change_seq());

    // After the backup: another revocation, which the restore keeps (revocations are sticky), and a new
    // certificate, which it takes back.
    write(index, revoked_cert(issuer, "11"));
    write(index, good_cert(issuer, "13"));
    const auto before = index.current_change_seq();
    const auto history = index.list_audit({}).size();

    const auto r = cert_index::restore_from(backup, db, 5000ms, alice("restore"));
    EXPECT_EQ(r.previous_change_seq, before);
    EXPECT_EQ(r.change_seq, before + 1);
    EXPECT_EQ(r.revocations_kept, std::vector<std::string>{"11"});
    EXPECT_EQ(r.status_changes, 1u);  // 13 good -> absent

    EXPECT_EQ(index.current_change_seq(), before + 1);
    EXPECT_EQ(index.find_certificate(issuer, *serial_number::from_hex("10"))->status, cert_status::revoked);
    EXPECT_EQ(index.find_certificate(issuer, *serial_number::from_hex("11"))->status, cert_status::revoked);
    EXPECT_FALSE(index.find_certificate(issuer, *serial_number::from_hex("13")));
    // What a responder that saw `before` is told: every certificate, and the one that went away.
    const auto changes = index.changes_since(before);
    std::vector<std::string> serials;
    for (const auto& c : changes) serials.push_back(c.serial.to_hex());
    std::sort(serials.begin(), serials.end());
    EXPECT_EQ(serials, (std::vector<std::string>{"10", "11", "12", "13"}));

    // The history before the restore is still there, then one row per status change and the summary.
    const auto rows = index.list_audit({});
    ASSERT_EQ(rows.size(), history + 2);
    EXPECT_EQ(rows[history].command, "restore");
    EXPECT_EQ(rows[history].entry.serial->to_hex(), "13");
    EXPECT_FALSE(rows[history].entry.new_status);
    EXPECT_NE(rows.back().entry.detail.find("restored from " + backup.string()), std::string::npos);
    EXPECT_EQ(rows.back().sudo_user, "alice");
}

TEST_F(audit_backup_test, restore_into_a_fresh_path_creates_it) {
    auto index = cert_index::open(db, open_mode::read_write_create);
    const auto issuer = setup(index);
    write(index, revoked_cert(issuer, "12"));
    const auto backup = dir / "backup.db";
    cert_index::backup_to(db, backup, 5000ms);
    const auto fresh = dir / "fresh.db";
    const auto r = cert_index::restore_from(backup, fresh, 5000ms, alice("restore"));
    EXPECT_GT(r.change_seq, r.restored.change_seq);
    auto restored = cert_index::open(fresh, open_mode::read_only);
    EXPECT_EQ(restored.count_certificates(), 3);
    EXPECT_EQ(restored.find_certificate(issuer, *serial_number::from_hex("12"))->status, cert_status::revoked);
    EXPECT_FALSE(std::filesystem::exists(fresh.string() + ".restore-tmp"));
}

TEST_F(audit_backup_test, bad_backups_are_refused_and_the_database_is_unchanged) {
    auto index = cert_index::open(db, open_mode::read_write_create);
    setup(index);
    const auto seq = index.current_change_seq();
    const auto refused = [&](const std::filesystem::path& file, const std::string& expected) {
        try {
            cert_index::restore_from(file, db, 5000ms, alice("restore"));
            ADD_FAILURE() << file << " was restored";
        } catch (const schema_error& e) {
            EXPECT_EQ(std::string{e.what()}, expected);
        }
        EXPECT_EQ(index.current_change_seq(), seq);
        EXPECT_EQ(index.count_certificates(), 3);
    };
    const std::string unchanged = "; refused, the database was not changed";

    const auto junk = dir / "junk.db";
    std::ofstream(junk) << std::string(4096, 'j');
    refused(junk, junk.string() + ": not a readable SQLite database (file is not a database)" + unchanged);

    const auto foreign = dir / "foreign.db";
    {
        sqlite::connection other(foreign, open_mode::read_write_create);
        other.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)");
    }
    refused(foreign, foreign.string() + ": not an ocspkit database (application_id 0x0, schema version 0)" + unchanged);

    const auto newer = dir / "newer.db";
    cert_index::backup_to(db, newer, 5000ms);
    {
        sqlite::connection n(newer, open_mode::read_write);
        n.exec("PRAGMA user_version = 9");
    }
    refused(newer, newer.string() + fmt::format(": schema version 9 is newer than this ocspkit supports ({}); use a newer ocspkit", current_schema_version) +
                       unchanged);

    // A valid backup whose B-tree pages after the first had their headers overwritten: the schema still
    // reads, integrity_check does not pass.
    const auto corrupt = dir / "corrupt.db";
    cert_index::backup_to(db, corrupt, 5000ms);
    {
        const auto pages = std::filesystem::file_size(corrupt) / 4096;
        std::fstream f(corrupt, std::ios::in | std::ios::out | std::ios::binary);
        const std::string garbage(16, '\x5a');
        for (std::uintmax_t page = 1; page < pages; ++page) {
            f.seekp(static_cast<std::streamoff>(page * 4096));
            f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
        }
    }
    try {
        cert_index::restore_from(corrupt, db, 5000ms, alice("restore"));
        ADD_FAILURE() << "a corrupt backup was restored";
    } catch (const schema_error& e) {
        EXPECT_NE(std::string{e.what()}.find(unchanged), std::string::npos) << e.what();
    }
    EXPECT_EQ(index.current_change_seq(), seq);
}

TEST_F(audit_backup_test, backup_is_consistent_while_another_connection_writes) {
    auto index = cert_index::open(db, open_mode::read_write_create);
    const auto issuer = index.add_issuer(ca.cert.get());
    {
        const auto batch_owner = index.begin_write();
        auto& batch = *batch_owner;
        for (int i = 0; i < 2000; ++i) batch.merge(revoked_cert(issuer, fmt::format("{:04X}", i + 0x1000)));
        batch.commit();
    }
    std::atomic<bool> stop{false};
    std::atomic<int> written{0};
    std::thread writer([&] {
        // Its own connection, as another process would have; one certificate per transaction.
        auto other = cert_index::open(db, open_mode::read_write);
        for (int i = 0; !stop.load(); ++i) {
            const auto batch_owner = other.begin_write();
            auto& batch = *batch_owner;
            batch.merge(revoked_cert(issuer, fmt::format("{:06X}", 0x200000 + i)));
            batch.commit();
            written.fetch_add(1);
        }
    });
    while (written.load() < 5) std::this_thread::yield();
    const auto backup = dir / "backup.db";
    const auto b = cert_index::backup_to(db, backup, 5000ms);
    stop.store(true);
    writer.join();
    // The copy is one snapshot: every row it has is revoked, its counter matches its rows, and it has at
    // least everything committed before the backup started.
    auto copy = cert_index::open(backup, open_mode::read_only);
    EXPECT_GE(copy.count_certificates(), 2000 + 5);
    EXPECT_EQ(copy.count_certificates(issuer, cert_status::revoked), copy.count_certificates());
    EXPECT_EQ(b.certificates, copy.count_certificates());
    EXPECT_EQ(copy.changes_since(b.change_seq).size(), 0u);
    EXPECT_FALSE(std::filesystem::exists(backup.string() + "-wal"));
}

}  // namespace
}  // namespace ocspkit::schema
