// pg_index, its reads: issuers, certificates (one by key, by serial, streamed with a cursor, counted),
// the change feed and the audit. Opening and writing are in pg_index_write.cpp.
#include "schema/pg_index.hpp"

#include <fmt/format.h>

#include "schema/pg_migrations.hpp"
#include "schema/pg_rows.hpp"
#include "schema/record_rows.hpp"

namespace ocspkit::schema {

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
                             {pg_bytes(hashes.name_hash), pg_bytes(hashes.key_hash)});
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
        {issuer_id, pg_bytes(serial.bytes())});
    if (r.rows() == 0) return std::nullopt;
    return rows::read_cert(pg_row(r, 0));
}

std::vector<cert_record> pg_index::find_certificates_by_serial(const serial_number& serial) const {
    // The key starts with issuer_id, so one point lookup per issuer beats a scan by serial.
    const auto r = db_.query(fmt::format("SELECT {} FROM (SELECT id FROM issuers) i, LATERAL (SELECT {} FROM "
                                         "certificates WHERE issuer_id = i.id AND serial = $1) c ORDER BY issuer_id",
                                         rows::cert_columns, rows::cert_columns),
                             {pg_bytes(serial.bytes())});
    std::vector<cert_record> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(rows::read_cert(pg_row(r, i)));
    return out;
}

namespace {

// "issuer_id = 3 AND status = 1", "TRUE": the filters are integers, formatted into the text because a
// cursor's query is declared once and fetched many times.
std::string certificate_filter(std::optional<std::int64_t> issuer_id, std::optional<cert_status> status) {
    std::string where = "TRUE";
    if (issuer_id) where += fmt::format(" AND issuer_id = {}", *issuer_id);
    if (status) where += fmt::format(" AND status = {}", static_cast<int>(*status));
    return where;
}

// Closes a cursor and ends the read transaction it was opened in (if it opened one), also on exceptions.
class cursor_scope {
public:
    cursor_scope(pg::connection& db, std::string name) : db_(db), name_(std::move(name)) {
        own_transaction_ = PQtransactionStatus(db_.get()) == PQTRANS_IDLE;
        if (own_transaction_) db_.exec("BEGIN READ ONLY");
    }
    ~cursor_scope() {
        if (!db_.healthy()) return;
        try {
            if (declared_) db_.exec("CLOSE " + name_);
            if (own_transaction_) db_.exec("COMMIT");
        } catch (const pg::pg_error&) {
            // The transaction failed already; the error that ended the scope is the one to report.
        }
    }
    cursor_scope(const cursor_scope&) = delete;
    cursor_scope& operator=(const cursor_scope&) = delete;
    void declare(const std::string& query) {
        db_.exec(fmt::format("DECLARE {} NO SCROLL CURSOR FOR {}", name_, query));
        declared_ = true;
    }
    const std::string& name() const noexcept { return name_; }

private:
    pg::connection& db_;
    std::string name_;
    bool own_transaction_ = false;
    bool declared_ = false;
};

constexpr int rows_per_fetch = 10000;

}  // namespace

void pg_index::for_each_certificate(std::optional<std::int64_t> issuer_id, std::optional<cert_status> status,
                                    const std::function<void(const cert_record&)>& visit) const {
    cursor_scope cursor(db_, fmt::format("ocspkit_certificates_{}", ++cursors_opened_));
    // Shorter canonical serials are smaller numbers, so (length, bytes) is numeric order, as on SQLite.
    cursor.declare(fmt::format("SELECT {} FROM certificates WHERE {} ORDER BY issuer_id, length(serial), serial",
                               rows::cert_columns, certificate_filter(issuer_id, status)));
    const std::string fetch = fmt::format("FETCH FORWARD {} FROM {}", rows_per_fetch, cursor.name());
    for (;;) {
        const auto r = db_.query(fetch);
        for (int i = 0; i < r.rows(); ++i) visit(rows::read_cert(pg_row(r, i)));
        if (r.rows() < rows_per_fetch) break;
    }
}

std::int64_t pg_index::count_certificates(std::optional<std::int64_t> issuer_id,
                                          std::optional<cert_status> status) const {
    return db_.query(fmt::format("SELECT count(*) FROM certificates WHERE {}", certificate_filter(issuer_id, status)))
        .integer(0, 0);
}

std::vector<audit_record> pg_index::list_audit(const audit_filter& filter) const {
    const auto r = db_.query(
        fmt::format("SELECT {} FROM audit WHERE ($1::bigint IS NULL OR time >= $1::bigint) AND "
                    "($2::bytea IS NULL OR serial = $2::bytea) AND ($3::bigint IS NULL OR issuer_id = $3::bigint) "
                    "ORDER BY id",
                    rows::audit_columns),
        {pg_optional_time(filter.since),
         filter.serial ? pg::param{pg_bytes(filter.serial->bytes())} : pg::param{std::monostate{}},
         pg_optional(filter.issuer_id)});
    std::vector<audit_record> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(rows::read_audit(pg_row(r, i)));
    return out;
}

std::optional<sys_seconds> pg_index::last_hold_lift(std::int64_t issuer_id, const serial_number& serial) const {
    const auto r = db_.query("SELECT max(time) FROM audit WHERE serial = $2 AND issuer_id = $1 AND "
                             "old_status = 'hold' AND new_status = 'good'",
                             {issuer_id, pg_bytes(serial.bytes())});
    if (r.is_null(0, 0)) return std::nullopt;
    return sys_seconds{std::chrono::seconds{r.integer(0, 0)}};
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
