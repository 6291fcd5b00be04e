#include "common/sqlite.hpp"

#include <fmt/format.h>

namespace ocspkit::sqlite {

namespace {

std::string describe(const std::filesystem::path& path, std::string_view context, const char* message, int rc) {
    return fmt::format("sqlite {}: {}: {} (code {})", path.string(), context,
                       message != nullptr ? message : sqlite3_errstr(rc), rc);
}

int open_flags(open_mode mode) {
    // NOMUTEX: each connection belongs to one thread, so SQLite's per-connection mutex is pure cost.
    // EXRESCODE: extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_CONSTRAINT_UNIQUE, ...) from the start.
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    switch (mode) {
    case open_mode::read_only: return flags | SQLITE_OPEN_READONLY;
    case open_mode::read_write: return flags | SQLITE_OPEN_READWRITE;
    case open_mode::read_write_create: return flags | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    }
    return flags | SQLITE_OPEN_READONLY;
}

// sqlite3_bind_* treat a null pointer as SQL NULL; an empty string or blob must stay empty, not NULL.
const char empty_value[1] = {'\0'};

}  // namespace

connection::connection(const std::filesystem::path& file, open_mode mode, std::chrono::milliseconds busy_timeout)
    : path_(file) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path_.c_str(), &raw, open_flags(mode), nullptr);
    // sqlite3_open_v2 hands back a handle even on failure (for the message); it must still be closed.
    db_.reset(raw);
    if (rc != SQLITE_OK) {
        throw sqlite_error(describe(path_, "cannot open", db_ ? sqlite3_errmsg(db_.get()) : nullptr, rc), rc);
    }
    sqlite3_extended_result_codes(db_.get(), 1);
    const auto ms = busy_timeout.count();
    sqlite3_busy_timeout(db_.get(), ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(ms));
}

void connection::exec(std::string_view sql) {
    const std::string text{sql};
    const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) fail(fmt::format("cannot execute '{}'", sql), rc);
}

statement connection::prepare(std::string_view sql) const {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, &tail);
    stmt_ptr stmt{raw};
    if (rc != SQLITE_OK) fail(fmt::format("cannot prepare '{}'", sql), rc);
    if (!stmt) throw sqlite_error(describe(path_, fmt::format("cannot prepare '{}'", sql), "no SQL statement",
                                           SQLITE_MISUSE), SQLITE_MISUSE);
    // A second statement after the first would be silently ignored by sqlite3_prepare; refuse it instead.
    const std::string_view rest = sql.substr(static_cast<std::size_t>(tail - sql.data()));
    if (rest.find_first_not_of(" \t\r\n;") != std::string_view::npos) {
        throw sqlite_error(describe(path_, fmt::format("cannot prepare '{}'", sql),
                                    "more than one statement; use exec()", SQLITE_MISUSE),
                           SQLITE_MISUSE);
    }
    return statement{*this, std::move(stmt)};
}

std::int64_t connection::last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(db_.get()); }

int connection::changes() const noexcept { return sqlite3_changes(db_.get()); }

void connection::fail(std::string_view context, int rc) const {
    throw sqlite_error(describe(path_, context, sqlite3_errmsg(db_.get()), rc), rc);
}

statement& statement::bind(int index, std::int64_t value) {
    const int rc = sqlite3_bind_int64(stmt_.get(), index, value);
    if (rc != SQLITE_OK) conn_->fail(fmt::format("cannot bind parameter {}", index), rc);
    return *this;
}

statement& statement::bind(int index, std::string_view text) {
    const char* data = text.data() != nullptr ? text.data() : empty_value;
    const int rc = sqlite3_bind_text64(stmt_.get(), index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) conn_->fail(fmt::format("cannot bind parameter {}", index), rc);
    return *this;
}

statement& statement::bind(int index, std::span<const std::uint8_t> blob) {
    const void* data = blob.data() != nullptr ? static_cast<const void*>(blob.data()) : empty_value;
    const int rc = sqlite3_bind_blob64(stmt_.get(), index, data, blob.size(), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) conn_->fail(fmt::format("cannot bind parameter {}", index), rc);
    return *this;
}

statement& statement::bind_null(int index) {
    const int rc = sqlite3_bind_null(stmt_.get(), index);
    if (rc != SQLITE_OK) conn_->fail(fmt::format("cannot bind parameter {}", index), rc);
    return *this;
}

bool statement::step() {
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    // Take the message before resetting: the reset releases the statement's locks so that the connection
    // stays usable after the exception, and may replace the message.
    std::string what = describe(conn_->path(), fmt::format("cannot run '{}'", sqlite3_sql(stmt_.get())),
                                sqlite3_errmsg(conn_->get()), rc);
    sqlite3_reset(stmt_.get());
    throw sqlite_error(std::move(what), rc);
}

void statement::run() {
    while (step()) {
    }
    // Bindings are kept: a statement prepared once is rebound and rerun without a separate reset().
    sqlite3_reset(stmt_.get());
}

void statement::reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
}

bool statement::is_null(int column) const { return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL; }

std::int64_t statement::column_int(int column) const { return sqlite3_column_int64(stmt_.get(), column); }

std::optional<std::int64_t> statement::column_optional_int(int column) const {
    if (is_null(column)) return std::nullopt;
    return column_int(column);
}

std::string statement::column_text(int column) const {
    const unsigned char* text = sqlite3_column_text(stmt_.get(), column);
    // sqlite3_column_bytes must follow sqlite3_column_text: it measures the converted value.
    const int len = sqlite3_column_bytes(stmt_.get(), column);
    if (text == nullptr) return {};
    return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(len)};
}

std::vector<std::uint8_t> statement::column_blob(int column) const {
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_.get(), column));
    const int len = sqlite3_column_bytes(stmt_.get(), column);
    if (data == nullptr) return {};
    return {data, data + len};
}

backup::backup(connection& destination, const connection& source)
    : destination_(destination), backup_(sqlite3_backup_init(destination.get(), "main", source.get(), "main")) {
    // On failure the error is left in the destination connection.
    if (!backup_) destination_.fail(fmt::format("cannot start a backup from {}", source.path().string()), sqlite3_errcode(destination.get()));
}

bool backup::step(int pages) {
    const int rc = sqlite3_backup_step(backup_.get(), pages);
    if (rc == SQLITE_DONE) return true;
    if (rc == SQLITE_OK) return false;
    // sqlite3_backup_step leaves no message in the destination connection for BUSY/LOCKED.
    throw sqlite_error(describe(destination_.path(), "backup step", sqlite3_errstr(rc), rc), rc);
}

void backup::finish() {
    const int rc = sqlite3_backup_finish(backup_.release());
    if (rc != SQLITE_OK) destination_.fail("cannot finish the backup", rc);
}

transaction::transaction(connection& conn) : conn_(conn) {
    // IMMEDIATE takes the write lock now, so a busy database fails here (after busy_timeout) instead of
    // halfway through the writes with SQLITE_BUSY on a lock upgrade that the timeout cannot resolve.
    conn_.exec("BEGIN IMMEDIATE");
}

transaction::~transaction() {
    if (done_) return;
    // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) have already rolled back; ROLLBACK would then fail.
    if (sqlite3_get_autocommit(conn_.get()) == 0) {
        sqlite3_exec(conn_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

void transaction::commit() {
    // On failure done_ stays false, so the destructor rolls back whatever COMMIT left open.
    conn_.exec("COMMIT");
    done_ = true;
}

}  // namespace ocspkit::sqlite
