#pragma once
// RAII for SQLite: connection, prepared statement, transaction guard, and one error type that carries
// sqlite3_errmsg and the extended result code.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <sqlite3.h>

namespace ocspkit::sqlite {

class sqlite_error : public std::runtime_error {
public:
    sqlite_error(std::string what, int code) : std::runtime_error(std::move(what)), code_(code) {}
    int code() const noexcept { return code_; }  // extended result code
    bool is_busy() const noexcept { return (code_ & 0xff) == SQLITE_BUSY || (code_ & 0xff) == SQLITE_LOCKED; }

private:
    int code_;
};

struct db_deleter {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct stmt_deleter {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
struct backup_deleter {
    void operator()(sqlite3_backup* b) const noexcept { sqlite3_backup_finish(b); }
};
using db_ptr = std::unique_ptr<sqlite3, db_deleter>;
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_deleter>;
using backup_ptr = std::unique_ptr<sqlite3_backup, backup_deleter>;

enum class open_mode { read_only, read_write, read_write_create };

class statement;

class connection {
public:
    // busy_timeout: how long a writer waits for another writer's lock before failing with SQLITE_BUSY.
    connection(const std::filesystem::path& file, open_mode mode,
               std::chrono::milliseconds busy_timeout = std::chrono::milliseconds{5000});
    sqlite3* get() const noexcept { return db_.get(); }
    const std::filesystem::path& path() const noexcept { return path_; }

    void exec(std::string_view sql);  // one or more statements, no results
    statement prepare(std::string_view sql) const;
    std::int64_t last_insert_rowid() const noexcept;
    int changes() const noexcept;
    [[noreturn]] void fail(std::string_view context, int rc) const;

private:
    std::filesystem::path path_;
    db_ptr db_;
};

class statement {
public:
    statement(const connection& conn, stmt_ptr stmt) : conn_(&conn), stmt_(std::move(stmt)) {}

    // Binding by 1-based index; std::nullopt binds NULL.
    statement& bind(int index, std::int64_t value);
    statement& bind(int index, std::string_view text);
    statement& bind(int index, std::span<const std::uint8_t> blob);
    statement& bind_null(int index);
    template <class T>
    statement& bind(int index, const std::optional<T>& value) {
        if (value) return bind(index, *value);
        return bind_null(index);
    }

    bool step();   // true while a row is available
    void run();    // steps to completion, then resets for reuse
    void reset();  // resets and clears bindings

    bool is_null(int column) const;
    std::int64_t column_int(int column) const;
    std::optional<std::int64_t> column_optional_int(int column) const;
    std::string column_text(int column) const;
    std::vector<std::uint8_t> column_blob(int column) const;

    sqlite3_stmt* get() const noexcept { return stmt_.get(); }

private:
    const connection* conn_;
    stmt_ptr stmt_;
};

// The online backup API (https://sqlite.org/backup.html): copies `source`'s main database into
// `destination`'s, page by page, as one write transaction on the destination. The destination's write
// lock is taken by the first step() and held until the copy is done; the source is read in a read
// transaction per step, so step(-1) copies one consistent snapshot while other connections keep writing
// (WAL). Destroying an unfinished backup finishes it (the destination keeps its old content).
class backup {
public:
    backup(connection& destination, const connection& source);
    // Copies up to `pages` pages (-1: all). Returns true when the copy is complete. Throws sqlite_error
    // (is_busy() when a lock was not available within the destination's busy timeout).
    bool step(int pages);
    // Releases the backup and reports a failure it ended with.
    void finish();

private:
    connection& destination_;
    backup_ptr backup_;
};

// BEGIN IMMEDIATE on construction, ROLLBACK on destruction unless commit() ran: a failure anywhere in a
// write leaves the database as it was.
class transaction {
public:
    explicit transaction(connection& conn);
    ~transaction();
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    void commit();

private:
    connection& conn_;
    bool done_ = false;
};

}  // namespace ocspkit::sqlite
