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

namespace ocspkit::schema {

using sys_seconds = std::chrono::sys_seconds;

// The newest schema version this build knows; a database with a higher user_version is refused.
// Version 2 added the append-only audit table.
inline constexpr int current_schema_version = 2;

enum class cert_status : int { good = 0, revoked = 1, hold = 2 };

// RFC 5280 §5.3.1 CRLReason values (7 is unused by the RFC).
enum class revocation_reason : int {
    unspecified = 0,
    key_compromise = 1,
    ca_compromise = 2,
    affiliation_changed = 3,
    superseded = 4,
    cessation_of_operation = 5,
    certificate_hold = 6,
    remove_from_crl = 8,
    privilege_withdrawn = 9,
    aa_compromise = 10,
};
// Case-insensitive, so that both the RFC 5280 ASN.1 spelling "cACompromise" and the `openssl ca`
// spelling "CACompromise" are accepted.
std::optional<revocation_reason> reason_from_name(std::string_view name);  // "keyCompromise", ...
std::string_view reason_name(revocation_reason r);                          // RFC 5280 ASN.1 spelling
std::optional<revocation_reason> reason_from_code(std::int64_t code);
std::string_view status_name(cert_status s);  // "good", "revoked", "hold"
std::optional<cert_status> status_from_name(std::string_view name);

struct issuer_record {
    std::int64_t id = 0;
    std::string subject;  // RFC 2253 form
    bytes key_id;         // subjectKeyIdentifier (or SHA-1 of the key)
    issuer_hashes hashes;
    bytes cert_der;
    bool enabled = true;
};

struct cert_record {
    std::int64_t issuer_id = 0;
    serial_number serial = *serial_number::from_hex("00");
    std::optional<sys_seconds> not_before;
    std::optional<sys_seconds> not_after;
    cert_status status = cert_status::good;
    std::optional<sys_seconds> revocation_time;   // set when status is revoked or hold
    std::optional<revocation_reason> reason;      // hold rows carry certificate_hold
    std::optional<sys_seconds> invalidity_date;   // RFC 5280 §5.3.2
    std::optional<std::string> hold_instruction;  // OID text, for hold rows
    std::string subject;                          // "/C=../CN=.." as index.txt stores it
    std::optional<bytes> cert_der;
    std::int64_t change_seq = 0;

    // Equal in everything the index stores except change_seq.
    bool same_content(const cert_record& other) const;
};

// errc::malformed, with a message naming the serial, for a record whose fields contradict its status
// (revoked without a time, a hold without certificateHold, ...). The schema's CHECK constraints say the same.
status check_consistency(const cert_record& rec);

struct changed_cert {
    std::int64_t issuer_id;
    serial_number serial;
    std::int64_t change_seq;
};

class index_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
// The database cannot be used by this build: not ours, no schema yet, or a newer schema.
class schema_error : public index_error {
public:
    using index_error::index_error;
};
class not_found_error : public index_error {
public:
    using index_error::index_error;
};
// The database file cannot be opened or read as it is: missing, no permission, corrupt, locked. The
// message names the path and the fix (schema/db_problems.hpp).
class database_error : public schema_error {
public:
    using schema_error::schema_error;
};

// Who makes a change, written into the audit table (schema version 2) with every change. The library
// never reads the environment: the CLI fills this in (geteuid's name, $SUDO_USER, the subcommand).
struct audit_context {
    std::string unix_user;
    std::optional<std::string> sudo_user;
    std::string command;                // "revoke", "import-index", ...
    std::optional<sys_seconds> time;    // absent: SQLite's unixepoch() at the write
};

// One row of the audit table. Rows are written by the library in the transaction of the change they
// record and never updated or deleted (triggers refuse that to other SQLite clients).
struct audit_entry {
    std::optional<std::int64_t> issuer_id;
    std::optional<serial_number> serial;
    std::optional<cert_status> old_status;  // absent: the certificate was not in the index
    std::optional<cert_status> new_status;
    std::string detail;
};

struct audit_record {
    std::int64_t id = 0;
    sys_seconds time;
    std::string unix_user;
    std::optional<std::string> sudo_user;
    std::string command;
    audit_entry entry;
};

struct audit_filter {
    std::optional<sys_seconds> since;
    std::optional<serial_number> serial;
    std::optional<std::int64_t> issuer_id;
};

// inserted/updated/unchanged as the words say; kept: import_rule found a conflict and kept the index's
// status (other fields may still have been updated, see write_batch::last_conflict()).
enum class upsert_outcome { inserted, updated, unchanged, kept };

struct merge_options {
    std::string_view detail;  // written to the audit row of a changed certificate
    // Apply the import rule (schema/import_rule.hpp) instead of refusing: a revocation or hold in the
    // index is not lifted or replaced by the incoming row unless `force` (and a permanent revocation never).
    bool import_rule = false;
    bool force = false;
    // A certificate that enters the index as good gets its own audit row only when this is set; bulk
    // imports leave it off and count such rows in their summary row (a million audit rows would double
    // a first import's time and size). Any status set or changed is always audited row by row.
    bool audit_good_inserts = true;
};

// What a backup file holds, read from it.
struct backup_summary {
    int schema_version = 0;
    std::int64_t change_seq = 0;
    std::int64_t issuers = 0;
    std::int64_t certificates = 0;
    std::int64_t revoked = 0;  // revoked or on hold
};

struct restore_summary {
    backup_summary restored;
    std::int64_t previous_change_seq = 0;  // the index's counter before the restore
    std::int64_t change_seq = 0;           // after: max(previous, backup's) + 1
    std::size_t status_changes = 0;        // certificates whose status (or presence) differs, each audited
    // Serials (hex) revoked or on hold in the index and good, absent (or only held) in the backup: the
    // restore keeps the index's row for them, since no command turns a revocation back into good.
    std::vector<std::string> revocations_kept;
};

class cert_index final : public index_reader {
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

