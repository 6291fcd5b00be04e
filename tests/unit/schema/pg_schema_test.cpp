// The index schema on PostgreSQL (schema/pg_migrations.hpp), on a server the test starts: migrations,
// the constraints the SQLite schema has, and change tracking as any writer (a script, psql) sees it:
// one change number per transaction, tombstones for deleted rows, numbers in commit order.
#include "schema/pg_migrations.hpp"

#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "schema/cert_index.hpp"
#include "tests/support/postgres_server.hpp"
#include "tests/unit/schema/index_backends.hpp"

namespace ocspkit::schema {
namespace {

using bytes = std::vector<std::uint8_t>;

class pg_schema : public ::testing::Test {
protected:
    // The process's one server (index_backends.hpp): these tests run in the schema.on_postgresql process.
    static void SetUpTestSuite() { server_ = &test::shared_postgres(); }
    void SetUp() override {
        const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        conninfo_ = server_->create_database(name);
        db_ = std::make_unique<pg::connection>(conninfo_);
    }
    std::int64_t counter() { return db_->query("SELECT value FROM change_counter").integer(0, 0); }
    std::int64_t add_issuer() {
        const bytes h(20, 0x11);
        const auto r = db_->query(
            "INSERT INTO issuers (subject, subject_der, key_id, name_hash_sha1, key_hash_sha1, name_hash_sha256, "
            "key_hash_sha256, name_hash_sha384, key_hash_sha384, name_hash_sha512, key_hash_sha512, cert_der) "
            "VALUES ('CN=CA', $1, $1, $1, $1, $1, $1, $1, $1, $1, $1, $1) RETURNING id",
            {std::span<const std::uint8_t>(h)});
        return r.integer(0, 0);
    }
    void add_cert(std::int64_t issuer, std::uint8_t serial) {
        const bytes s{serial};
        db_->query("INSERT INTO certificates (issuer_id, serial) VALUES ($1, $2)",
                   {issuer, std::span<const std::uint8_t>(s)});
    }
    std::int64_t seq_of(std::uint8_t serial) {
        const bytes s{serial};
        return db_->query("SELECT change_seq FROM certificates WHERE serial = $1", {std::span<const std::uint8_t>(s)})
            .integer(0, 0);
    }
    static test::postgres_server* server_;
    std::string conninfo_;
    std::unique_ptr<pg::connection> db_;
};
test::postgres_server* pg_schema::server_ = nullptr;

TEST_F(pg_schema, migrates_an_empty_database_once_and_refuses_foreign_or_newer_ones) {
    EXPECT_EQ(pg_schema_version(*db_), 0);
    EXPECT_EQ(pg_migrate(*db_), 0);
    EXPECT_EQ(pg_schema_version(*db_), current_schema_version);
    EXPECT_EQ(pg_migrate(*db_), current_schema_version) << "a second run changes nothing";

    db_->exec("UPDATE ocspkit_schema SET version = 99");
    EXPECT_THROW(pg_migrate(*db_), schema_error);

    pg::connection other(server_->create_database("foreign_app"));
    other.exec("CREATE TABLE customers (id integer)");
    try {
        pg_migrate(other);
        FAIL() << "migrated a database that holds another application's tables";
    } catch (const schema_error& e) {
        EXPECT_NE(std::string(e.what()).find("database of its own"), std::string::npos) << e.what();
    }
}

TEST_F(pg_schema, two_processes_migrating_at_once_leave_one_schema) {
    std::thread a([&] { pg::connection c(conninfo_); pg_migrate(c); });
    std::thread b([&] { pg::connection c(conninfo_); pg_migrate(c); });
    a.join();
    b.join();
    EXPECT_EQ(pg_schema_version(*db_), current_schema_version);
}

TEST_F(pg_schema, one_change_number_per_transaction_for_any_writer) {
    pg_migrate(*db_);
    const auto issuer = add_issuer();
    const auto after_issuer = counter();
    EXPECT_EQ(after_issuer, 1) << "adding an issuer is a change";

    db_->exec("BEGIN");
    add_cert(issuer, 1);
    add_cert(issuer, 2);
    db_->exec("COMMIT");
    EXPECT_EQ(counter(), after_issuer + 1);
    EXPECT_EQ(seq_of(1), counter());
    EXPECT_EQ(seq_of(2), counter());

    db_->exec("UPDATE certificates SET status = 1, revocation_time = 1700000000, reason = 1 WHERE serial = '\\x01'");
    EXPECT_EQ(counter(), after_issuer + 2);
    EXPECT_EQ(seq_of(1), counter());
    EXPECT_EQ(seq_of(2), after_issuer + 1);

    db_->exec("DELETE FROM certificates WHERE serial = '\\x02'");
    EXPECT_EQ(counter(), after_issuer + 3);
    const auto tomb = db_->query("SELECT change_seq FROM deleted_certificates WHERE serial = '\\x02'");
    ASSERT_EQ(tomb.rows(), 1);
    EXPECT_EQ(tomb.integer(0, 0), counter());
}

TEST_F(pg_schema, the_constraints_refuse_what_no_ocsp_answer_could_say) {
    pg_migrate(*db_);
    const auto issuer = add_issuer();
    add_cert(issuer, 1);
    const auto refused = [&](const std::string& sql) {
        try {
            db_->exec(sql);
            return false;
        } catch (const pg::pg_error& e) {
            return e.sqlstate().rfind("23", 0) == 0;  // class 23: integrity constraint violation
        }
    };
    EXPECT_TRUE(refused("UPDATE certificates SET status = 1"));  // revoked without a time
    EXPECT_TRUE(refused("UPDATE certificates SET status = 2, revocation_time = 1"));  // hold without reason 6
    EXPECT_TRUE(refused("UPDATE certificates SET reason = 7"));
    EXPECT_TRUE(refused("INSERT INTO certificates (issuer_id, serial) VALUES (" + std::to_string(issuer) +
                        ", '\\x0001')"));  // a leading zero octet
    EXPECT_TRUE(refused("INSERT INTO certificates (issuer_id, serial) VALUES (" + std::to_string(issuer + 100) +
                        ", '\\x05')"));  // no such issuer
    EXPECT_TRUE(refused("UPDATE change_counter SET value = 0"));
    EXPECT_TRUE(refused("DELETE FROM change_counter"));
    db_->exec("INSERT INTO audit (time, unix_user, command) VALUES (1, 'root', 'test')");
    EXPECT_TRUE(refused("UPDATE audit SET detail = 'rewritten'"));
    EXPECT_TRUE(refused("DELETE FROM audit"));
    EXPECT_FALSE(refused("UPDATE certificates SET status = 2, revocation_time = 1, reason = 6"));
}

TEST_F(pg_schema, change_numbers_follow_commit_order_between_writers) {
    pg_migrate(*db_);
    const auto issuer = add_issuer();
    pg::connection first(conninfo_);
    pg::connection second(conninfo_);
    first.exec("BEGIN");
    first.query("INSERT INTO certificates (issuer_id, serial) VALUES ($1, '\\x0a')", {issuer});
    // The second writer waits for the counter row until the first commits, then takes the next number.
    std::thread later([&] {
        second.exec("BEGIN");
        second.query("INSERT INTO certificates (issuer_id, serial) VALUES ($1, '\\x0b')", {issuer});
        second.exec("COMMIT");
    });
    // The second writer waits on a lock (the counter row) instead of taking a number of its own and
    // committing first, which would let a reader see its number before the first writer's rows.
    bool waiting = false;
    for (int i = 0; i < 1000 && !waiting; ++i) {
        waiting = db_->query("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                             "AND datname = current_database()")
                      .integer(0, 0) == 1;
        if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(waiting) << "the second writer did not wait for the first";
    first.exec("COMMIT");
    later.join();
    EXPECT_LT(seq_of(0x0a), seq_of(0x0b));
}

}  // namespace
}  // namespace ocspkit::schema
