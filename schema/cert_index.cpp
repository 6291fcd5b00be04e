#include "schema/cert_index.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>
#include <openssl/x509.h>

#include "common/ascii.hpp"
#include "common/openssl_error.hpp"
#include "common/pem.hpp"
#include "schema/record_rows.hpp"

namespace ocspkit::schema {

namespace {

using sqlite::statement;
using rows::cert_columns;
using rows::issuer_columns;
using rows::read_cert;
using rows::read_issuer;
using rows::unix_seconds;

struct reason_entry {
    revocation_reason reason;
    std::string_view name;
};
// RFC 5280 §5.3.1, ASN.1 spelling.
constexpr std::array<reason_entry, 10> reason_names{{
    {revocation_reason::unspecified, "unspecified"},
    {revocation_reason::key_compromise, "keyCompromise"},
    {revocation_reason::ca_compromise, "cACompromise"},
    {revocation_reason::affiliation_changed, "affiliationChanged"},
    {revocation_reason::superseded, "superseded"},
    {revocation_reason::cessation_of_operation, "cessationOfOperation"},
    {revocation_reason::certificate_hold, "certificateHold"},
    {revocation_reason::remove_from_crl, "removeFromCRL"},
    {revocation_reason::privilege_withdrawn, "privilegeWithdrawn"},
    {revocation_reason::aa_compromise, "aACompromise"},
}};

// Binds the 11 content columns of `r` to parameters 1..11, in the order of cert_columns.
void bind_cert(statement& s, const cert_record& r) {
    s.bind(1, r.issuer_id);
    s.bind(2, std::span<const std::uint8_t>(r.serial.bytes()));
    s.bind(3, unix_seconds(r.not_before));
    s.bind(4, unix_seconds(r.not_after));
    s.bind(5, static_cast<std::int64_t>(r.status));
    s.bind(6, unix_seconds(r.revocation_time));
    if (r.reason) {
        s.bind(7, static_cast<std::int64_t>(*r.reason));
    } else {
        s.bind_null(7);
    }
    s.bind(8, unix_seconds(r.invalidity_date));
    if (r.hold_instruction) {
        s.bind(9, std::string_view{*r.hold_instruction});
    } else {
        s.bind_null(9);
    }
    s.bind(10, std::string_view{r.subject});
    if (r.cert_der) {
        s.bind(11, std::span<const std::uint8_t>(*r.cert_der));
    } else {
        s.bind_null(11);
    }
}

// Resets a cached statement when a read leaves scope, normally or by exception: a statement left
// mid-result keeps its read transaction open, which in WAL mode pins an old snapshot and stops
// checkpoints.
class reset_guard {
public:
    explicit reset_guard(statement& s) : s_(s) {}
    ~reset_guard() { s_.reset(); }
    reset_guard(const reset_guard&) = delete;
    reset_guard& operator=(const reset_guard&) = delete;

private:
    statement& s_;
};

std::int64_t read_counter(const sqlite::connection& conn) {
    auto s = conn.prepare("SELECT value FROM change_counter WHERE id = 1");
    if (!s.step()) throw index_error(fmt::format("{}: change_counter row is missing", conn.path().string()));
    return s.column_int(0);
}

}  // namespace

std::optional<revocation_reason> reason_from_name(std::string_view name) {
    for (const auto& e : reason_names) {
        if (iequals(e.name, name)) return e.reason;
    }
    return std::nullopt;
}

std::string_view reason_name(revocation_reason r) {
    for (const auto& e : reason_names) {
        if (e.reason == r) return e.name;
    }
    return "unknown";
}

std::optional<revocation_reason> reason_from_code(std::int64_t code) {
    for (const auto& e : reason_names) {
        if (static_cast<std::int64_t>(e.reason) == code) return e.reason;
    }
    return std::nullopt;
}

std::string_view status_name(cert_status s) {
    switch (s) {
    case cert_status::good: return "good";
    case cert_status::revoked: return "revoked";
    case cert_status::hold: return "hold";
    }
    return "unknown";
}

std::optional<cert_status> status_from_name(std::string_view name) {
    for (auto s : {cert_status::good, cert_status::revoked, cert_status::hold}) {
        if (iequals(status_name(s), name)) return s;
    }
    return std::nullopt;
}

bool cert_record::same_content(const cert_record& o) const {
    return issuer_id == o.issuer_id && serial == o.serial && not_before == o.not_before && not_after == o.not_after &&
           status == o.status && revocation_time == o.revocation_time && reason == o.reason &&
           invalidity_date == o.invalidity_date && hold_instruction == o.hold_instruction && subject == o.subject &&
           cert_der == o.cert_der;
}

namespace {
std::optional<std::string> consistency_problem(const cert_record& r) {
    // Formatted only on failure: this runs once per row of a million-row import.
    const auto serial = [&r] { return r.serial.to_hex(); };
    switch (r.status) {
    case cert_status::good:
        if (r.revocation_time || r.reason || r.invalidity_date || r.hold_instruction) {
            return fmt::format("serial {}: a good certificate cannot carry a revocation time, reason, invalidity "
                               "date or hold instruction",
                               serial());
        }
        return std::nullopt;
    case cert_status::revoked:
        if (!r.revocation_time)
            return fmt::format("serial {}: a revoked certificate needs a revocation time", serial());
        if (r.reason == revocation_reason::certificate_hold) {
            return fmt::format("serial {}: reason certificateHold means status hold, not revoked", serial());
        }
        if (r.reason == revocation_reason::remove_from_crl) {
            // RFC 5280 §5.3.1: removeFromCRL only appears in delta CRLs, for an entry whose hold ended.
            return fmt::format("serial {}: removeFromCRL is not a revocation reason (RFC 5280 §5.3.1); the "
                               "certificate is good",
                               serial());
        }
        if (r.hold_instruction)
            return fmt::format("serial {}: only a held certificate has a hold instruction", serial());
        return std::nullopt;
    case cert_status::hold:
        if (!r.revocation_time) return fmt::format("serial {}: a held certificate needs a revocation time", serial());
        if (r.reason != revocation_reason::certificate_hold) {
            return fmt::format("serial {}: a held certificate has reason certificateHold", serial());
        }
        return std::nullopt;
    }
    return fmt::format("serial {}: unknown status", serial());
}
}  // namespace

status check_consistency(const cert_record& r) {
    if (auto problem = consistency_problem(r)) return error{errc::malformed, std::move(*problem)};
    return success();
}

// Prepared on first use and kept for the connection's life; indexes by hash_alg for the CertID lookups.
struct cert_index::statements {
    std::optional<statement> find_cert;
    std::optional<statement> find_issuer;
    std::optional<statement> list_issuer_ids;
    std::array<std::optional<statement>, 4> find_issuer_by_hashes;
    std::optional<statement> counter;
    std::optional<statement> changes;
};

cert_index::cert_index(std::unique_ptr<sqlite::connection> conn, audit_context audit)
    : conn_(std::move(conn)), stmts_(std::make_unique<statements>()), audit_(std::move(audit)) {}
cert_index::cert_index(cert_index&&) noexcept = default;
cert_index& cert_index::operator=(cert_index&&) noexcept = default;
// Statements must be finalized before their connection closes: declared after conn_, stmts_ goes first.
cert_index::~cert_index() = default;

sqlite::statement& cert_index::cached(std::optional<sqlite::statement>& slot, std::string_view sql) const {
    if (!slot) slot.emplace(conn_->prepare(sql));
    return *slot;
}


// --- issuers ---------------------------------------------------------------------------------------------

std::int64_t cert_index::add_issuer_at(X509* ca_cert, std::optional<sys_seconds> created_at) {
    const auto issuer = new_issuer_row_of(ca_cert);
    const auto& subject = issuer.subject;
    const auto& hashes = issuer.hashes;
    sqlite::transaction txn(*conn_);
    if (auto existing = find_issuer_by_hashes(hash_alg::sha256, hashes[hash_alg::sha256])) {
        throw index_error(fmt::format("issuer {} is already registered (ID {})", subject, existing->id));
    }
    auto insert = conn_->prepare(
        "INSERT INTO issuers (subject, subject_der, key_id, name_hash_sha1, key_hash_sha1, name_hash_sha256, "
        "key_hash_sha256, name_hash_sha384, key_hash_sha384, name_hash_sha512, key_hash_sha512, cert_der, "
        "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, coalesce(?13, unixepoch()))");
    insert.bind(1, std::string_view{subject});
    insert.bind(2, std::span<const std::uint8_t>(issuer.subject_der));
    insert.bind(3, std::span<const std::uint8_t>(issuer.key_id));
    for (std::size_t i = 0; i < all_hash_algs.size(); ++i) {
        const int param = 4 + 2 * static_cast<int>(i);
        insert.bind(param, std::span<const std::uint8_t>(hashes.by_alg[i].name_hash));
        insert.bind(param + 1, std::span<const std::uint8_t>(hashes.by_alg[i].key_hash));
    }
    insert.bind(12, std::span<const std::uint8_t>(issuer.cert_der));
    insert.bind(13, unix_seconds(created_at));
    insert.run();
    const std::int64_t id = conn_->last_insert_rowid();
    bump_counter();
    auto log = conn_->prepare(audit_insert_sql);
    audit_entry entry;
    entry.issuer_id = id;
    entry.detail = fmt::format("issuer added: {}", subject);
    write_audit(log, audit_, entry);
    txn.commit();
    return id;
}

// Issuer changes list no rows in changes_since(); moving the counter tells readers to reload issuers.
void cert_index::bump_counter() { conn_->exec("UPDATE change_counter SET value = value + 1 WHERE id = 1"); }

std::vector<issuer_record> cert_index::list_issuers() const {
    auto s = conn_->prepare(fmt::format("SELECT {} FROM issuers ORDER BY id", issuer_columns));
    std::vector<issuer_record> out;
    while (s.step()) out.push_back(read_issuer(s));
    return out;
}

std::optional<issuer_record> cert_index::find_issuer(std::int64_t id) const {
    auto& s = cached(stmts_->find_issuer, fmt::format("SELECT {} FROM issuers WHERE id = ?1", issuer_columns));
    reset_guard guard(s);
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_issuer(s);
}

std::optional<issuer_record> cert_index::find_issuer_by_cert(X509* ca_cert) const {
    return find_issuer_by_hashes(
        hash_alg::sha256, {issuer_name_hash(ca_cert, hash_alg::sha256), issuer_key_hash(ca_cert, hash_alg::sha256)});
}

std::optional<issuer_record> cert_index::find_issuer_by_hashes(hash_alg alg, const name_and_key_hash& hashes) const {
    const auto name = hash_name(alg);
    auto& s = cached(stmts_->find_issuer_by_hashes[static_cast<std::size_t>(alg)],
                     fmt::format("SELECT {} FROM issuers WHERE name_hash_{} = ?1 AND key_hash_{} = ?2 ORDER BY id",
                                 issuer_columns, name, name));
    reset_guard guard(s);
    s.bind(1, std::span<const std::uint8_t>(hashes.name_hash));
    s.bind(2, std::span<const std::uint8_t>(hashes.key_hash));
    if (!s.step()) return std::nullopt;
    return read_issuer(s);
}

void cert_index::set_issuer_enabled(std::int64_t id, bool enabled) {
    sqlite::transaction txn(*conn_);
    auto current = find_issuer(id);
    if (!current) throw not_found_error(fmt::format("issuer ID {} is not registered", id));
    if (current->enabled == enabled) return;  // the guard rolls back an empty transaction
    auto s = conn_->prepare("UPDATE issuers SET enabled = ?2 WHERE id = ?1");
    s.bind(1, id).bind(2, std::int64_t{enabled ? 1 : 0});
    s.run();
    bump_counter();
    auto log = conn_->prepare(audit_insert_sql);
    audit_entry entry;
    entry.issuer_id = id;
    entry.detail = fmt::format("issuer {}: {}", enabled ? "enabled" : "disabled", current->subject);
    write_audit(log, audit_, entry);
    txn.commit();
}

// --- certificates ----------------------------------------------------------------------------------------

std::optional<cert_record> cert_index::find_certificate(std::int64_t issuer_id, const serial_number& serial) const {
    auto& s = cached(stmts_->find_cert,
                     fmt::format("SELECT {} FROM certificates WHERE issuer_id = ?1 AND serial = ?2", cert_columns));
    reset_guard guard(s);
    s.bind(1, issuer_id);
    s.bind(2, std::span<const std::uint8_t>(serial.bytes()));
    if (!s.step()) return std::nullopt;
    return read_cert(s);
}

std::vector<cert_record> cert_index::find_certificates_by_serial(const serial_number& serial) const {
    // The key starts with issuer_id, so one point lookup per issuer beats a scan by serial.
    std::vector<std::int64_t> ids;
    {
        auto& s = cached(stmts_->list_issuer_ids, "SELECT id FROM issuers ORDER BY id");
        reset_guard guard(s);
        while (s.step()) ids.push_back(s.column_int(0));
    }
    std::vector<cert_record> out;
    for (const auto id : ids) {
        if (auto rec = find_certificate(id, serial)) out.push_back(std::move(*rec));
    }
    return out;
}

void cert_index::for_each_certificate(std::optional<std::int64_t> issuer_id, std::optional<cert_status> status,
                                      const std::function<void(const cert_record&)>& visit) const {
    // Not cached: the visitor may call back into this index, which must not reuse a running statement.
    // Shorter canonical serials are smaller numbers, so (length, bytes) is numeric order.
    auto s = conn_->prepare(fmt::format("SELECT {} FROM certificates WHERE (?1 IS NULL OR issuer_id = ?1) AND "
                                        "(?2 IS NULL OR status = ?2) ORDER BY issuer_id, length(serial), serial",
                                        cert_columns));
    s.bind(1, issuer_id);
    if (status) {
        s.bind(2, static_cast<std::int64_t>(*status));
    } else {
        s.bind_null(2);
    }
    while (s.step()) visit(read_cert(s));
}

std::int64_t cert_index::count_certificates(std::optional<std::int64_t> issuer_id,
                                            std::optional<cert_status> status) const {
    auto s = conn_->prepare(
        "SELECT count(*) FROM certificates WHERE (?1 IS NULL OR issuer_id = ?1) AND (?2 IS NULL OR status = ?2)");
    s.bind(1, issuer_id);
    if (status) {
        s.bind(2, static_cast<std::int64_t>(*status));
    } else {
        s.bind_null(2);
    }
    s.step();
    return s.column_int(0);
}

// --- bulk writes -----------------------------------------------------------------------------------------

cert_index::write_batch::write_batch(cert_index& index)
    : index_(index),
      txn_(*index.conn_),
      insert_(index.conn_->prepare(fmt::format(
          "INSERT INTO certificates ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
          "ON CONFLICT (issuer_id, serial) DO NOTHING",
          cert_columns))),
      update_(index.conn_->prepare(
          "UPDATE certificates SET not_before = ?3, not_after = ?4, status = ?5, revocation_time = ?6, reason = ?7, "
          "invalidity_date = ?8, hold_instruction = ?9, subject = ?10, cert_der = ?11, change_seq = ?12 "
          "WHERE issuer_id = ?1 AND serial = ?2")),
      select_(index.conn_->prepare(
          fmt::format("SELECT {} FROM certificates WHERE issuer_id = ?1 AND serial = ?2", cert_columns))),
      audit_(index.conn_->prepare(audit_insert_sql)) {
    // Read under the write lock taken by txn_: no other writer can take the same number.
    set_change_seq(read_counter(*index.conn_) + 1);
}

void cert_index::write_batch::audit(const audit_entry& entry) { write_audit(audit_, index_.audit_, entry); }

std::unique_ptr<index_batch> cert_index::begin_write() {
    return std::unique_ptr<index_batch>(new write_batch(*this));
}

std::optional<cert_record> cert_index::write_batch::find(std::int64_t issuer_id, const serial_number& serial) const {
    auto& s = select_;
    reset_guard guard(s);
    s.bind(1, issuer_id);
    s.bind(2, std::span<const std::uint8_t>(serial.bytes()));
    if (!s.step()) return std::nullopt;
    return read_cert(s);
}

std::vector<cert_record> cert_index::write_batch::revoked_rows(std::int64_t issuer_id) const {
    auto s = index_.conn_->prepare(fmt::format("SELECT {} FROM certificates WHERE issuer_id = ?1 AND status <> 0 "
                                               "ORDER BY length(serial), serial",
                                               rows::cert_columns_without_der));
    s.bind(1, issuer_id);
    std::vector<cert_record> out;
    while (s.step()) out.push_back(read_cert(s));
    return out;
}

std::optional<crl_import_state> cert_index::write_batch::crl_import(std::int64_t issuer_id) const {
    auto s = index_.conn_->prepare("SELECT last_number, last_full_number, this_update, next_update, imported_at "
                                   "FROM crl_imports WHERE issuer_id = ?1");
    s.bind(1, issuer_id);
    if (!s.step()) return std::nullopt;
    const auto number = [&](int column) {
        auto n = serial_number::from_bytes(s.column_blob(column));
        if (!n) throw index_error(fmt::format("crl_imports of issuer ID {}: {}", issuer_id, n.error_message()));
        return std::move(n).value();
    };
    crl_import_state out;
    out.last_number = number(0);
    out.last_full_number = number(1);
    out.this_update = sys_seconds{std::chrono::seconds{s.column_int(2)}};
    if (!s.is_null(3)) out.next_update = sys_seconds{std::chrono::seconds{s.column_int(3)}};
    out.imported_at = sys_seconds{std::chrono::seconds{s.column_int(4)}};
    return out;
}

void cert_index::write_batch::set_crl_import(std::int64_t issuer_id, const crl_import_state& state) {
    auto s = index_.conn_->prepare(
        "INSERT INTO crl_imports (issuer_id, last_number, last_full_number, this_update, next_update, imported_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (issuer_id) DO UPDATE SET last_number = excluded.last_number, "
        "last_full_number = excluded.last_full_number, this_update = excluded.this_update, "
        "next_update = excluded.next_update, imported_at = excluded.imported_at");
    s.bind(1, issuer_id);
    s.bind(2, std::span<const std::uint8_t>(state.last_number.bytes()));
    s.bind(3, std::span<const std::uint8_t>(state.last_full_number.bytes()));
    s.bind(4, std::int64_t{state.this_update.time_since_epoch().count()});
    if (state.next_update) {
        s.bind(5, std::int64_t{state.next_update->time_since_epoch().count()});
    } else {
        s.bind_null(5);
    }
    s.bind(6, std::int64_t{state.imported_at.time_since_epoch().count()});
    s.run();
}

bool cert_index::write_batch::issuer_registered(std::int64_t issuer_id) const {
    return index_.find_issuer(issuer_id).has_value();
}

bool cert_index::write_batch::insert_if_absent(const cert_record& rec) {
    bind_cert(insert_, rec);
    insert_.bind(12, change_seq());
    insert_.run();
    return index_.conn_->changes() == 1;
}

void cert_index::write_batch::update(const cert_record& rec) {
    bind_cert(update_, rec);
    update_.bind(12, change_seq());
    update_.run();
}

std::optional<sys_seconds> cert_index::write_batch::last_hold_lift(std::int64_t issuer_id,
                                                                   const serial_number& serial) const {
    return index_.last_hold_lift(issuer_id, serial);
}

void cert_index::write_batch::commit() {
    // Our connections run without the stamping triggers (cert_index_open.cpp): the counter is moved here.
    if (changed_rows() > 0) {
        auto s = index_.conn_->prepare("UPDATE change_counter SET value = max(value, ?1) WHERE id = 1");
        s.bind(1, change_seq());
        s.run();
    }
    txn_.commit();
}

// --- CRLs ----------------------------------------------------------------------------------------------

crl_snapshot cert_index::take_crl_snapshot(std::int64_t issuer_id, sys_seconds issued_at) {
    // The write lock from the start (the transaction guard begins IMMEDIATE): the number and the rows
    // are read by one writer at a time, so a higher number never lists an older state.
    sqlite::transaction txn(*conn_);
    const auto issuer = find_issuer(issuer_id);
    if (!issuer) throw not_found_error(fmt::format("issuer ID {} is not registered", issuer_id));
    crl_snapshot out;
    out.issuer_enabled = issuer->enabled;
    {
        auto take = conn_->prepare(
            "INSERT INTO crl_numbers (issuer_id, last_number, issued_at) VALUES (?1, 1, ?2) "
            "ON CONFLICT (issuer_id) DO UPDATE SET last_number = last_number + 1, issued_at = excluded.issued_at "
            "RETURNING last_number");
        take.bind(1, issuer_id).bind(2, std::int64_t{issued_at.time_since_epoch().count()});
        if (!take.step()) throw index_error("taking a CRL number returned no row");
        out.crl_number = take.column_int(0);
        while (take.step()) {
        }
    }
    out.change_seq = read_counter(*conn_);
    auto listed = conn_->prepare(fmt::format("SELECT {} FROM certificates WHERE issuer_id = ?1 AND status <> 0 "
                                             "ORDER BY length(serial), serial",
                                             rows::cert_columns_without_der));
    listed.bind(1, issuer_id);
    while (listed.step()) out.revoked.push_back(read_cert(listed));
    txn.commit();
    return out;
}

// --- change tracking -------------------------------------------------------------------------------------

std::int64_t cert_index::current_change_seq() const {
    auto& s = cached(stmts_->counter, "SELECT value FROM change_counter WHERE id = 1");
    reset_guard guard(s);
    if (!s.step()) throw index_error(fmt::format("{}: change_counter row is missing", conn_->path().string()));
    return s.column_int(0);
}

std::vector<changed_cert> cert_index::changes_since(std::int64_t seq, std::size_t limit) const {
    auto& s = cached(stmts_->changes,
                     "SELECT issuer_id, serial, change_seq FROM certificates WHERE change_seq > ?1 "
                     "UNION ALL "
                     "SELECT issuer_id, serial, change_seq FROM deleted_certificates WHERE change_seq > ?1 "
                     "ORDER BY change_seq LIMIT ?2");
    reset_guard guard(s);
    s.bind(1, seq);
    s.bind(2, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    std::vector<changed_cert> out;
    while (s.step()) {
        auto serial = serial_number::from_bytes(s.column_blob(1));
        // Tombstones carry no CHECK (foreign writers may have deleted anything); skip what is not a serial.
        if (!serial) continue;
        out.push_back({s.column_int(0), std::move(*serial), s.column_int(2)});
    }
    return out;
}

void cert_index::set_cache_size_kib(std::int64_t kib) {
    // A negative cache_size is in KiB rather than pages (https://sqlite.org/pragma.html#pragma_cache_size).
    conn_->exec(fmt::format("PRAGMA cache_size = {}", -std::max<std::int64_t>(kib, 1)));
}

}  // namespace ocspkit::schema
