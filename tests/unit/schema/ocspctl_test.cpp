// ocspctl's command layer, run in-process with captured streams and a fixed clock: exit statuses and the
// messages an operator reads.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/pem.hpp"
#include "schema/cert_index.hpp"
#include "schema/ocspctl/commands.hpp"
#include "common/pg.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/unit/schema/index_backends.hpp"

namespace ocspkit::ocspctl {
namespace {

using namespace std::chrono_literals;

struct outcome {
    int status;
    std::string out;
    std::string err;
};

// On both backends (index_backends.hpp); the SQLite file's own cases in ocspctl_sqlite_test, the
// PostgreSQL server's in ocspctl_postgresql_test.
class ocspctl_test : public testing::TestWithParam<test::backend> {
protected:
    test::temp_dir dir;
    std::string db = test::fresh_database(GetParam(), dir.path());
    test::issued ca = test::make_ca("Ctl CA");
    std::string ca_file = (dir / "ca.pem").string();
    const std::chrono::sys_seconds now = test::reference_time;

    void SetUp() override {
        test::write_pem(ca_file, ca.cert.get());
        ASSERT_EQ(ctl({"init"}).status, 0);
        ASSERT_EQ(ctl({"issuer", "add", ca_file}).status, 0);
        write("index.txt", "V\t261223093335Z\t\t1000\tunknown\t/CN=leaf0\n"
                           "R\t261223093335Z\t251123093335Z,keyCompromise\t1001\tunknown\t/CN=leaf1\n"
                           "R\t261223093335Z\t251123093336Z,holdInstruction,holdInstructionNone\t1002\tunknown\t/CN=leaf2\n");
        ASSERT_EQ(ctl({"import-index", "--issuer", ca_file, file("index.txt")}).status, 0);
    }

    std::string file(const std::string& name) const { return (dir / name).string(); }
    void write(const std::string& name, const std::string& text) {
        std::ofstream out(dir / name, std::ios::trunc);
        out << text;
    }

    // Runs `ocspctl ARGS --db DB` (no --db when with_db is false).
    outcome ctl(std::vector<std::string> args, bool with_db = true) {
        if (with_db && !args.empty() && args[0] != "--help") {
            args.push_back("--db");
            args.push_back(db);
        }
        std::vector<const char*> argv{"ocspctl"};
        for (const auto& a : args) argv.push_back(a.c_str());
        std::ostringstream out, err;
        const int status = run(static_cast<int>(argv.size()), argv.data(), out, err, now);
        return {status, out.str(), err.str()};
    }
};

INSTANTIATE_TEST_SUITE_P(backends, ocspctl_test, testing::ValuesIn(test::all_backends), test::backend_name);

class ocspctl_sqlite_test : public ocspctl_test {};
INSTANTIATE_TEST_SUITE_P(file, ocspctl_sqlite_test, testing::Values(test::backend::sqlite), test::backend_name);

class ocspctl_postgresql_test : public ocspctl_test {
protected:
    // The server's connection string for a database that has no ocspkit schema yet.
    std::string empty_database() { return test::fresh_database(test::backend::postgresql, dir.path()); }
};
INSTANTIATE_TEST_SUITE_P(server, ocspctl_postgresql_test, testing::Values(test::backend::postgresql),
                         test::backend_name);

TEST_P(ocspctl_sqlite_test, help_and_usage_errors) {
    auto help = ctl({"--help"}, false);
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("Exit status: 0 success; 1 usage error"), std::string::npos) << help.out;
    for (const char* sub : {"init", "import-index", "import-certs", "revoke", "unrevoke", "show", "list", "export-index"}) {
        auto h = ctl({sub, "--help"}, false);
        EXPECT_EQ(h.status, 0) << sub;
        EXPECT_NE(h.out.find("--db"), std::string::npos) << sub;
        EXPECT_NE(h.out.find("3 database error"), std::string::npos) << sub;
    }
    auto issuer_help = ctl({"issuer", "disable", "--help"}, false);
    EXPECT_EQ(issuer_help.status, 0);
    EXPECT_NE(issuer_help.out.find("--db"), std::string::npos);

