// cert_index's backup and restore (issue 10 item 5): the SQLite online backup API, and the SQL that
// keeps the change sequence monotonic across a restore. Part of the repository class, in its own file by
// job.
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/cert_id.hpp"
#include "schema/cert_index.hpp"
#include "schema/db_problems.hpp"
#include "schema/migrations.hpp"

namespace ocspkit::schema {

namespace fs = std::filesystem;

namespace {

std::int64_t scalar(const sqlite::connection& conn, std::string_view sql) {
    auto s = conn.prepare(sql);
    if (!s.step()) return 0;
    return s.column_int(0);
}

void turn_off_triggers(sqlite::connection& conn) {
    // As in cert_index::open: our code stamps and counts; the triggers are for foreign writers.
    int on = -1;
    if (sqlite3_db_config(conn.get(), SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &on) != SQLITE_OK || on != 0) {
        throw schema_error(fmt::format("{}: cannot turn off triggers on this connection", conn.path().string()));
    }
}

void remove_with_sidecars(const fs::path& file) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(file.string() + suffix, ec);
}

// A file's data on disk before it is renamed into place: a crash must not leave a renamed empty backup.
void sync_file(const fs::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw index_error(fmt::format("{}: cannot open to sync: {}", file.string(), std::strerror(errno)));
    const int rc = ::fsync(fd);
    const int e = errno;
    ::close(fd);
    if (rc != 0) throw index_error(fmt::format("{}: fsync failed: {}", file.string(), std::strerror(e)));
}

// The facts of a database file ours or not: checks application_id and version on `conn`.
backup_summary summarize(const sqlite::connection& conn, const fs::path& file, std::string_view refused) {
    const auto app_id = scalar(conn, "PRAGMA application_id");
    const auto version = scalar(conn, "PRAGMA user_version");
    if (app_id != application_id || version < 1) {
        throw schema_error(fmt::format("{}: not an ocspkit database (application_id {:#x}, schema version {}){}",
                                       file.string(), app_id, version, refused));
    }
    if (version > current_schema_version) {
        throw schema_error(fmt::format("{}: schema version {} is newer than this ocspkit supports ({}); use a newer "
                                       "ocspkit{}",
                                       file.string(), version, current_schema_version, refused));
    }
    backup_summary s;
    s.schema_version = static_cast<int>(version);
    s.change_seq = scalar(conn, "SELECT value FROM change_counter WHERE id = 1");
    s.issuers = scalar(conn, "SELECT count(*) FROM issuers");
    s.certificates = scalar(conn, "SELECT count(*) FROM certificates");
    s.revoked = scalar(conn, "SELECT count(*) FROM certificates WHERE status <> 0");
    return s;
}

void check_integrity(const sqlite::connection& conn, const fs::path& file, std::string_view refused) {
    auto s = conn.prepare("PRAGMA integrity_check(5)");
    std::vector<std::string> problems;
    while (s.step()) problems.push_back(s.column_text(0));
    if (problems.size() == 1 && problems.front() == "ok") return;
    throw schema_error(fmt::format("{}: integrity check failed: {}{}", file.string(), fmt::join(problems, "; "), refused));
}

// BEGIN (deferred) ... COMMIT, rolled back unless committed.
class deferred_transaction {
public:
    explicit deferred_transaction(sqlite::connection& conn) : conn_(conn) { conn_.exec("BEGIN"); }
    ~deferred_transaction() {
        if (!done_ && sqlite3_get_autocommit(conn_.get()) == 0) sqlite3_exec(conn_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
    deferred_transaction(const deferred_transaction&) = delete;
    deferred_transaction& operator=(const deferred_transaction&) = delete;
    void commit() {
        conn_.exec("COMMIT");
        done_ = true;
    }

private:
    sqlite::connection& conn_;
    bool done_ = false;
};

}  // namespace

backup_summary cert_index::backup_to(const fs::path& db, const fs::path& target, std::chrono::milliseconds busy_timeout) {
    if (auto problem = access_problem(db, sqlite::open_mode::read_only)) throw database_error(*problem);
    const fs::path temp = target.string() + ".tmp";
    remove_with_sidecars(temp);
    try {
        backup_summary summary;
        {
            sqlite::connection source(db, sqlite::open_mode::read_only, busy_timeout);
            summarize(source, db, "");
            sqlite::connection copy(temp, sqlite::open_mode::read_write_create, busy_timeout);
            sqlite::backup run(copy, source);
            // All pages in one step: one read transaction on the source, so one consistent snapshot even
            // while the responder reads and ocspctl writes (in smaller steps a write restarts the copy).
            while (!run.step(-1)) {
            }
            run.finish();
            // A single self-contained file: a WAL-mode copy would keep its last writes in FILE-wal.
            copy.exec("PRAGMA journal_mode = DELETE");
            check_integrity(copy, temp, "");
            summary = summarize(copy, temp, "");
        }
        sync_file(temp);
        fs::rename(temp, target);
        return summary;
    } catch (const sqlite::sqlite_error& e) {
        remove_with_sidecars(temp);
        throw database_error(explain(db, e, sqlite::open_mode::read_only, busy_timeout));
    } catch (...) {
        remove_with_sidecars(temp);
        throw;
    }
}

backup_summary cert_index::check_backup(const fs::path& file) {
    const std::string refused = "; refused, the database was not changed";
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
        throw schema_error(fmt::format("{}: no such backup file{}", file.string(), refused));
    }
    try {
        sqlite::connection conn(file, sqlite::open_mode::read_only);
        auto summary = summarize(conn, file, refused);
        check_integrity(conn, file, refused);
        return summary;
    } catch (const sqlite::sqlite_error& e) {
        const int primary = e.code() & 0xff;
        if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) {
            throw schema_error(fmt::format("{}: not a readable SQLite database ({}){}", file.string(),
                                           sqlite3_errstr(primary), refused));
        }
        throw schema_error(fmt::format("{}: cannot read the backup: {}{}", file.string(), e.what(), refused));
    }
}

