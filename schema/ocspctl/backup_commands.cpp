// ocspctl backup and restore.
#include <filesystem>

#include <fmt/format.h>

#include "schema/ocspctl/internal.hpp"

namespace ocspkit::ocspctl {

namespace fs = std::filesystem;
using schema::cert_index;

int cmd_backup(context& c, const std::string& file, bool force) {
    if (c.db.path.empty()) bad_input("no database: pass --db PATH or set OCSPKIT_DB");
    c.db.require_sqlite_file("backup", "back it up with pg_dump (e.g. `pg_dump -Fc -f FILE DBNAME`), or "
                                               "with the server's own backups (pg_basebackup, WAL archiving)");
    std::error_code ec;
    if (fs::exists(file, ec) && !force) bad_input(fmt::format("{}: exists; pass --force to replace it", file));
    if (fs::equivalent(file, c.db.path, ec)) bad_input(fmt::format("{}: is the database itself", file));
    const auto s = cert_index::backup_to(c.db.path, file, std::chrono::milliseconds{c.db.busy_timeout_ms});
    c.out << fmt::format("{}: backup of {} at change sequence {}: schema version {}, {} issuers, {} certificates ({} "
                         "revoked or on hold)\n",
                         file, c.db.path, s.change_seq, s.schema_version, s.issuers, s.certificates, s.revoked);
    return 0;
}

int cmd_restore(context& c, const std::string& file) {
    if (c.db.path.empty()) bad_input("no database: pass --db PATH or set OCSPKIT_DB");
    c.db.require_sqlite_file("restore", "restore a pg_dump with pg_restore (e.g. `pg_restore --clean -d "
                                                "DBNAME FILE`), then restart or reload the responders");
    std::error_code ec;
    if (fs::equivalent(file, c.db.path, ec)) bad_input(fmt::format("{}: is the database itself", file));
    const auto s = cert_index::restore_from(file, c.db.path, std::chrono::milliseconds{c.db.busy_timeout_ms}, c.db.audit);
    // A restore brings back older state, except that a revocation made after the backup stays.
    for (const auto& serial : s.revocations_kept) {
        c.err << fmt::format("note: serial {} is revoked or on hold in {} but not in the backup; its revocation is "
                             "kept (lift a hold with `ocspctl unrevoke`)\n",
                             serial, c.db.path);
    }
    c.out << fmt::format("{}: restored from {} ({} issuers, {} certificates, backup change sequence {}); change "
                         "sequence {} -> {}, {} statuses changed\n",
                         c.db.path, file, s.restored.issuers, s.restored.certificates, s.restored.change_seq,
                         s.previous_change_seq, s.change_seq, s.status_changes);
    return 0;
}

}  // namespace ocspkit::ocspctl