    EXPECT_EQ(ctl({}, false).status, 1);
    EXPECT_EQ(ctl({"frobnicate"}, false).status, 1);
    EXPECT_EQ(ctl({"revoke", "1000"}).status, 1);  // --reason is required
    auto no_db = ctl({"list"}, false);
    EXPECT_EQ(no_db.status, 1);
    EXPECT_EQ(no_db.err, "ocspctl: no database: pass --db PATH (or a PostgreSQL connection string) or set OCSPKIT_DB\n");
    // What does not apply to PostgreSQL says what to use there.
    EXPECT_NE(ctl({"backup", "--help"}, false).out.find("on PostgreSQL use pg_dump"), std::string::npos);
    EXPECT_NE(ctl({"restore", "--help"}, false).out.find("on PostgreSQL use pg_restore"), std::string::npos);
    EXPECT_NE(ctl({"init", "--help"}, false).out.find("on PostgreSQL use GRANT"), std::string::npos);
}

TEST_P(ocspctl_test, show_and_list) {
    auto show = ctl({"show", "1002"});
    ASSERT_EQ(show.status, 0) << show.err;
    EXPECT_NE(show.out.find("status            hold\n"), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("reason            certificateHold\n"), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("hold instruction  1.2.840.10040.2.1\n"), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("revocation time   2025-11-23T09:33:36Z\n"), std::string::npos) << show.out;

    auto list = ctl({"list", "--status", "revoked"});
    ASSERT_EQ(list.status, 0) << list.err;
    EXPECT_EQ(list.out, "ISSUER\tSERIAL\tSTATUS\tREASON\tREVOKED\tNOT_AFTER\tSUBJECT\n"
                        "1\t1001\trevoked\tkeyCompromise\t2025-11-23T09:33:35Z\t2026-12-23T09:33:35Z\t/CN=leaf1\n");
    EXPECT_EQ(ctl({"list", "--status", "expired"}).status, 1);

    auto missing = ctl({"show", "ABCDEF"});
    EXPECT_EQ(missing.status, 2);
    EXPECT_EQ(missing.err, "ocspctl: serial ABCDEF is not in the index\n");
    auto bad = ctl({"show", "XYZ"});
    EXPECT_EQ(bad.status, 1);
    EXPECT_EQ(bad.err, "ocspctl: invalid serial 'XYZ': not hexadecimal (hexadecimal as `openssl x509 -noout -serial` prints it, "
              "e.g. 1004, serial=1004, 10:04 or 0x1004; decimal with --decimal)\n");
}

TEST_P(ocspctl_test, revoke_and_unrevoke_rules) {
    auto revoke = ctl({"revoke", "1000", "--reason", "superseded", "--time", "2025-12-01T00:00:00Z"});
    ASSERT_EQ(revoke.status, 0) << revoke.err;
    EXPECT_EQ(revoke.out, "serial 1000 of issuer 1 (CN=Ctl CA): revoked with reason superseded since 2025-12-01T00:00:00Z\n");

    auto again = ctl({"revoke", "1000", "--reason", "keyCompromise"});
    EXPECT_EQ(again.status, 1);
    EXPECT_EQ(again.err, "ocspctl: serial 1000 is already revoked with reason superseded since 2025-12-01T00:00:00Z\n");

    auto permanent = ctl({"unrevoke", "1001"});
    EXPECT_EQ(permanent.status, 1);
    EXPECT_EQ(permanent.err, "ocspctl: serial 1001 is revoked with reason keyCompromise; only certificateHold can be "
                             "lifted\n");

    auto lifted = ctl({"unrevoke", "1002"});
    ASSERT_EQ(lifted.status, 0) << lifted.err;
    EXPECT_EQ(lifted.out, "serial 1002 of issuer 1 (CN=Ctl CA): hold lifted, good\n");
    EXPECT_EQ(ctl({"unrevoke", "1002"}).err, "ocspctl: serial 1002 is not revoked\n");

    auto hold = ctl({"revoke", "1002", "--reason", "certificateHold", "--hold-instruction", "holdInstructionReject"});
    ASSERT_EQ(hold.status, 0) << hold.err;
    EXPECT_NE(ctl({"show", "1002"}).out.find("hold instruction  1.2.840.10040.2.3\n"), std::string::npos);

    EXPECT_EQ(ctl({"revoke", "1002", "--reason", "removeFromCRL"}).err,
              "ocspctl: removeFromCRL is not a revocation (RFC 5280 §5.3.1); use `ocspctl unrevoke` to lift a hold\n");
    EXPECT_EQ(ctl({"revoke", "1002", "--reason", "stolen"}).status, 1);
    EXPECT_EQ(ctl({"revoke", "1002", "--reason", "keyCompromise", "--time", "2027-01-01"}).err,
              "ocspctl: revocation time 2027-01-01T00:00:00Z is in the future\n");
    EXPECT_EQ(ctl({"revoke", "1002", "--reason", "keyCompromise", "--time", "2025-01-01",
                   "--invalidity-date", "2025-02-01"})
                  .err,
              "ocspctl: invalidity date 2025-02-01T00:00:00Z is after the revocation time 2025-01-01T00:00:00Z\n");
    EXPECT_EQ(ctl({"revoke", "1002", "--reason", "superseded", "--hold-instruction", "1.2.3"}).err,
              "ocspctl: --hold-instruction needs --reason certificateHold\n");
    EXPECT_EQ(ctl({"revoke", "FEED", "--reason", "superseded"}).status, 2);

    // A hold made permanent, with an invalidity date.
    auto compromise = ctl({"revoke", "1002", "--reason", "keyCompromise", "--invalidity-date", "@1700000000"});
    ASSERT_EQ(compromise.status, 0) << compromise.err;
    auto show = ctl({"show", "1002"});
    EXPECT_NE(show.out.find("invalidity date   2023-11-14T22:13:20Z\n"), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("revocation time   2026-01-01T00:00:00Z\n"), std::string::npos) << show.out;
}

TEST_P(ocspctl_test, serial_under_two_issuers_needs_issuer) {
    const auto second = test::make_ca("Second Ctl CA");
    const auto second_file = file("second.pem");
    test::write_pem(second_file, second.cert.get());
    ASSERT_EQ(ctl({"issuer", "add", second_file}).status, 0);
    write("second.txt", "V\t261223093335Z\t\t1000\tunknown\t/CN=other\n");
    ASSERT_EQ(ctl({"import-index", "--issuer", "2", file("second.txt")}).status, 0);

    auto ambiguous = ctl({"revoke", "1000", "--reason", "superseded"});
    EXPECT_EQ(ambiguous.status, 1);
    EXPECT_EQ(ambiguous.err, "ocspctl: serial 1000 is known under issuers 1 (CN=Ctl CA), 2 (CN=Second Ctl CA); pass "
                             "--issuer\n");
    EXPECT_EQ(ctl({"revoke", "1000", "--reason", "superseded", "--issuer", second_file}).status, 0);
    EXPECT_NE(ctl({"show", "1000", "--issuer", "2"}).out.find("status            revoked"), std::string::npos);
    EXPECT_NE(ctl({"show", "1000", "--issuer", "1"}).out.find("status            good"), std::string::npos);
    EXPECT_EQ(ctl({"export-index"}).status, 1);  // which CA?
    EXPECT_EQ(ctl({"show", "1000", "--issuer", "9"}).status, 2);
}

TEST_P(ocspctl_test, issuers) {
    auto dup = ctl({"issuer", "add", ca_file});
    EXPECT_EQ(dup.status, 1);
    EXPECT_EQ(dup.err, "ocspctl: issuer CN=Ctl CA is already registered (ID 1)\n");

    const auto leaf = test::make_cert(ca, "not a ca");
    test::write_pem(file("leaf.pem"), leaf.cert.get());
    auto not_ca = ctl({"issuer", "add", file("leaf.pem")});
    EXPECT_EQ(not_ca.status, 1);
    EXPECT_EQ(not_ca.err, fmt::format("ocspctl: {}: CN=not a ca is not a CA certificate (basicConstraints CA:TRUE or "
                                      "keyCertSign missing)\n",
                                      file("leaf.pem")));

    EXPECT_EQ(ctl({"issuer", "disable", ca_file}).out, "issuer 1 (CN=Ctl CA) disabled\n");
    auto list = ctl({"issuer", "list"});
    EXPECT_NE(list.out.find("disabled"), std::string::npos) << list.out;
    EXPECT_EQ(ctl({"issuer", "enable", "1"}).out, "issuer 1 (CN=Ctl CA) enabled\n");
    EXPECT_EQ(ctl({"issuer", "enable", "5"}).status, 2);

    const auto unknown = test::make_ca("Unknown CA");
    test::write_pem(file("unknown.pem"), unknown.cert.get());
    auto unregistered = ctl({"import-index", "--issuer", file("unknown.pem"), file("index.txt")});
    EXPECT_EQ(unregistered.status, 2);
    EXPECT_EQ(unregistered.err, fmt::format("ocspctl: {}: issuer CN=Unknown CA is not registered; add it with "
                                            "`ocspctl issuer add {}`\n",
                                            file("unknown.pem"), file("unknown.pem")));
}

TEST_P(ocspctl_test, failed_import_leaves_database_unchanged) {
    const auto before = ctl({"export-index"}).out;
    write("bad.txt", "V\t261223093335Z\t\t2000\tunknown\t/CN=new\nV\t2612\t\t2001\tunknown\t/CN=bad\n");
    auto bad = ctl({"import-index", "--issuer", "1", file("bad.txt")});
    EXPECT_EQ(bad.status, 1);
    EXPECT_EQ(bad.err, fmt::format("{0}:2: invalid expiry date '2612' (expected YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ)\n"
                                   "{0}: 1 bad of 2 lines; nothing imported, database unchanged (fix them or pass "
                                   "--skip-bad)\n",
                                   file("bad.txt")));
    EXPECT_EQ(ctl({"export-index"}).out, before);

    auto skipped = ctl({"import-index", "--issuer", "1", file("bad.txt"), "--skip-bad"});
    EXPECT_EQ(skipped.status, 0);
    EXPECT_EQ(skipped.out, file("bad.txt") + ": 2 lines for issuer 1: 1 inserted, 0 updated, 0 unchanged, 1 skipped\n");

    auto missing = ctl({"import-index", "--issuer", "1", file("missing.txt")});
    EXPECT_EQ(missing.status, 1);
    EXPECT_EQ(missing.err, "ocspctl: " + file("missing.txt") + ": cannot open: No such file or directory\n");
}

TEST_P(ocspctl_sqlite_test, database_errors_exit_3) {
    auto missing = ctl({"list", "--db", file("nope.db")}, false);
    EXPECT_EQ(missing.status, 3);
    EXPECT_EQ(missing.err, fmt::format("ocspctl: {0}: database does not exist; create it with `ocspctl init --db {0}`\n",
                                       file("nope.db")));

    {
        sqlite::connection raw(db, sqlite::open_mode::read_write);
        raw.exec("PRAGMA user_version = 7");
    }
    auto newer = ctl({"show", "1000"});
    EXPECT_EQ(newer.status, 3);
    EXPECT_EQ(newer.err, "ocspctl: " + db + ": database schema version 7 is newer than this ocspkit supports (4); "
                         "upgrade ocspkit\n");
    EXPECT_EQ(ctl({"init"}).status, 3);
}

TEST_P(ocspctl_sqlite_test, locked_database_exit_3) {
    auto holder = schema::cert_index::open(db, sqlite::open_mode::read_write);
    const auto batch = holder.begin_write();
    auto locked = ctl({"revoke", "1000", "--reason", "superseded", "--busy-timeout", "50"});
    EXPECT_EQ(locked.status, 3);
    EXPECT_EQ(locked.err, "ocspctl: database " + db + " is locked by another writer (waited 50 ms); nothing changed, "
                          "try again (or raise --busy-timeout)\n");
    // Readers still work while a writer holds the lock.
    EXPECT_EQ(ctl({"show", "1000"}).status, 0);
}

TEST_P(ocspctl_test, environment_names_the_database) {
    ::setenv("OCSPKIT_DB", db.c_str(), 1);
    auto list = ctl({"list"}, false);
    ::unsetenv("OCSPKIT_DB");
    EXPECT_EQ(list.status, 0) << list.err;
    EXPECT_NE(list.out.find("/CN=leaf0"), std::string::npos);
}

TEST_P(ocspctl_test, export_to_file_writes_attr) {
    auto exported = ctl({"export-index", "-o", file("out.txt")});
    ASSERT_EQ(exported.status, 0) << exported.err;
    EXPECT_EQ(exported.out, "exported 3 certificates to " + file("out.txt") + "\n");
    EXPECT_EQ(read_file(dir / "out.txt"), ctl({"export-index"}).out);
    EXPECT_EQ(read_file(dir / "out.txt.attr"), "unique_subject = no\n");
    EXPECT_FALSE(std::filesystem::exists(dir / "out.txt.tmp"));
}

TEST_P(ocspctl_test, global_db_before_the_command_and_bulk_revoke_from_stdin) {
    const auto with_input = [&](std::vector<std::string> args, const std::string& input) {
        std::vector<const char*> argv{"ocspctl"};
        for (const auto& a : args) argv.push_back(a.c_str());
        std::istringstream in(input);
        std::ostringstream out, err;
        const int status = run(static_cast<int>(argv.size()), argv.data(), in, out, err, now);
        return outcome{status, out.str(), err.str()};
    };
    // One bad line (1002 is already on hold, so a second hold is refused) changes nothing.
    auto bad = with_input({"--db", db, "revoke", "--from", "-", "--reason", "certificateHold"},
                          "# hold these\n1000\n1002\n");
    EXPECT_EQ(bad.status, 1);
    EXPECT_NE(bad.err.find("(stdin):3: serial 1002 is already on hold since"), std::string::npos) << bad.err;
    EXPECT_NE(bad.err.find("(stdin): 1 bad of 2 lines; nothing revoked, database unchanged"), std::string::npos);
    EXPECT_NE(ctl({"show", "1000"}).out.find("status            good\n"), std::string::npos);

    auto good = with_input({"--db", db, "revoke", "--from", "-", "--reason", "superseded", "--decimal"},
                           "4096  # 0x1000\n");
    EXPECT_EQ(good.status, 0) << good.err;
    EXPECT_NE(ctl({"show", "serial=1000"}).out.find("status            revoked\n"), std::string::npos);
    const auto audit = ctl({"audit", "--serial", "10:00", "--json"});
    EXPECT_EQ(audit.status, 0);
    EXPECT_NE(audit.out.find("\"command\":\"revoke\""), std::string::npos) << audit.out;
    EXPECT_NE(audit.out.find("\"new_status\":\"revoked\""), std::string::npos) << audit.out;
}

TEST_P(ocspctl_postgresql_test, init_creates_then_finds_the_schema_and_commands_need_it) {
    const auto fresh = empty_database();
    const auto redacted = pg::redact_conninfo(fresh);
    auto before = ctl({"list", "--db", fresh}, false);
    EXPECT_EQ(before.status, 3);
    EXPECT_EQ(before.err, "ocspctl: PostgreSQL at " + redacted + ": no ocspkit index; run `ocspctl init` with this "
                          "database\n");
    auto created = ctl({"init", "--db", fresh}, false);
    ASSERT_EQ(created.status, 0) << created.err;
    EXPECT_EQ(created.out, redacted + ": created, schema version 4\n");
    EXPECT_EQ(ctl({"init", "--db", fresh}, false).out, redacted + ": ocspkit database, schema version 4\n");
    EXPECT_EQ(ctl({"list", "--db", fresh}, false).out, "ISSUER\tSERIAL\tSTATUS\tREASON\tREVOKED\tNOT_AFTER\tSUBJECT\n");
    auto audit = ctl({"audit", "--db", fresh}, false);
    EXPECT_NE(audit.out.find("\tinit\t-\t-\t-\t-\tschema created at version 4\n"), std::string::npos) << audit.out;
}

TEST_P(ocspctl_postgresql_test, file_only_commands_name_what_to_use_instead) {
    const auto redacted = pg::redact_conninfo(db);
    EXPECT_EQ(ctl({"backup", file("copy.db")}).err,
              "ocspctl: backup works on a SQLite file; the index is in PostgreSQL at " + redacted +
                  ": back it up with pg_dump (e.g. `pg_dump -Fc -f FILE DBNAME`), or with the server's own backups "
                  "(pg_basebackup, WAL archiving)\n");
    EXPECT_FALSE(std::filesystem::exists(dir / "copy.db"));
    auto restore = ctl({"restore", file("copy.db")});
    EXPECT_EQ(restore.status, 1);
    EXPECT_NE(restore.err.find("pg_restore"), std::string::npos) << restore.err;
    auto owner = ctl({"init", "--owner", "root"});
    EXPECT_EQ(owner.status, 1);
    EXPECT_NE(owner.err.find("grant the responder's role access"), std::string::npos) << owner.err;
    auto busy = ctl({"list", "--busy-timeout", "50"});
    EXPECT_EQ(busy.status, 1);
    EXPECT_NE(busy.err.find("lock_timeout"), std::string::npos) << busy.err;
}

TEST_P(ocspctl_postgresql_test, a_password_is_never_shown) {
    // The right server but a database that does not exist: libpq's reason quotes the connection.
    const std::string with_password = test::shared_postgres().conninfo("no_such_db") + " password=secret123";
    auto failed = ctl({"list", "--db", with_password}, false);
    EXPECT_EQ(failed.status, 3);
    EXPECT_EQ(failed.err.find("secret123"), std::string::npos) << failed.err;
    EXPECT_NE(failed.err.find("password=***"), std::string::npos) << failed.err;
    EXPECT_NE(failed.err.find("database \"no_such_db\" does not exist"), std::string::npos) << failed.err;
    EXPECT_NE(failed.err.find("PGPASSFILE"), std::string::npos) << failed.err;
    EXPECT_EQ(std::count(failed.err.begin(), failed.err.end(), '\n'), 1) << failed.err;  // one line

    const std::string uri = "postgresql://ocspkit:secret123@127.0.0.1:1/ocspkit";
    auto refused = ctl({"show", "1000", "--db", uri}, false);
    EXPECT_EQ(refused.status, 3);
    EXPECT_EQ(refused.err.find("secret123"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("postgresql://ocspkit:***@127.0.0.1:1/ocspkit"), std::string::npos) << refused.err;
    EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;

    // Accepted by the server (trust authentication): the commands work and still print no password.
    auto works = ctl({"show", "1000", "--db", db + " password=secret123"}, false);
    EXPECT_EQ(works.status, 0) << works.err;
    EXPECT_EQ((works.out + works.err).find("secret123"), std::string::npos);
}

}  // namespace
}  // namespace ocspkit::ocspctl
