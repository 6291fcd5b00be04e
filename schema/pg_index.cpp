#include "schema/pg_index.hpp"

#include <fmt/format.h>

#include "schema/pg_migrations.hpp"
#include "schema/record_rows.hpp"

namespace ocspkit::schema {

namespace {

// One row of a PostgreSQL result with sqlite::statement's accessors, for record_rows.hpp.
class pg_row {
public:
    pg_row(const pg::result& r, int row) : r_(r), row_(row) {}
    bool is_null(int column) const { return r_.is_null(row_, column); }
    std::int64_t column_int(int column) const { return r_.integer(row_, column); }
    std::optional<std::int64_t> column_optional_int(int column) const {
        if (is_null(column)) return std::nullopt;
        return r_.integer(row_, column);
    }
    std::string column_text(int column) const { return r_.text(row_, column); }
    std::vector<std::uint8_t> column_blob(int column) const { return r_.bytes(row_, column); }

private:
    const pg::result& r_;
    int row_;
};

std::span<const std::uint8_t> as_param(const bytes& b) { return {b.data(), b.size()}; }

}  // namespace

pg_index pg_index::open(const std::string& conninfo) {
    pg::connection db(conninfo);
    const int version = pg_schema_version(db);
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
    return pg_index(std::move(db));
}

std::vector<issuer_record> pg_index::list_issuers() const {
    const auto r = db_.query(fmt::format("SELECT {} FROM issuers ORDER BY id", rows::issuer_columns));
    std::vector<issuer_record> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(rows::read_issuer(pg_row(r, i)));
    return out;
}

std::optional<issuer_record> pg_index::find_issuer(std::int64_t id) const {
    const auto r = db_.query(fmt::format("SELECT {} FROM issuers WHERE id = $1", rows::issuer_columns), {id});
    if (r.rows() == 0) return std::nullopt;
    return rows::read_issuer(pg_row(r, 0));
}

std::optional<issuer_record> pg_index::find_issuer_by_hashes(hash_alg alg, const name_and_key_hash& hashes) const {
    const auto name = hash_name(alg);
    const auto r = db_.query(fmt::format("SELECT {} FROM issuers WHERE name_hash_{} = $1 AND key_hash_{} = $2 "
                                         "ORDER BY id LIMIT 1",
                                         rows::issuer_columns, name, name),
                             {as_param(hashes.name_hash), as_param(hashes.key_hash)});
    if (r.rows() == 0) return std::nullopt;
    return rows::read_issuer(pg_row(r, 0));
}

std::optional<issuer_record> pg_index::find_issuer_by_cert(X509* ca_cert) const {
    return find_issuer_by_hashes(
        hash_alg::sha256, {issuer_name_hash(ca_cert, hash_alg::sha256), issuer_key_hash(ca_cert, hash_alg::sha256)});
}

std::optional<cert_record> pg_index::find_certificate(std::int64_t issuer_id, const serial_number& serial) const {
    const auto r = db_.query(
        fmt::format("SELECT {} FROM certificates WHERE issuer_id = $1 AND serial = $2", rows::cert_columns),
        {issuer_id, as_param(serial.bytes())});
    if (r.rows() == 0) return std::nullopt;
    return rows::read_cert(pg_row(r, 0));
}

std::int64_t pg_index::current_change_seq() const {
    return db_.query("SELECT value FROM change_counter WHERE id = 1").integer(0, 0);
}

std::vector<changed_cert> pg_index::changes_since(std::int64_t seq, std::size_t limit) const {
    const auto r = db_.query("SELECT issuer_id, serial, change_seq FROM certificates WHERE change_seq > $1 "
                             "UNION ALL "
                             "SELECT issuer_id, serial, change_seq FROM deleted_certificates WHERE change_seq > $1 "
                             "ORDER BY change_seq LIMIT $2",
                             {seq, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX))});
    std::vector<changed_cert> out;
    for (int i = 0; i < r.rows(); ++i) {
        auto serial = serial_number::from_bytes(r.bytes(i, 1));
        // Tombstones carry no CHECK (foreign writers may have deleted anything); skip what is not a serial.
        if (!serial) continue;
        out.push_back({r.integer(i, 0), std::move(*serial), r.integer(i, 2)});
    }
    return out;
}

}  // namespace ocspkit::schema
