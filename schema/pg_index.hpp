#pragma once
// The certificate index on PostgreSQL, its read side: what ocsp-responder asks of the index (issuers,
// certificates, the change feed), answered the same as cert_index answers from SQLite (the rows are
// decoded by the same code, record_rows.hpp). Works on the primary and on a hot standby: it only reads,
// and the change feed is the change_counter row and the change_seq columns, which replication carries.
// One pg_index per thread, like cert_index.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <openssl/x509.h>

#include "common/pg.hpp"
#include "schema/cert_index.hpp"
#include "schema/index_reader.hpp"

namespace ocspkit::schema {

class pg_index final : public index_reader {
public:
    // Connects and checks the schema: schema_error (naming the server and the fix) when the database has
    // no ocspkit schema, an older one ("run ocspctl init") or a newer one; pg::pg_error when the server
    // cannot be reached.
    static pg_index open(const std::string& conninfo);

    std::vector<issuer_record> list_issuers() const;
    std::optional<issuer_record> find_issuer(std::int64_t id) const override;
    std::optional<issuer_record> find_issuer_by_hashes(hash_alg alg, const name_and_key_hash& hashes) const;
    std::optional<issuer_record> find_issuer_by_cert(X509* ca_cert) const override;
    std::optional<cert_record> find_certificate(std::int64_t issuer_id, const serial_number& serial) const override;
    std::int64_t current_change_seq() const override;
    // As cert_index::changes_since: rows and tombstones stamped after `seq`, oldest first, at most `limit`.
    std::vector<changed_cert> changes_since(std::int64_t seq, std::size_t limit = 100000) const override;

    pg::connection& connection() noexcept { return db_; }

private:
    explicit pg_index(pg::connection db) : db_(std::move(db)) {}
    // Reading changes only the connection's state, as stepping a statement does for cert_index.
    mutable pg::connection db_;
};

}  // namespace ocspkit::schema
