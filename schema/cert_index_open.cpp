// cert_index: opening a database, creating its schema and migrating it (with the audit row that records
// it). Part of the repository class, in its own file by job.
#include <fmt/format.h>

#include "schema/cert_index.hpp"
#include "schema/db_problems.hpp"
#include "schema/migrations.hpp"

namespace ocspkit::schema {

namespace {

std::int64_t pragma_int(const sqlite::connection& conn, std::string_view pragma) {
    auto s = conn.prepare(fmt::format("PRAGMA {}", pragma));
    if (!s.step()) return 0;
    return s.column_int(0);
}

void migrate(sqlite::connection& conn, sqlite::open_mode mode, const audit_context& actor) {
    const std::string file = conn.path().string();
    if (mode == sqlite::open_mode::read_write_create) {
        // Persistent in the file: readers never block the writer and the writer never blocks readers.
        // Set before the transaction because the journal mode cannot change inside one.
        conn.exec("PRAGMA journal_mode = WAL");
    }
    sqlite::transaction txn(conn);
    // Re-read under the write lock: another process may have migrated since we looked.
    const auto version = pragma_int(conn, "user_version");
    if (version == 0) {
        auto tables = conn.prepare("SELECT count(*) FROM sqlite_schema");
        tables.step();
        if (tables.column_int(0) != 0) {
            throw schema_error(fmt::format("{}: not an ocspkit database (it has tables but no schema version)", file));
        }
        conn.exec(fmt::format("PRAGMA application_id = {}", application_id));
    }
    int reached = static_cast<int>(version);
    for (const auto& m : migrations()) {
        if (m.version <= version) continue;
        conn.exec(m.sql);
        conn.exec(fmt::format("PRAGMA user_version = {}", m.version));
        reached = m.version;
    }
    if (reached != version) {
        // The audit table exists from version 2 on; the creation or migration is its first entry.
        auto insert = conn.prepare(audit_insert_sql);
        audit_entry entry;
        entry.detail = version == 0 ? fmt::format("schema created at version {}", reached)
                                    : fmt::format("schema migrated from version {} to {}", version, reached);
        write_audit(insert, actor, entry);
    }
    txn.commit();
}

}  // namespace

cert_index cert_index::open(const std::filesystem::path& file, sqlite::open_mode mode,
                            std::chrono::milliseconds busy_timeout, std::optional<audit_context> audit) {
    // Said before SQLite tries: its own words ("unable to open database file", "attempt to write a
    // readonly database") name neither the file in the way nor the fix.
    if (auto problem = access_problem(file, mode)) throw database_error(*problem);
    try {
        return open_checked(file, mode, busy_timeout, audit ? std::move(*audit) : audit_context{});
    } catch (const sqlite::sqlite_error& e) {
        throw database_error(explain(file, e, mode, busy_timeout));
    }
}

cert_index cert_index::open_checked(const std::filesystem::path& file, sqlite::open_mode mode,
                                    std::chrono::milliseconds busy_timeout, audit_context audit) {
    const std::string name = file.string();
    auto conn = std::make_unique<sqlite::connection>(file, mode, busy_timeout);
    // The schema's triggers stamp and count the writes of foreign clients (migrations.cpp). Our writers do
    // that work themselves, once per transaction; the per-row trigger programs would cost a sixth of a
    // million-row import and add nothing.
    int triggers_on = -1;
    if (sqlite3_db_config(conn->get(), SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &triggers_on) != SQLITE_OK ||
        triggers_on != 0) {
        throw schema_error(fmt::format("{}: cannot turn off triggers on this connection", name));
    }
    // Per connection, not stored in the file: every connection of ours must ask for both.
    conn->exec("PRAGMA foreign_keys = ON");
    if (mode != sqlite::open_mode::read_only) {
        // In WAL mode NORMAL syncs at checkpoints only; a power cut may lose the last commits but never
        // corrupts the database, and it makes bulk imports several times faster.
        conn->exec("PRAGMA synchronous = NORMAL");
    }

    const auto app_id = pragma_int(*conn, "application_id");
    if (app_id != 0 && app_id != application_id) {
        throw schema_error(fmt::format("{}: not an ocspkit database (application_id {:#x})", name, app_id));
    }
    const auto version = pragma_int(*conn, "user_version");
    if (version > current_schema_version) {
        throw schema_error(fmt::format("{}: database schema version {} is newer than this ocspkit supports ({}); "
                                       "upgrade ocspkit",
                                       name, version, current_schema_version));
    }
    if (version == 0 && mode != sqlite::open_mode::read_write_create) {
        throw schema_error(
            fmt::format("{}: not an ocspkit database (no schema); create it with `ocspctl init --db {}`", name, name));
    }
    if (version < current_schema_version) {
        if (mode == sqlite::open_mode::read_only) {
            throw schema_error(fmt::format("{}: database schema version {} is older than this ocspkit's ({}); "
                                           "migrate it with `ocspctl init --db {}`",
                                           name, version, current_schema_version, name));
        }
        migrate(*conn, mode, audit);
    }
    return cert_index{std::move(conn), std::move(audit)};
}

int cert_index::schema_version() const { return static_cast<int>(pragma_int(*conn_, "user_version")); }

}  // namespace ocspkit::schema