restore_summary cert_index::restore_from(const fs::path& file, const fs::path& db, std::chrono::milliseconds busy_timeout,
                                         const audit_context& actor) {
    restore_summary out;
    out.restored = check_backup(file);
    // The target exists with our current schema (created, or migrated, by this open) before it is locked.
    open(db, sqlite::open_mode::read_write_create, busy_timeout, actor);

    // The backup is copied and brought to this build's schema in a staging file beside the target, so the
    // backup file itself is never written and the final copy is one backup of a finished database.
    const fs::path staging = db.string() + ".restore-tmp";
    remove_with_sidecars(staging);
    struct cleanup {
        fs::path file;
        ~cleanup() { remove_with_sidecars(file); }
    } remove_staging{staging};
    try {
        {
            sqlite::connection source(file, sqlite::open_mode::read_only, busy_timeout);
            sqlite::connection copy(staging, sqlite::open_mode::read_write_create, busy_timeout);
            sqlite::backup run(copy, source);
            while (!run.step(-1)) {
            }
            run.finish();
        }
        open(staging, sqlite::open_mode::read_write, busy_timeout, actor);  // migrates an older backup

        sqlite::connection stage(staging, sqlite::open_mode::read_write, busy_timeout);
        turn_off_triggers(stage);
        sqlite::connection target(db, sqlite::open_mode::read_write, busy_timeout);
        sqlite::backup run(target, stage);
        // A step of no pages takes the target's write lock and keeps it: from here until the copy is
        // committed no other writer can move the counter we are about to read.
        run.step(0);

        stage.exec(fmt::format("ATTACH DATABASE '{}' AS current_index", [&] {
            std::string quoted;
            for (char ch : db.string()) {
                quoted.push_back(ch);
                if (ch == '\'') quoted.push_back('\'');
            }
            return quoted;
        }()));
        {
            // Deferred, not BEGIN IMMEDIATE: IMMEDIATE would also ask for the write lock of the attached
            // target, which our own backup step holds. Only `main` (the staging file) is written.
            deferred_transaction txn(stage);
            out.previous_change_seq = scalar(stage, "SELECT value FROM current_index.change_counter WHERE id = 1");
            out.change_seq = std::max(out.previous_change_seq, out.restored.change_seq) + 1;
            const std::int64_t seq = out.change_seq;

            // Revocations are sticky across a restore too: a certificate revoked (or held) in the index and
            // good, absent or merely held in the backup keeps the index's row. An older backup brings back
            // older state for everything else, but never turns a revoked certificate back to good; a hold
            // is lifted with `ocspctl unrevoke` afterwards if that was meant.
            constexpr std::string_view carried =
                " FROM current_index.certificates c"
                " JOIN current_index.issuers ci ON ci.id = c.issuer_id"
                " JOIN main.issuers i ON i.id = c.issuer_id AND i.name_hash_sha256 = ci.name_hash_sha256"
                "  AND i.key_hash_sha256 = ci.key_hash_sha256"
                " LEFT JOIN main.certificates m ON m.issuer_id = c.issuer_id AND m.serial = c.serial"
                " WHERE (c.status = 1 AND m.status IS NOT 1) OR (c.status = 2 AND coalesce(m.status, 0) = 0)";
            // A revocation whose issuer the backup does not have (under the same id) cannot be carried over:
            // refuse rather than drop it.
            const auto orphaned = scalar(stage,
                "SELECT count(*) FROM current_index.certificates c WHERE c.status <> 0 AND NOT EXISTS ("
                " SELECT 1 FROM current_index.issuers ci JOIN main.issuers i ON i.id = ci.id"
                "  AND i.name_hash_sha256 = ci.name_hash_sha256 AND i.key_hash_sha256 = ci.key_hash_sha256"
                " WHERE ci.id = c.issuer_id)");
            if (orphaned > 0) {
                throw index_error(fmt::format(
                    "{}: {} revoked or held certificates of {} belong to issuers that the backup does not have (it "
                    "is a backup of another index?); a restore never drops a revocation: restore into a new path "
                    "(--db NEW) instead; refused, the database was not changed",
                    file.string(), orphaned, db.string()));
            }
            auto kept = stage.prepare(fmt::format("SELECT c.serial{} ORDER BY c.issuer_id, length(c.serial), c.serial",
                                                  carried));
            while (kept.step()) out.revocations_kept.push_back(to_hex(kept.column_blob(0)));
            stage.exec(fmt::format(
                "INSERT OR REPLACE INTO main.certificates (issuer_id, serial, not_before, not_after, status, "
                "revocation_time, reason, invalidity_date, hold_instruction, subject, cert_der, change_seq) "
                "SELECT c.issuer_id, c.serial, c.not_before, c.not_after, c.status, c.revocation_time, c.reason, "
                "c.invalidity_date, c.hold_instruction, c.subject, c.cert_der, c.change_seq{}",
                carried));

            // The index's history stays: rows the backup does not have are appended in their order.
            stage.exec(
                "INSERT INTO main.audit (time, unix_user, sudo_user, command, issuer_id, serial, old_status, "
                "new_status, detail) SELECT a.time, a.unix_user, a.sudo_user, a.command, a.issuer_id, a.serial, "
                "a.old_status, a.new_status, a.detail FROM current_index.audit a WHERE NOT EXISTS (SELECT 1 FROM "
                "main.audit m WHERE m.id = a.id AND m.time = a.time AND m.command = a.command AND m.detail = a.detail "
                "AND m.serial IS a.serial) ORDER BY a.id");

            // One audit row per certificate whose status or presence changes.
            constexpr std::string_view status_word =
                "CASE {0} WHEN 0 THEN 'good' WHEN 1 THEN 'revoked' WHEN 2 THEN 'hold' END";
            auto changes = stage.prepare(fmt::format(
                "INSERT INTO main.audit (time, unix_user, sudo_user, command, issuer_id, serial, old_status, "
                "new_status, detail) "
                "SELECT ?1, ?2, ?3, ?4, issuer_id, serial, old, new, ?5 FROM ("
                " SELECT c.issuer_id, c.serial, {0} AS old, {1} AS new FROM current_index.certificates c "
                "  LEFT JOIN main.certificates m ON m.issuer_id = c.issuer_id AND m.serial = c.serial "
                "  WHERE m.status IS NOT c.status "
                " UNION ALL "
                " SELECT m.issuer_id, m.serial, NULL, {1} FROM main.certificates m WHERE NOT EXISTS (SELECT 1 FROM "
                "  current_index.certificates c WHERE c.issuer_id = m.issuer_id AND c.serial = m.serial)) "
                "ORDER BY issuer_id, length(serial), serial",
                fmt::format(fmt::runtime(status_word), "c.status"), fmt::format(fmt::runtime(status_word), "m.status")));
            const std::int64_t when =
                actor.time ? actor.time->time_since_epoch().count()
                           : scalar(stage, "SELECT unixepoch()");
            changes.bind(1, when);
            changes.bind(2, std::string_view{actor.unix_user.empty() ? "(unknown)" : actor.unix_user});
            changes.bind(3, actor.sudo_user);
            changes.bind(4, std::string_view{actor.command.empty() ? "restore" : actor.command});
            const std::string detail = fmt::format("restored from {}", file.string());
            changes.bind(5, std::string_view{detail});
            changes.run();
            out.status_changes = static_cast<std::size_t>(stage.changes());

            // Readers see every restored row as changed after anything they have seen, and hear about
            // every row that the backup lacks (a tombstone), so no cached answer survives the restore.
            auto stamp = stage.prepare("UPDATE main.certificates SET change_seq = ?1");
            stamp.bind(1, seq);
            stamp.run();
            auto tombstones = stage.prepare(
                "INSERT OR REPLACE INTO main.deleted_certificates (issuer_id, serial, change_seq) "
                "SELECT c.issuer_id, c.serial, ?1 FROM current_index.certificates c WHERE NOT EXISTS (SELECT 1 FROM "
                "main.certificates m WHERE m.issuer_id = c.issuer_id AND m.serial = c.serial)");
            tombstones.bind(1, seq);
            tombstones.run();
            // CRL numbers never go backwards (RFC 5280 §5.2.3), not even to a backup's: each issuer keeps the
            // higher of the index's and the backup's last number, so the next CRL supersedes every one issued.
            if (scalar(stage, "SELECT count(*) FROM current_index.sqlite_schema WHERE type = 'table' AND "
                              "name = 'crl_numbers'") > 0)
                stage.exec("INSERT INTO main.crl_numbers (issuer_id, last_number, issued_at) "
                           "SELECT c.issuer_id, c.last_number, c.issued_at FROM current_index.crl_numbers c "
                           "JOIN current_index.issuers ci ON ci.id = c.issuer_id "
                           "JOIN main.issuers i ON i.id = c.issuer_id AND i.name_hash_sha256 = ci.name_hash_sha256 "
                           " AND i.key_hash_sha256 = ci.key_hash_sha256 WHERE true "
                           "ON CONFLICT (issuer_id) DO UPDATE SET last_number = max(last_number, excluded.last_number), "
                           "issued_at = max(issued_at, excluded.issued_at)");
            auto counter = stage.prepare("UPDATE main.change_counter SET value = ?1 WHERE id = 1");
            counter.bind(1, seq);
            counter.run();

            auto summary = stage.prepare(audit_insert_sql);
            audit_entry entry;
            entry.detail = fmt::format("restored from {} (backup at change sequence {}, {} certificates); the index "
                                       "was at change sequence {}, now {}; {} statuses changed",
                                       file.string(), out.restored.change_seq, out.restored.certificates,
                                       out.previous_change_seq, seq, out.status_changes);
            audit_context who = actor;
            if (who.command.empty()) who.command = "restore";
            write_audit(summary, who, entry);
            txn.commit();
        }
        stage.exec("DETACH DATABASE current_index");

        // Everything, in the write transaction the first step opened; committed when the copy is done.
        while (!run.step(-1)) {
        }
        run.finish();
    } catch (const sqlite::sqlite_error& e) {
        throw database_error(explain(db, e, sqlite::open_mode::read_write, busy_timeout));
    }
    return out;
}

}  // namespace ocspkit::schema
