// The SQLite wrappers: transactions that roll back unless committed, bindings that keep empty values
// apart from NULL, and errors that name the database.
#include "common/sqlite.hpp"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/test_pki.hpp"

namespace ocspkit::sqlite {
namespace {

using namespace std::chrono_literals;

class sqlite_test : public testing::Test {
protected:
    void SetUp() override {
        db_.exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT, b BLOB, n INTEGER)");
    }

    std::int64_t count() const {
        auto s = db_.prepare("SELECT count(*) FROM t");
        EXPECT_TRUE(s.step());
        return s.column_int(0);
    }

    void insert(std::int64_t k) { db_.prepare("INSERT INTO t(k, v) VALUES (?1, 'x')").bind(1, k).run(); }

    // The message of the sqlite_error `fn` throws, and its code.
    template <class F>
    static std::pair<std::string, int> error_of(F&& fn) {
        try {
            fn();
        } catch (const sqlite_error& e) {
            return {e.what(), e.code()};
        }
        return {"(no error)", SQLITE_OK};
    }

    test::temp_dir dir_;
    std::filesystem::path file_ = dir_ / "test.db";
    connection db_{file_, open_mode::read_write_create};
};

TEST_F(sqlite_test, transaction_rolls_back_unless_committed) {
    {
        transaction tx{db_};
        insert(1);
        EXPECT_EQ(count(), 1);
    }
    EXPECT_EQ(count(), 0);

    EXPECT_THROW(
        {
            transaction tx{db_};
            insert(2);
            throw std::runtime_error("a failure halfway through a write");
        },
        std::runtime_error);
    EXPECT_EQ(count(), 0);

    {
        transaction tx{db_};
        insert(3);
        tx.commit();
    }
    EXPECT_EQ(count(), 1);
    // A second connection sees only committed data.
    connection other{file_, open_mode::read_only};
    auto s = other.prepare("SELECT k FROM t");
    ASSERT_TRUE(s.step());
    EXPECT_EQ(s.column_int(0), 3);
    EXPECT_FALSE(s.step());
}

TEST_F(sqlite_test, binds_and_reads_values) {
    const std::vector<std::uint8_t> blob{0x00, 0x01, 0xff};
    auto ins = db_.prepare("INSERT INTO t(k, v, b, n) VALUES (?1, ?2, ?3, ?4)");
    ins.bind(1, std::int64_t{1}).bind(2, std::string_view{"text"}).bind(3, std::span<const std::uint8_t>{blob});
    ins.bind(4, std::optional<std::int64_t>{42}).run();
    EXPECT_EQ(db_.last_insert_rowid(), 1);
    EXPECT_EQ(db_.changes(), 1);
    // run() keeps bindings other than those rebound, so the statement is reused as prepared.
    ins.bind(1, std::int64_t{2}).bind(2, std::string_view{}).bind(3, std::span<const std::uint8_t>{});
    ins.bind(4, std::optional<std::int64_t>{}).run();

    auto sel = db_.prepare("SELECT v, b, n, v IS NULL, b IS NULL FROM t ORDER BY k");
    ASSERT_TRUE(sel.step());
    EXPECT_EQ(sel.column_text(0), "text");
    EXPECT_EQ(sel.column_blob(1), blob);
    EXPECT_EQ(sel.column_optional_int(2), 42);
    ASSERT_TRUE(sel.step());
    // Empty text and blob are values, not NULL: a null data pointer must not turn them into NULL.
    EXPECT_EQ(sel.column_int(3), 0);
    EXPECT_EQ(sel.column_int(4), 0);
    EXPECT_EQ(sel.column_text(0), "");
    EXPECT_TRUE(sel.column_blob(1).empty());
    EXPECT_TRUE(sel.is_null(2));
    EXPECT_EQ(sel.column_optional_int(2), std::nullopt);
    EXPECT_FALSE(sel.step());

    sel.reset();
    EXPECT_TRUE(sel.step()) << "reset() makes the statement reusable";
}

TEST_F(sqlite_test, errors_name_the_database_and_keep_the_extended_code) {
    const auto [syntax, syntax_code] = error_of([&] { (void)db_.prepare("SELEC 1"); });
    EXPECT_EQ(syntax, "sqlite " + file_.string() + ": cannot prepare 'SELEC 1': near \"SELEC\": syntax error (code 1)");
    EXPECT_EQ(syntax_code, SQLITE_ERROR);

    insert(1);
    const auto [dup, dup_code] = error_of([&] { insert(1); });
    EXPECT_EQ(dup, "sqlite " + file_.string() +
                       ": cannot run 'INSERT INTO t(k, v) VALUES (?1, 'x')': UNIQUE constraint failed: t.k (code 1555)");
    EXPECT_EQ(dup_code, SQLITE_CONSTRAINT_PRIMARYKEY);

    const auto [two, two_code] = error_of([&] { (void)db_.prepare("SELECT 1; SELECT 2"); });
    EXPECT_EQ(two, "sqlite " + file_.string() +
                       ": cannot prepare 'SELECT 1; SELECT 2': more than one statement; use exec() (code 21)");
    EXPECT_EQ(two_code, SQLITE_MISUSE);

    const auto missing = dir_ / "missing.db";
    const auto [open, open_code] = error_of([&] { connection c{missing, open_mode::read_only}; });
    EXPECT_EQ(open, "sqlite " + missing.string() + ": cannot open: unable to open database file (code 14)");
    EXPECT_EQ(open_code, SQLITE_CANTOPEN);
}

TEST_F(sqlite_test, second_writer_gets_busy_after_the_timeout) {
    transaction tx{db_};
    connection other{file_, open_mode::read_write, 20ms};
    const auto [message, code] = error_of([&] { transaction blocked{other}; });
    EXPECT_EQ(message, "sqlite " + file_.string() + ": cannot execute 'BEGIN IMMEDIATE': database is locked (code 5)");
    EXPECT_TRUE(sqlite_error(message, code).is_busy());
}

TEST_F(sqlite_test, backup_copies_a_snapshot_and_holds_the_destination_lock_between_steps) {
    db_.exec("PRAGMA journal_mode = WAL");
    for (int k = 0; k < 50; ++k) insert(k);
    const auto copy_file = dir_ / "copy.db";
    connection copy{copy_file, open_mode::read_write_create};
    {
        backup run{copy, db_};
        // A step of no pages locks the destination: another writer there times out.
        EXPECT_FALSE(run.step(0));
        connection other{copy_file, open_mode::read_write, 20ms};
        const auto [message, code] = error_of([&] { other.exec("CREATE TABLE x (y)"); });
        EXPECT_TRUE(sqlite_error(message, code).is_busy()) << message;
        EXPECT_TRUE(run.step(-1));
        run.finish();
    }
    auto s = copy.prepare("SELECT count(*) FROM t");
    ASSERT_TRUE(s.step());
    EXPECT_EQ(s.column_int(0), 50);
}

}  // namespace
}  // namespace ocspkit::sqlite