    int schema_version() const;

    // --- issuers ---
    // Throws index_error naming the subject when an issuer with the same name and key is registered.
    // created_at is bookkeeping for humans only; the overload without it lets SQLite stamp the time.
    std::int64_t add_issuer(X509* ca_cert);
    std::int64_t add_issuer(X509* ca_cert, sys_seconds created_at);
    std::vector<issuer_record> list_issuers() const;
    std::optional<issuer_record> find_issuer(std::int64_t id) const override;
    // Matches by name hash + key hash (SHA-256), so the same CA in another file is found.
    std::optional<issuer_record> find_issuer_by_cert(X509* ca_cert) const override;
    // Matches a CertID's issuerNameHash + issuerKeyHash under `alg` (RFC 6960 §4.1.1).
    std::optional<issuer_record> find_issuer_by_hashes(hash_alg alg, const name_and_key_hash& hashes) const;
    // Throws not_found_error for an unknown id. A no-op (no change counted) when already in that state.
    void set_issuer_enabled(std::int64_t id, bool enabled);

    // --- certificates ---
    std::optional<cert_record> find_certificate(std::int64_t issuer_id, const serial_number& serial) const override;
    // The serial under every issuer that has it, in issuer id order (serials are unique per issuer only).
    std::vector<cert_record> find_certificates_by_serial(const serial_number& serial) const;
    std::vector<cert_record> list_certificates(std::optional<std::int64_t> issuer_id,
                                               std::optional<cert_status> status) const;
    // Streams rows in (issuer, serial) order without holding them all; for exports of millions of rows.
    void for_each_certificate(std::optional<std::int64_t> issuer_id, std::optional<cert_status> status,
                              const std::function<void(const cert_record&)>& visit) const;
    std::int64_t count_certificates() const;
    std::int64_t count_certificates(std::optional<std::int64_t> issuer_id, std::optional<cert_status> status) const;

    // Bulk writes: everything between begin_write() and commit() is one transaction with one change
    // sequence number; destroying the batch without commit() rolls back.
    class write_batch {
    public:
        // merge() for callers that treat a refusal as an exception: throws index_error with merge()'s
        // message. Returns true if the row was new.
        bool upsert(const cert_record& rec);
        // Inserts the row, or updates the stored one: status fields, not_after and (non-empty) subject are
        // taken from `rec`; cert_der and not_before are kept when `rec` lacks them. Refused (as a value,
        // nothing written) when `rec` is inconsistent or would lift a permanent revocation: RFC 5280
        // §5.3.1 lets only certificateHold be undone.
        result<upsert_outcome> merge(const cert_record& rec, const merge_options& options = {});
        // After merge() returned kept (or took the file's status under force): what the conflict was,
        // "serial S is revoked in the index (...) but good in the file; kept (...)".
        const std::optional<std::string>& last_conflict() const noexcept { return conflict_; }
        // An audit row in this transaction (e.g. an import's summary).
        void audit(const audit_entry& entry);
        // Sees this batch's own uncommitted writes.
        std::optional<cert_record> find(std::int64_t issuer_id, const serial_number& serial) const;
        void commit();
        std::int64_t change_seq() const noexcept { return seq_; }
        // Rows inserted or updated so far.
        std::size_t changed_rows() const noexcept { return changed_; }

    private:
        friend class cert_index;
        write_batch(cert_index& index);
        cert_index& index_;
        sqlite::transaction txn_;
        std::int64_t seq_;
        std::size_t changed_ = 0;
        std::int64_t checked_issuer_ = 0;  // the last issuer id merge() found registered
        std::optional<std::string> conflict_;
        sqlite::statement insert_;
        sqlite::statement update_;
        mutable sqlite::statement select_;  // find() is logically const; stepping changes SQLite state only
        sqlite::statement audit_;
    };
    write_batch begin_write();

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
    const audit_context& audit_actor() const noexcept { return audit_; }
    std::vector<audit_record> list_audit(const audit_filter& filter) const;
    // When a hold on this certificate was last lifted in the index (hold -> good in the audit), if ever.
    std::optional<sys_seconds> last_hold_lift(std::int64_t issuer_id, const serial_number& serial) const;

    // For bulk imports: a larger page cache (in KiB) for this connection.
    void set_cache_size_kib(std::int64_t kib);

    sqlite::connection& connection() noexcept { return *conn_; }

private:
    struct statements;
    explicit cert_index(std::unique_ptr<sqlite::connection> conn, audit_context audit);
    static cert_index open_checked(const std::filesystem::path& file, sqlite::open_mode mode,
                                   std::chrono::milliseconds busy_timeout, audit_context audit);
    friend void write_audit(sqlite::statement& insert, const audit_context& actor, const audit_entry& entry);
    std::int64_t add_issuer_at(X509* ca_cert, std::optional<sys_seconds> created_at);
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
