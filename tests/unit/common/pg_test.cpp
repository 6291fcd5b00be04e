// common/pg.hpp: which database strings are PostgreSQL, redaction, and the libpq owners against a real
// PostgreSQL server started by the test (tests/support/postgres_server.hpp).
#include "common/pg.hpp"

#include <memory>

#include <gtest/gtest.h>

#include "tests/support/postgres_server.hpp"

namespace ocspkit::pg {
namespace {

TEST(pg, database_strings_name_a_file_or_a_server) {
    EXPECT_EQ(database_kind_of("/var/lib/ocsp/index.db"), database_kind::sqlite_file);
    EXPECT_EQ(database_kind_of("index.db"), database_kind::sqlite_file);
    EXPECT_EQ(database_kind_of("./odd=name.db"), database_kind::sqlite_file);
    EXPECT_EQ(database_kind_of(""), database_kind::sqlite_file);
    EXPECT_EQ(database_kind_of("postgresql://ocsp@db1/ocsp"), database_kind::postgresql);
    EXPECT_EQ(database_kind_of("postgres://db1"), database_kind::postgresql);
    EXPECT_EQ(database_kind_of("host=db1 dbname=ocsp"), database_kind::postgresql);
    EXPECT_EQ(database_kind_of("dbname = ocsp"), database_kind::postgresql);
}

TEST(pg, passwords_never_leave_redacted) {
    EXPECT_EQ(redact_conninfo("postgresql://ocsp:s3cret@db1:5432/ocsp?sslmode=require"),
              "postgresql://ocsp:***@db1:5432/ocsp?sslmode=require");
    EXPECT_EQ(redact_conninfo("postgresql://ocsp@db1/ocsp?sslmode=require&password=s3cret"),
              "postgresql://ocsp@db1/ocsp?sslmode=require&password=***");
    EXPECT_EQ(redact_conninfo("postgresql://db1/ocsp"), "postgresql://db1/ocsp");
    EXPECT_EQ(redact_conninfo("host=db1 password=s3cret dbname=ocsp"), "host=db1 password=*** dbname=ocsp");
    EXPECT_EQ(redact_conninfo("host=db1 password = 'with \\' quote' user=o"), "host=db1 password = *** user=o");
    EXPECT_EQ(redact_conninfo("host=db1 dbname=ocsp"), "host=db1 dbname=ocsp");
}

class pg_live : public ::testing::Test {
protected:
    static void SetUpTestSuite() { server_ = std::make_unique<test::postgres_server>(); }
    static void TearDownTestSuite() { server_.reset(); }
    static std::unique_ptr<test::postgres_server> server_;
};
std::unique_ptr<test::postgres_server> pg_live::server_;

TEST_F(pg_live, parameters_and_results_round_trip_in_binary) {
    connection c(server_->conninfo());
    c.exec("CREATE TABLE t (n bigint, s text, b bytea, small integer, flag boolean)");
    const std::vector<std::uint8_t> blob{0x00, 0xff, 0x5c, 0x27, 0x00};
    const auto inserted = c.query("INSERT INTO t VALUES ($1, $2, $3, -7, true)",
                                  {std::int64_t{-1234567890123}, std::string_view{"it's \\ text"},
                                   std::span<const std::uint8_t>(blob)});
    EXPECT_EQ(inserted.affected(), 1);
    c.query("INSERT INTO t VALUES ($1, $2, $3, NULL, false)", {std::int64_t{5}, std::monostate{}, std::monostate{}});
    const auto r = c.query("SELECT n, s, b, small, flag FROM t ORDER BY n");
    ASSERT_EQ(r.rows(), 2);
    EXPECT_EQ(r.integer(0, 0), -1234567890123);
    EXPECT_EQ(r.text(0, 1), "it's \\ text");
    EXPECT_EQ(r.bytes(0, 2), blob);
    EXPECT_EQ(r.integer(0, 3), -7);
    EXPECT_TRUE(r.boolean(0, 4));
    EXPECT_TRUE(r.is_null(1, 1));
    EXPECT_TRUE(r.is_null(1, 2));
    EXPECT_THROW((void)r.integer(1, 3), pg_error);
}

TEST_F(pg_live, a_statement_is_prepared_once_and_outlives_a_rolled_back_transaction) {
    connection c(server_->conninfo());
    c.exec("CREATE TEMP TABLE p (n bigint)");
    const auto prepared = [&c] {
        return c.query("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'ocspkit\\_%'").integer(0, 0);
    };
    EXPECT_EQ(prepared(), 0);  // no parameters: run unprepared
    c.exec("BEGIN");
    c.query("INSERT INTO p VALUES ($1)", {std::int64_t{1}});
    c.exec("ROLLBACK");
    EXPECT_EQ(prepared(), 1);
    for (std::int64_t n = 2; n < 5; ++n) c.query("INSERT INTO p VALUES ($1)", {n});
    EXPECT_EQ(prepared(), 1);  // the same text and types: the same statement
    c.query("INSERT INTO p VALUES ($1)", {std::monostate{}});
    EXPECT_EQ(prepared(), 2);  // other parameter types: a statement of its own
    EXPECT_EQ(c.query("SELECT count(*) FROM p WHERE n IS NOT NULL").integer(0, 0), 3);
}

TEST_F(pg_live, server_errors_carry_their_sqlstate) {
    connection c(server_->conninfo());
    c.exec("CREATE TABLE u (k bigint PRIMARY KEY)");
    c.query("INSERT INTO u VALUES ($1)", {std::int64_t{1}});
    try {
        c.query("INSERT INTO u VALUES ($1)", {std::int64_t{1}});
        FAIL() << "a duplicate key was accepted";
    } catch (const pg_error& e) {
        EXPECT_EQ(e.sqlstate(), "23505") << e.what();
        EXPECT_FALSE(e.connection_bad());
        EXPECT_FALSE(e.transient()) << "a duplicate key is the statement's fault, not worth retrying";
    }
    EXPECT_THROW(c.exec("SELEC 1"), pg_error);
    EXPECT_TRUE(c.healthy());
}

TEST_F(pg_live, a_failed_connection_names_the_server_without_the_password) {
    try {
        connection c(server_->conninfo("no_such_database") + " password=s3cret");
        FAIL() << "connected to a database that does not exist";
    } catch (const pg_error& e) {
        const std::string what = e.what();
        EXPECT_EQ(what.find("s3cret"), std::string::npos) << what;
        EXPECT_NE(what.find("password=***"), std::string::npos) << what;
        EXPECT_NE(what.find("no_such_database"), std::string::npos) << what;
        EXPECT_TRUE(e.connection_bad());
    }
}

// The connection's defaults (timeouts, keepalives, an application name) apply unless the operator's
// string says otherwise.
TEST_F(pg_live, the_connection_string_overrides_the_defaults) {
    connection plain(server_->conninfo());
    EXPECT_EQ(plain.query("SELECT current_setting('application_name')").text(0, 0), "ocspkit");
    connection named(server_->conninfo() + " application_name=replica-b");
    EXPECT_EQ(named.query("SELECT current_setting('application_name')").text(0, 0), "replica-b");
}

TEST_F(pg_live, a_stopped_server_is_a_bad_connection_and_comes_back) {
    const auto info = server_->create_database("restart_test");
    connection c(info);
    EXPECT_EQ(c.query("SELECT 1::bigint").integer(0, 0), 1);
    server_->stop();
    try {
        c.query("SELECT 1");
        FAIL() << "a query on a stopped server succeeded";
    } catch (const pg_error& e) {
        EXPECT_TRUE(e.connection_bad()) << e.what();
        EXPECT_TRUE(e.transient());
    }
    try {
        connection refused(info);
        FAIL() << "connected to a stopped server";
    } catch (const pg_error& e) {
        EXPECT_TRUE(e.transient()) << e.what();
    }
    server_->start();
    connection again(info);
    EXPECT_EQ(again.query("SELECT 2::bigint").integer(0, 0), 2);
}

}  // namespace
}  // namespace ocspkit::pg
