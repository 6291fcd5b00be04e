#pragma once
// What ocspctl and the importers need from the index, whatever holds it: cert_index (a SQLite file) and
// pg_index (PostgreSQL) implement it. index_batch is one write transaction; its merge() holds the rules
// of a write (consistency, RFC 5280 §5.3.1's "only certificateHold is lifted", the import rule, which
// changes are audited) once for both backends, which supply only finding, inserting, updating and
// auditing rows.
//
// Errors as cert_index.hpp says, plus pg::pg_error from PostgreSQL (the server gone, a lock timeout).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <openssl/x509.h>

#include "common/cert_id.hpp"
#include "common/result.hpp"
#include "common/serial.hpp"
#include "common/sqlite.hpp"
#include "schema/index_reader.hpp"
#include "schema/index_types.hpp"

namespace ocspkit::schema {

// What both backends store of a CA certificate registered with add_issuer().
struct new_issuer_row {
    std::string subject;  // RFC 2253 form
    bytes subject_der;
    bytes key_id;
    issuer_hashes hashes;
    bytes cert_der;
};
new_issuer_row new_issuer_row_of(X509* ca_cert);

// One write transaction with one change sequence number: everything between index_store::begin_write()
// and commit() commits together; destroying the batch without commit() rolls back.
class index_batch {
public:
    virtual ~index_batch() = default;
    index_batch(const index_batch&) = delete;
    index_batch& operator=(const index_batch&) = delete;

    // Inserts the row, or updates the stored one: status fields, not_after and (non-empty) subject are
    // taken from `rec`; cert_der and not_before are kept when `rec` lacks them. Refused (as a value,
    // nothing written) when `rec` is inconsistent or would lift a permanent revocation: RFC 5280
    // §5.3.1 lets only certificateHold be undone.
    result<upsert_outcome> merge(const cert_record& rec, const merge_options& options = {});
    // merge() for callers that treat a refusal as an exception: throws index_error with merge()'s
    // message. Returns true if the row was new.
    bool upsert(const cert_record& rec);
    // After merge() returned kept (or took the file's status under force): what the conflict was,
    // "serial S is revoked in the index (...) but good in the file; kept (...)".
    const std::optional<std::string>& last_conflict() const noexcept { return conflict_; }
    std::int64_t change_seq() const noexcept { return seq_; }
    // Rows inserted or updated so far.
    std::size_t changed_rows() const noexcept { return changed_; }

    // An audit row in this transaction (e.g. an import's summary), attributed to the index's actor.
    virtual void audit(const audit_entry& entry) = 0;
    // Sees this batch's own uncommitted writes.
    virtual std::optional<cert_record> find(std::int64_t issuer_id, const serial_number& serial) const = 0;
    // The issuer's revoked and held rows (without cert_der) as this transaction sees them, in numeric
    // serial order.
    virtual std::vector<cert_record> revoked_rows(std::int64_t issuer_id) const = 0;
    // The last CRL imported for the issuer (schema version 4), and its replacement, in this transaction.
    virtual std::optional<crl_import_state> crl_import(std::int64_t issuer_id) const = 0;
    virtual void set_crl_import(std::int64_t issuer_id, const crl_import_state& state) = 0;
    virtual void commit() = 0;

protected:
    index_batch() = default;
    // The change number this transaction's rows get, read by the backend under its write lock.
    void set_change_seq(std::int64_t seq) noexcept { seq_ = seq; }

    // The rows themselves, for merge(). The backend stamps written rows with change_seq().
    virtual bool issuer_registered(std::int64_t issuer_id) const = 0;
    // Inserts `rec` unless (issuer_id, serial) is stored already; true when it inserted.
    virtual bool insert_if_absent(const cert_record& rec) = 0;
    // Replaces the stored row's content by `rec`'s.
    virtual void update(const cert_record& rec) = 0;
    // When a hold on this certificate was last lifted (hold -> good in the audit), if ever.
    virtual std::optional<sys_seconds> last_hold_lift(std::int64_t issuer_id, const serial_number& serial) const = 0;

private:
    // merge() on a stored row: the import rule, the permanent-revocation refusal, the update.
    result<upsert_outcome> merge_existing(const cert_record& rec, const cert_record& existing,
                                          const merge_options& options);

