// pg_index, its writes: opening (with the schema's creation or migration), issuers, the write batch that
// index_batch::merge() drives, and the audit rows every change writes in its own transaction.
#include <fmt/format.h>

#include "common/pem.hpp"
#include "schema/pg_index.hpp"
#include "schema/pg_migrations.hpp"
#include "schema/pg_rows.hpp"
#include "schema/record_rows.hpp"

namespace ocspkit::schema {

namespace {

// Ends a write transaction that was not committed, also when an exception leaves the scope.
class rollback_guard {
public:
    explicit rollback_guard(pg::connection& db) : db_(db) {}
    ~rollback_guard() {
        if (done_ || !db_.healthy()) return;
        try {
            db_.exec("ROLLBACK");
        } catch (const pg::pg_error&) {
            // Nothing to add to the error that is leaving the scope; the server ends the transaction itself.
        }
    }
    rollback_guard(const rollback_guard&) = delete;
    rollback_guard& operator=(const rollback_guard&) = delete;
    void commit() {
        db_.exec("COMMIT");
        done_ = true;
    }

private:
    pg::connection& db_;
    bool done_ = false;
};

void check_version(pg::connection& db, int version) {
    if (version == 0)
        throw schema_error("PostgreSQL at " + db.redacted() + ": no ocspkit index; run `ocspctl init` with this database");
    if (version < current_schema_version)
        throw schema_error(fmt::format("PostgreSQL at {}: index schema version {}, this build needs {}; run `ocspctl init` "
                                       "to migrate it",
                                       db.redacted(), version, current_schema_version));
    if (version > current_schema_version)
        throw schema_error(fmt::format("PostgreSQL at {}: index schema version {} is newer than this build's {}; "
                                       "upgrade ocspkit",
                                       db.redacted(), version, current_schema_version));
}

}  // namespace

pg_index pg_index::open(const std::string& conninfo) {
    return open(conninfo, sqlite::open_mode::read_only, std::nullopt);
}

pg_index pg_index::open(const std::string& conninfo, sqlite::open_mode mode, std::optional<audit_context> audit) {
    pg::connection db(conninfo);
    pg_index index(std::move(db), audit ? std::move(*audit) : audit_context{});
    // As cert_index: a writer brings an older schema up to date, only init creates one.
    const bool migrate = mode == sqlite::open_mode::read_write_create ||
                         (mode == sqlite::open_mode::read_write && pg_schema_version(index.db_) != 0);
    if (migrate) {
        const int found = pg_migrate(index.db_);
        const int reached = pg_schema_version(index.db_);
        if (reached != found) {
            // As on SQLite, the creation or migration is the audit's first entry of its kind.
            rollback_guard txn(index.db_);
            index.db_.exec("BEGIN");
            audit_entry entry;
            entry.detail = found == 0 ? fmt::format("schema created at version {}", reached)
                                      : fmt::format("schema migrated from version {} to {}", found, reached);
            index.write_audit(entry);
            txn.commit();
        }
    }
    check_version(index.db_, pg_schema_version(index.db_));
    return index;
}

int pg_index::schema_version() const { return pg_schema_version(db_); }

std::int64_t pg_index::begin_locked() {
    db_.exec("BEGIN");
    // Every writer takes this row first and keeps it to its commit: change numbers are handed out in
    // commit order, and two writers never hold locks the other one waits for.
    return db_.query("SELECT value FROM change_counter WHERE id = 1 FOR UPDATE").integer(0, 0) + 1;
}

void pg_index::write_audit(const audit_entry& entry) {
    db_.query("INSERT INTO audit (time, unix_user, sudo_user, command, issuer_id, serial, old_status, new_status, "
              "detail) VALUES (coalesce($1, extract(epoch FROM now())::bigint), $2, $3, $4, $5, $6, $7, $8, $9)",
              {pg_optional_time(audit_.time), rows::recorded_user(audit_), pg_optional_text(audit_.sudo_user),
               rows::recorded_command(audit_), pg_optional(entry.issuer_id),
               entry.serial ? pg::param{pg_bytes(entry.serial->bytes())} : pg::param{std::monostate{}},
               rows::status_text(entry.old_status) ? pg::param{*rows::status_text(entry.old_status)}
                                                   : pg::param{std::monostate{}},
               rows::status_text(entry.new_status) ? pg::param{*rows::status_text(entry.new_status)}
                                                   : pg::param{std::monostate{}},
               std::string_view{entry.detail}});
}

// --- issuers ---------------------------------------------------------------------------------------------

std::int64_t pg_index::add_issuer_at(X509* ca_cert, std::optional<sys_seconds> created_at) {
    const auto issuer = new_issuer_row_of(ca_cert);
    const auto& subject = issuer.subject;
    const auto& hashes = issuer.hashes;
    rollback_guard txn(db_);
    begin_locked();
    if (auto existing = find_issuer_by_hashes(hash_alg::sha256, hashes[hash_alg::sha256]))
        throw index_error(fmt::format("issuer {} is already registered (ID {})", subject, existing->id));
    const auto& h = hashes.by_alg;
    const auto r = db_.query(
        "INSERT INTO issuers (subject, subject_der, key_id, name_hash_sha1, key_hash_sha1, name_hash_sha256, "
        "key_hash_sha256, name_hash_sha384, key_hash_sha384, name_hash_sha512, key_hash_sha512, cert_der, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, coalesce($13, extract(epoch FROM now())::bigint)) "
        "RETURNING id",
        {std::string_view{subject}, pg_bytes(issuer.subject_der), pg_bytes(issuer.key_id), pg_bytes(h[0].name_hash),
         pg_bytes(h[0].key_hash), pg_bytes(h[1].name_hash), pg_bytes(h[1].key_hash), pg_bytes(h[2].name_hash),
         pg_bytes(h[2].key_hash), pg_bytes(h[3].name_hash), pg_bytes(h[3].key_hash), pg_bytes(issuer.cert_der),
         pg_optional_time(created_at)});
    const std::int64_t id = r.integer(0, 0);
    audit_entry entry;
    entry.issuer_id = id;
    entry.detail = fmt::format("issuer added: {}", subject);
    write_audit(entry);
    txn.commit();
    return id;
}

void pg_index::set_issuer_enabled(std::int64_t id, bool enabled) {
    rollback_guard txn(db_);
    begin_locked();
    auto current = find_issuer(id);
    if (!current) throw not_found_error(fmt::format("issuer ID {} is not registered", id));
    if (current->enabled == enabled) return;  // the guard rolls back an empty transaction
    // The statement trigger on issuers moves the change counter: readers reload issuers.
    db_.query("UPDATE issuers SET enabled = $2 WHERE id = $1", {id, std::int64_t{enabled ? 1 : 0}});
    audit_entry entry;
    entry.issuer_id = id;
    entry.detail = fmt::format("issuer {}: {}", enabled ? "enabled" : "disabled", current->subject);
    write_audit(entry);
    txn.commit();
}

// --- the write batch -------------------------------------------------------------------------------------

// The rows of index_batch::merge() on PostgreSQL. The schema's triggers stamp every written row with the
// transaction's change number and move the counter; begin_locked() read that number under the row lock.
class pg_index::write_batch final : public index_batch {
public:
    explicit write_batch(pg_index& index) : index_(index), txn_(index.db_) { set_change_seq(index.begin_locked()); }

