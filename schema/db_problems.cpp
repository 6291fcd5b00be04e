#include "schema/db_problems.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/unix_account.hpp"

namespace ocspkit::schema {

namespace fs = std::filesystem;

namespace {

fs::path folder_of(const fs::path& db) { return db.has_parent_path() ? db.parent_path() : fs::path{"."}; }

// The effective user's access, as the open() that follows will see it (access() checks the real uid).
int access_errno(const fs::path& p, int how) {
    if (::faccessat(AT_FDCWD, p.c_str(), how, AT_EACCESS) == 0) return 0;
    return errno;
}

std::string mode_text(unsigned mode) { return fmt::format("{:04o}", mode & 07777); }

std::string read_only_fs_message(const fs::path& file) {
    return fmt::format("cannot write {}: the file system is mounted read-only", file.string());
}

}  // namespace

std::string missing_file_message(const fs::path& db) {
    return fmt::format("{}: database does not exist; create it with `ocspctl init --db {}`", db.string(), db.string());
}

std::string missing_folder_message(const fs::path& db, std::string_view owner, std::string_view group) {
    const fs::path folder = folder_of(db);
    return fmt::format("{}: folder {} does not exist; create it with `install -d -o {} -g {} -m 0750 {}`, then run "
                       "`ocspctl init --db {} --owner {}:{}`",
                       db.string(), folder.string(), owner, group, folder.string(), db.string(), owner, group);
}

std::string unreadable_message(const fs::path& file, const file_facts& f) {
    // Also said to the responder, which only reads: the advice names both ways in.
    return fmt::format("cannot read {} (owned by {}:{}, mode {}): run as root or as {} (e.g. sudo -u {} "
                       "ocspctl ...), or let the group read it: `chown {}:{} {} && chmod 0640 {}`",
                       file.string(), f.owner, f.group, mode_text(f.mode), f.owner, f.owner, f.owner, f.group,
                       file.string(), file.string());
}

std::string unwritable_message(const fs::path& file, const file_facts& f, std::string_view what) {
    const std::string role = what.empty() ? std::string{} : fmt::format("{} ", what);
    return fmt::format("cannot write {}{} (owned by {}, mode {}): run ocspctl as root or as {}, e.g. sudo -u {} "
                       "ocspctl ...",
                       role, file.string(), f.owner, mode_text(f.mode), f.owner, f.owner);
}

std::string busy_message(const fs::path& db, std::chrono::milliseconds waited) {
    return fmt::format("database {} is locked by another writer (waited {} ms); nothing changed, try again (or "
                       "raise --busy-timeout)",
                       db.string(), waited.count());
}

std::string corrupt_message(const fs::path& db, std::string_view sqlite_says) {
    return fmt::format("{} is not a readable SQLite database ({}): move it aside and restore the last backup, e.g. "
                       "`mv {} {}.broken && ocspctl restore BACKUP --db {}`",
                       db.string(), sqlite_says, db.string(), db.string(), db.string());
}

std::optional<file_facts> facts_of(const fs::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return std::nullopt;
    return file_facts{user_name(st.st_uid), group_name(st.st_gid), static_cast<unsigned>(st.st_mode & 07777)};
}

std::optional<std::string> access_problem(const fs::path& db, sqlite::open_mode mode) {
    const fs::path folder = folder_of(db);
    std::error_code ec;
    struct stat st {};
    if (::stat(folder.c_str(), &st) != 0 && errno == EACCES) {
        // The folder may exist behind a parent this user cannot search: name that parent, not "missing".
        fs::path blocker = fs::absolute(folder, ec);
        while (blocker.has_parent_path() && blocker != blocker.parent_path()) {
            blocker = blocker.parent_path();
            if (access_errno(blocker, X_OK) == 0) continue;
            if (auto f = facts_of(blocker)) {
                return fmt::format("{}: {}", db.string(), unreadable_message(blocker, *f));
            }
        }
        return fmt::format("{}: cannot reach folder {}: {}", db.string(), folder.string(), std::strerror(EACCES));
    }
    if (!fs::is_directory(folder, ec)) {
        if (mode == sqlite::open_mode::read_write_create) return missing_folder_message(db);
        return fmt::format("{}: folder {} does not exist; check --db (or OCSPKIT_DB), or create the database: "
                           "`install -d -o ocspkit -g ocspkit -m 0750 {}` then `ocspctl init --db {}`",
                           db.string(), folder.string(), folder.string(), db.string());
    }
    if (access_errno(folder, X_OK) == EACCES) {
        // Without search permission on the folder nothing in it can be opened, not even to read.
        return unreadable_message(folder, facts_of(folder).value_or(file_facts{"?", "?", 0}));
    }
    const bool exists = fs::exists(db, ec);
    if (!exists) {
        if (mode != sqlite::open_mode::read_write_create) return missing_file_message(db);
        const int e = access_errno(folder, W_OK);
        if (e == EROFS) return read_only_fs_message(folder);
        if (e != 0) return unwritable_message(folder, facts_of(folder).value_or(file_facts{"?", "?", 0}), "folder");
        return std::nullopt;
    }
    if (fs::is_directory(db, ec)) return fmt::format("{}: is a folder, not a database file; check --db", db.string());
    if (access_errno(db, R_OK) != 0) return unreadable_message(db, facts_of(db).value_or(file_facts{"?", "?", 0}));
    if (mode == sqlite::open_mode::read_only) return std::nullopt;

    // A writer needs the file, its -wal and -shm (or the right to create them in the folder).
    if (const int e = access_errno(db, W_OK); e != 0) {
        if (e == EROFS) return read_only_fs_message(db);
        return unwritable_message(db, facts_of(db).value_or(file_facts{"?", "?", 0}));
    }
    bool sidecars_exist = true;
    for (const char* suffix : {"-wal", "-shm"}) {
        const fs::path side = db.string() + suffix;
        if (!fs::exists(side, ec)) {
            sidecars_exist = false;
            continue;
        }
        if (access_errno(side, W_OK) != 0) {
            return unwritable_message(side, facts_of(side).value_or(file_facts{"?", "?", 0}),
                                      *suffix == 'w' ? "write-ahead log" : "WAL index");
        }
    }
    if (!sidecars_exist && access_errno(folder, W_OK) != 0) {
        auto f = facts_of(folder).value_or(file_facts{"?", "?", 0});
        return fmt::format("{} (SQLite creates {}-wal and {}-shm there)", unwritable_message(folder, f, "folder"),
                           db.string(), db.string());
    }
    return std::nullopt;
}

std::string explain(const fs::path& db, const sqlite::sqlite_error& e, sqlite::open_mode mode,
                    std::chrono::milliseconds busy_timeout) {
    const int primary = e.code() & 0xff;
    switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return busy_message(db, busy_timeout);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: return corrupt_message(db, sqlite3_errstr(primary));
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH: {
        // A reader in WAL mode writes the -shm file, or creates it in the folder: name that, not the
        // database file, which a reader need not be able to write.
        if (mode == sqlite::open_mode::read_only) {
            constexpr std::string_view why =
                " (in WAL mode even a reader needs write access to the -shm file and, while it does not exist, to "
                "the folder)";
            const fs::path shm = db.string() + "-shm";
            std::error_code ec;
            if (fs::exists(shm, ec) && access_errno(shm, W_OK) != 0) {
                return unwritable_message(shm, facts_of(shm).value_or(file_facts{"?", "?", 0}), "WAL index") +
                       std::string{why};
            }
            const fs::path folder = folder_of(db);
            if (!fs::exists(shm, ec) && access_errno(folder, W_OK) != 0) {
                return unwritable_message(folder, facts_of(folder).value_or(file_facts{"?", "?", 0}), "folder") +
                       std::string{why};
            }
        }
        if (auto problem = access_problem(db, mode == sqlite::open_mode::read_only ? sqlite::open_mode::read_write : mode)) {
            if (mode == sqlite::open_mode::read_only) {
                return *problem + " (in WAL mode even a reader needs write access to the -shm file and, while it "
                                  "does not exist, to the folder)";
            }
            return *problem;
        }
        break;
    }
    default: break;
    }
    return fmt::format("database error on {}: {}", db.string(), e.what());
}

}  // namespace ocspkit::schema