    std::int64_t seq_ = 0;
    std::size_t changed_ = 0;
    std::int64_t checked_issuer_ = 0;  // the last issuer id merge() found registered
    std::optional<std::string> conflict_;
};

class index_store : public index_reader {
public:
    virtual int schema_version() const = 0;

    // --- issuers ---
    // Throws index_error naming the subject when an issuer with the same name and key is registered.
    // created_at is bookkeeping for humans only; without it the database stamps the time.
    std::int64_t add_issuer(X509* ca_cert) { return add_issuer_at(ca_cert, std::nullopt); }
    std::int64_t add_issuer(X509* ca_cert, sys_seconds created_at) { return add_issuer_at(ca_cert, created_at); }
    virtual std::vector<issuer_record> list_issuers() const = 0;
    // Matches a CertID's issuerNameHash + issuerKeyHash under `alg` (RFC 6960 §4.1.1).
    virtual std::optional<issuer_record> find_issuer_by_hashes(hash_alg alg, const name_and_key_hash& hashes) const = 0;
    // Throws not_found_error for an unknown id. A no-op (no change counted) when already in that state.
    virtual void set_issuer_enabled(std::int64_t id, bool enabled) = 0;

    // --- certificates ---
    // The serial under every issuer that has it, in issuer id order (serials are unique per issuer only).
    virtual std::vector<cert_record> find_certificates_by_serial(const serial_number& serial) const = 0;
    std::vector<cert_record> list_certificates(std::optional<std::int64_t> issuer_id,
                                               std::optional<cert_status> status) const;
    // Streams rows in (issuer, numeric serial) order without holding them all; for exports of millions
    // of rows. The visitor may read from this index meanwhile.
    virtual void for_each_certificate(std::optional<std::int64_t> issuer_id, std::optional<cert_status> status,
                                      const std::function<void(const cert_record&)>& visit) const = 0;
    std::int64_t count_certificates() const { return count_certificates(std::nullopt, std::nullopt); }
    virtual std::int64_t count_certificates(std::optional<std::int64_t> issuer_id,
                                            std::optional<cert_status> status) const = 0;

    // --- writes ---
    virtual std::unique_ptr<index_batch> begin_write() = 0;

    // --- CRLs ---
    // In one write transaction: takes the issuer's next CRL number (stored at once, never handed out
    // again, starting at 1) and reads its revoked and held certificates with the change counter. Holding
    // the number's row while reading means that of two CRLs of one issuer, the higher number never lists
    // older content. Throws not_found_error for an unknown issuer. Does not move the change counter:
    // nothing a responder answers changes.
    virtual crl_snapshot take_crl_snapshot(std::int64_t issuer_id, sys_seconds issued_at) = 0;

    // --- audit ---
    virtual const audit_context& audit_actor() const noexcept = 0;
    virtual std::vector<audit_record> list_audit(const audit_filter& filter) const = 0;
    // When a hold on this certificate was last lifted in the index (hold -> good in the audit), if ever.
    virtual std::optional<sys_seconds> last_hold_lift(std::int64_t issuer_id, const serial_number& serial) const = 0;

protected:
    virtual std::int64_t add_issuer_at(X509* ca_cert, std::optional<sys_seconds> created_at) = 0;
};

// Opens `database`: a PostgreSQL connection string (pg::database_kind_of) or the path of a SQLite file.
// read_write_create creates the schema or migrates an older one (on PostgreSQL with pg_migrate());
// read_write and read_only refuse a database without the current schema ("run ocspctl init").
// busy_timeout is SQLite's; PostgreSQL waits for locks as lock_timeout in the connection string says.
// Throws what cert_index::open and pg_index::open throw.
std::unique_ptr<index_store> open_index_store(const std::string& database, sqlite::open_mode mode,
                                              std::optional<audit_context> audit = std::nullopt,
                                              std::chrono::milliseconds busy_timeout = std::chrono::milliseconds{5000});

}  // namespace ocspkit::schema