    void audit(const audit_entry& entry) override { index_.write_audit(entry); }

    std::optional<cert_record> find(std::int64_t issuer_id, const serial_number& serial) const override {
        return index_.find_certificate(issuer_id, serial);
    }

    std::vector<cert_record> revoked_rows(std::int64_t issuer_id) const override {
        const auto r = index_.db_.query(fmt::format("SELECT {} FROM certificates WHERE issuer_id = $1 AND status <> 0 "
                                                    "ORDER BY length(serial), serial",
                                                    rows::cert_columns_without_der),
                                        {issuer_id});
        std::vector<cert_record> out;
        for (int i = 0; i < r.rows(); ++i) out.push_back(rows::read_cert(pg_row(r, i)));
        return out;
    }

    std::optional<crl_import_state> crl_import(std::int64_t issuer_id) const override {
        const auto r = index_.db_.query("SELECT last_number, last_full_number, this_update, next_update, imported_at "
                                        "FROM crl_imports WHERE issuer_id = $1",
                                        {issuer_id});
        if (r.rows() == 0) return std::nullopt;
        const auto number = [&](int column) {
            auto n = serial_number::from_bytes(r.bytes(0, column));
            if (!n) throw index_error(fmt::format("crl_imports of issuer ID {}: {}", issuer_id, n.error_message()));
            return std::move(n).value();
        };
        crl_import_state out;
        out.last_number = number(0);
        out.last_full_number = number(1);
        out.this_update = sys_seconds{std::chrono::seconds{r.integer(0, 2)}};
        if (!r.is_null(0, 3)) out.next_update = sys_seconds{std::chrono::seconds{r.integer(0, 3)}};
        out.imported_at = sys_seconds{std::chrono::seconds{r.integer(0, 4)}};
        return out;
    }

