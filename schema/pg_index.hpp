#pragma once
// The certificate index on PostgreSQL: what ocsp-responder reads (issuers, certificates, the change feed)
// and what ocspctl writes, answered the same as cert_index answers from SQLite: rows are decoded by the
// same code (record_rows.hpp) and merged by the same rules (index_batch::merge). The read side works on a
// hot standby too: the change feed is the change_counter row and the change_seq columns, which
// replication carries. One pg_index per thread, like cert_index.
//
// Writers serialise on the change_counter row: a write transaction locks it first (write_batch, issuer
// changes), so the transaction that takes change number N commits before the one that takes N + 1, and
// lock waits cannot deadlock. Files: pg_index.cpp (reads), pg_index_write.cpp (opening, writes, audit).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <openssl/x509.h>

#include "common/pg.hpp"
#include "common/sqlite.hpp"
#include "schema/index_store.hpp"
#include "schema/index_types.hpp"

namespace ocspkit::schema {

class pg_index final : public index_store {
public:
    // Connects and checks the schema: schema_error (naming the server and the fix) when the database has
    // no ocspkit schema, an older one ("run ocspctl init") or a newer one; pg::pg_error when the server
    // cannot be reached.
    static pg_index open(const std::string& conninfo);
    // As open(conninfo), for writing as `audit` says; read_write_create creates or migrates the schema
    // (pg_migrate) and audits that, as cert_index::open does.
    static pg_index open(const std::string& conninfo, sqlite::open_mode mode, std::optional<audit_context> audit);

    int schema_version() const override;

    std::vector<issuer_record> list_issuers() const override;
    std::optional<issuer_record> find_issuer(std::int64_t id) const override;
    std::optional<issuer_record> find_issuer_by_hashes(hash_alg alg, const name_and_key_hash& hashes) const override;
    std::optional<issuer_record> find_issuer_by_cert(X509* ca_cert) const override;
    void set_issuer_enabled(std::int64_t id, bool enabled) override;

    std::optional<cert_record> find_certificate(std::int64_t issuer_id, const serial_number& serial) const override;
    std::vector<cert_record> find_certificates_by_serial(const serial_number& serial) const override;
    // A cursor fetched in chunks: millions of rows are never held at once.
    void for_each_certificate(std::optional<std::int64_t> issuer_id, std::optional<cert_status> status,
                              const std::function<void(const cert_record&)>& visit) const override;
    using index_store::count_certificates;
    std::int64_t count_certificates(std::optional<std::int64_t> issuer_id,
                                    std::optional<cert_status> status) const override;

    std::unique_ptr<index_batch> begin_write() override;
    crl_snapshot take_crl_snapshot(std::int64_t issuer_id, sys_seconds issued_at) override;

    std::int64_t current_change_seq() const override;
    // As cert_index::changes_since: rows and tombstones stamped after `seq`, oldest first, at most `limit`.
    std::vector<changed_cert> changes_since(std::int64_t seq, std::size_t limit = 100000) const override;

    const audit_context& audit_actor() const noexcept override { return audit_; }
    std::vector<audit_record> list_audit(const audit_filter& filter) const override;
    std::optional<sys_seconds> last_hold_lift(std::int64_t issuer_id, const serial_number& serial) const override;

    pg::connection& connection() noexcept { return db_; }

private:
    class write_batch;
    pg_index(pg::connection db, audit_context audit) : db_(std::move(db)), audit_(std::move(audit)) {}
    std::int64_t add_issuer_at(X509* ca_cert, std::optional<sys_seconds> created_at) override;
    // Starts a write transaction holding the change_counter row; returns the number it will stamp.
    std::int64_t begin_locked();
    // An audit row for `entry` by this index's actor, in the running transaction.
    void write_audit(const audit_entry& entry);

    // Reading changes only the connection's state, as stepping a statement does for cert_index.
    mutable pg::connection db_;
    audit_context audit_;
    mutable int cursors_opened_ = 0;  // names each for_each_certificate cursor, which may nest
};

}  // namespace ocspkit::schema
