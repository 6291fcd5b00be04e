#pragma once
// The certificate index: the one class that holds SQL (house rule 8). Thread use: one cert_index per
// thread (SQLite connections are not shared); any number of readers run beside one writer (WAL).
//
// Errors: SQLite failures surface as sqlite::sqlite_error (is_busy() for a locked database); a database
// this build cannot use throws schema_error; a missing issuer or certificate in a write throws
// not_found_error; other refused writes (duplicate issuer, ...) throw index_error. Expected per-row
// outcomes of a bulk write are values (write_batch::merge).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cert_id.hpp"
#include "common/result.hpp"
#include "common/serial.hpp"
#include "common/sqlite.hpp"
#include "schema/index_reader.hpp"
#include "schema/index_store.hpp"
#include "schema/index_types.hpp"

namespace ocspkit::schema {

class cert_index final : public index_store {
public:
    // read_only never creates or migrates. read_write refuses a database without our schema
    // ("run ocspctl init"); read_write_create creates the file and the schema. Every mode refuses a
    // database whose schema is newer than current_schema_version. busy_timeout: how long a write waits
    // for another writer before failing with SQLITE_BUSY.
    // `audit` says who is writing; it is stored with every change made through this object (and with the
    // creation or migration of the schema by this open). Problems with the file itself (missing, no
    // permission, corrupt, busy) throw database_error with the path and the fix.
    static cert_index open(const std::filesystem::path& file, sqlite::open_mode mode,
                           std::chrono::milliseconds busy_timeout = std::chrono::milliseconds{5000},
                           std::optional<audit_context> audit = std::nullopt);

    cert_index(cert_index&&) noexcept;
    cert_index& operator=(cert_index&&) noexcept;
    ~cert_index();

    int schema_version() const override;

    // --- issuers (see index_store) ---
    std::vector<issuer_record> list_issuers() const override;
    std::optional<issuer_record> find_issuer(std::int64_t id) const override;
    // Matches by name hash + key hash (SHA-256), so the same CA in another file is found.
    std::optional<issuer_record> find_issuer_by_cert(X509* ca_cert) const override;
    std::optional<issuer_record> find_issuer_by_hashes(hash_alg alg, const name_and_key_hash& hashes) const override;
    void set_issuer_enabled(std::int64_t id, bool enabled) override;

    // --- certificates ---
    std::optional<cert_record> find_certificate(std::int64_t issuer_id, const serial_number& serial) const override;
    std::vector<cert_record> find_certificates_by_serial(const serial_number& serial) const override;
    void for_each_certificate(std::optional<std::int64_t> issuer_id, std::optional<cert_status> status,
                              const std::function<void(const cert_record&)>& visit) const override;
    using index_store::count_certificates;
    std::int64_t count_certificates(std::optional<std::int64_t> issuer_id,
                                    std::optional<cert_status> status) const override;

    // The SQLite batch: the write lock is taken at begin_write() (BEGIN IMMEDIATE), so the change number
    // read then is this transaction's alone.
    class write_batch final : public index_batch {
    public:
        void audit(const audit_entry& entry) override;
        std::optional<cert_record> find(std::int64_t issuer_id, const serial_number& serial) const override;
        std::vector<cert_record> revoked_rows(std::int64_t issuer_id) const override;
        std::optional<crl_import_state> crl_import(std::int64_t issuer_id) const override;
        void set_crl_import(std::int64_t issuer_id, const crl_import_state& state) override;
        void commit() override;

    private:
        friend class cert_index;
        explicit write_batch(cert_index& index);
        bool issuer_registered(std::int64_t issuer_id) const override;
        bool insert_if_absent(const cert_record& rec) override;
        void update(const cert_record& rec) override;
        std::optional<sys_seconds> last_hold_lift(std::int64_t issuer_id,
                                                  const serial_number& serial) const override;

        cert_index& index_;
        sqlite::transaction txn_;
        sqlite::statement insert_;
        sqlite::statement update_;
        mutable sqlite::statement select_;  // find() is logically const; stepping changes SQLite state only
        sqlite::statement audit_;
    };
    std::unique_ptr<index_batch> begin_write() override;
    crl_snapshot take_crl_snapshot(std::int64_t issuer_id, sys_seconds issued_at) override;

    // --- change tracking: any write (ours or a foreign writer, through triggers) bumps it ---
    // Issuer changes bump it too but list no certificates: reload issuers when it moves.
    std::int64_t current_change_seq() const override;
    // Certificates inserted, updated or deleted after `seq`, oldest first, at most `limit`. One bulk
    // write stamps all its rows with one number, so a result of exactly `limit` entries may have left
    // out rows with the last number returned: treat it as "everything may have changed".
    std::vector<changed_cert> changes_since(std::int64_t seq, std::size_t limit = 100000) const override;

    // --- backup and restore (cert_index_backup.cpp) ---
    // Writes a consistent copy of the database `db` to `target` (which must not exist) with the SQLite
    // online backup API from a read-only connection: writers go on meanwhile. The copy is a single file
    // in rollback-journal mode (no -wal to forget), checked with PRAGMA integrity_check.
    static backup_summary backup_to(const std::filesystem::path& db, const std::filesystem::path& target,
                                    std::chrono::milliseconds busy_timeout);
    // Is `file` an ocspkit database this build can restore (application_id, a schema version not newer
    // than ours, integrity_check ok)? Throws schema_error naming the file and saying why not.
    static backup_summary check_backup(const std::filesystem::path& file);
    // Replaces the content of `db` (created if missing) by the backup `file`, after check_backup(). The
    // copy is made with the backup API as one write transaction on `db`, under its write lock: readers see
    // the old index or the restored one. The change counter becomes max(current, backup's) + 1, every
    // restored row is stamped with it and every row the backup lacks gets a tombstone, so that running
    // responders re-read exactly what changed; the audit keeps the index's history and records the
    // restore and every status it changed.
    static restore_summary restore_from(const std::filesystem::path& file, const std::filesystem::path& db,
                                        std::chrono::milliseconds busy_timeout, const audit_context& actor);

    // --- audit (schema version 2) ---
    const audit_context& audit_actor() const noexcept override { return audit_; }
    std::vector<audit_record> list_audit(const audit_filter& filter) const override;
    std::optional<sys_seconds> last_hold_lift(std::int64_t issuer_id, const serial_number& serial) const override;

    // For bulk imports: a larger page cache (in KiB) for this connection.
    void set_cache_size_kib(std::int64_t kib);

    sqlite::connection& connection() noexcept { return *conn_; }

private:
    struct statements;
    explicit cert_index(std::unique_ptr<sqlite::connection> conn, audit_context audit);
    static cert_index open_checked(const std::filesystem::path& file, sqlite::open_mode mode,
                                   std::chrono::milliseconds busy_timeout, audit_context audit);
    friend void write_audit(sqlite::statement& insert, const audit_context& actor, const audit_entry& entry);
    std::int64_t add_issuer_at(X509* ca_cert, std::optional<sys_seconds> created_at) override;
    void bump_counter();
    sqlite::statement& cached(std::optional<sqlite::statement>& slot, std::string_view sql) const;

    // Heap-held so that prepared statements, which point at the connection, survive a move.
    std::unique_ptr<sqlite::connection> conn_;
    std::unique_ptr<statements> stmts_;
    audit_context audit_;
};

// The prepared INSERT that write_audit() binds (cert_index_audit.cpp).
extern const std::string_view audit_insert_sql;
void write_audit(sqlite::statement& insert, const audit_context& actor, const audit_entry& entry);

}  // namespace ocspkit::schema