    void set_crl_import(std::int64_t issuer_id, const crl_import_state& state) override {
        pg::param next_update;
        if (state.next_update) next_update = std::int64_t{state.next_update->time_since_epoch().count()};
        index_.db_.query(
            "INSERT INTO crl_imports (issuer_id, last_number, last_full_number, this_update, next_update, imported_at) "
            "VALUES ($1, $2, $3, $4, $5::bigint, $6) ON CONFLICT (issuer_id) DO UPDATE SET "
            "last_number = EXCLUDED.last_number, last_full_number = EXCLUDED.last_full_number, "
            "this_update = EXCLUDED.this_update, next_update = EXCLUDED.next_update, imported_at = EXCLUDED.imported_at",
            {issuer_id, std::span<const std::uint8_t>(state.last_number.bytes()),
             std::span<const std::uint8_t>(state.last_full_number.bytes()),
             std::int64_t{state.this_update.time_since_epoch().count()}, next_update,
             std::int64_t{state.imported_at.time_since_epoch().count()}});
    }

    void commit() override { txn_.commit(); }

private:
    bool issuer_registered(std::int64_t issuer_id) const override {
        return index_.db_.query("SELECT 1 FROM issuers WHERE id = $1", {issuer_id}).rows() == 1;
    }

    bool insert_if_absent(const cert_record& rec) override {
        const auto params = cert_params(rec);
        // Not INSERT ... ON CONFLICT DO NOTHING alone: the stamping trigger runs before the conflict is
        // found and would move the change counter for a row that is not written. Writers hold the counter
        // row, so nothing of ours inserts between the check and the insert.
        return index_.db_
                   .query("INSERT INTO certificates (issuer_id, serial, not_before, not_after, status, "
                          "revocation_time, reason, invalidity_date, hold_instruction, subject, cert_der) "
                          "SELECT $1::bigint, $2::bytea, $3::bigint, $4::bigint, $5::integer, $6::bigint, "
                          "$7::integer, $8::bigint, $9::text, $10::text, $11::bytea WHERE NOT EXISTS "
                          "(SELECT 1 FROM certificates WHERE issuer_id = $1 AND serial = $2) "
                          "ON CONFLICT (issuer_id, serial) DO NOTHING",
                          params)
                   .affected() == 1;
    }

    void update(const cert_record& rec) override {
        const auto params = cert_params(rec);
        index_.db_.query("UPDATE certificates SET not_before = $3, not_after = $4, status = $5, revocation_time = $6, "
                         "reason = $7, invalidity_date = $8, hold_instruction = $9, subject = $10, cert_der = $11 "
                         "WHERE issuer_id = $1 AND serial = $2",
                         params);
    }

    std::optional<sys_seconds> last_hold_lift(std::int64_t issuer_id, const serial_number& serial) const override {
        return index_.last_hold_lift(issuer_id, serial);
    }

    pg_index& index_;
    rollback_guard txn_;
};

std::unique_ptr<index_batch> pg_index::begin_write() { return std::make_unique<write_batch>(*this); }

// --- CRLs ------------------------------------------------------------------------------------------------

crl_snapshot pg_index::take_crl_snapshot(std::int64_t issuer_id, sys_seconds issued_at) {
    rollback_guard txn(db_);
    db_.exec("BEGIN");
    const auto issuer = find_issuer(issuer_id);
    if (!issuer) throw not_found_error(fmt::format("issuer ID {} is not registered", issuer_id));
    crl_snapshot out;
    out.issuer_enabled = issuer->enabled;
    // The upsert keeps the issuer's row locked to COMMIT: another issuer of this CA's CRLs waits here,
    // and (READ COMMITTED) its rows are read after ours committed, so a higher number never lists an
    // older state.
    out.crl_number = db_.query("INSERT INTO crl_numbers (issuer_id, last_number, issued_at) VALUES ($1, 1, $2) "
                               "ON CONFLICT (issuer_id) DO UPDATE SET last_number = crl_numbers.last_number + 1, "
                               "issued_at = EXCLUDED.issued_at RETURNING last_number",
                               {issuer_id, std::int64_t{issued_at.time_since_epoch().count()}})
                         .integer(0, 0);
    out.change_seq = db_.query("SELECT value FROM change_counter WHERE id = 1").integer(0, 0);
    const auto r = db_.query(fmt::format("SELECT {} FROM certificates WHERE issuer_id = $1 AND status <> 0 "
                                         "ORDER BY length(serial), serial",
                                         rows::cert_columns_without_der),
                             {issuer_id});
    for (int i = 0; i < r.rows(); ++i) out.revoked.push_back(rows::read_cert(pg_row(r, i)));
    txn.commit();
    return out;
}

}  // namespace ocspkit::schema
