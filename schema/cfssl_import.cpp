#include "schema/cfssl_import.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/ascii.hpp"
#include "common/cert_id.hpp"
#include "common/pem.hpp"
#include "common/pg.hpp"
#include "common/sqlite.hpp"

namespace ocspkit::schema {

namespace {

// Go's zero time (0001-01-01) and anything before 1970 mean "never revoked" in CFSSL's rows.
std::optional<std::int64_t> revocation_seconds(std::optional<std::int64_t> unix) {
    if (!unix || *unix <= 0) return std::nullopt;
    return unix;
}

// The columns the import reads; CFSSL has had them since its first certdb schema.
constexpr std::string_view needed_columns =
    "'serial_number', 'authority_key_identifier', 'status', 'reason', 'revoked_at', 'pem'";
constexpr std::int64_t needed_column_count = 6;

void read_sqlite(const std::string& file, const std::function<void(const cfssl_row&)>& visit) {
    std::unique_ptr<sqlite::connection> db;
    try {
        db = std::make_unique<sqlite::connection>(file, sqlite::open_mode::read_only);
        auto has = db->prepare(fmt::format("SELECT count(*) FROM pragma_table_info('certificates') WHERE name IN ({})",
                                           needed_columns));
        has.step();
        if (has.column_int(0) != needed_column_count)
            throw database_error(fmt::format("{}: no `certificates` table with CFSSL's columns ({}); give the SQLite "
                                             "file that CFSSL's -db-config names (its data_source)",
                                             file, needed_columns));
    } catch (const sqlite::sqlite_error& e) {
        throw database_error(fmt::format("{}: cannot read it as CFSSL's certdb: {}", file, e.what()));
    }
    // unixepoch() reads what go-sqlite3 writes ("2026-12-04 18:54:04", "...+00:00", fractions, RFC 3339).
    auto s = db->prepare("SELECT CAST(serial_number AS TEXT), CAST(authority_key_identifier AS TEXT), "
                         "CAST(status AS TEXT), reason, CAST(revoked_at AS TEXT), unixepoch(revoked_at), "
                         "CAST(pem AS TEXT) FROM certificates ORDER BY length(serial_number), serial_number");
    while (s.step()) {
        cfssl_row row;
        row.serial_number = s.column_text(0);
        row.authority_key_identifier = s.column_text(1);
        row.status = s.column_text(2);
        row.reason = s.column_optional_int(3);
        if (!s.is_null(4)) row.revoked_at = s.column_text(4);
        row.revoked_at_unix = revocation_seconds(s.column_optional_int(5));
        row.pem = s.column_text(6);
        visit(row);
    }
}

void read_postgresql(const std::string& conninfo, const std::function<void(const cfssl_row&)>& visit) {
    const auto name = pg::redact_conninfo(conninfo);
    bool visiting = false;
    try {
        pg::connection db(conninfo);
        const auto has = db.query(fmt::format("SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                                              "current_schema() AND table_name = 'certificates' AND column_name IN ({})",
                                              needed_columns));
        if (has.integer(0, 0) != needed_column_count)
            throw database_error(fmt::format("PostgreSQL at {}: no `certificates` table with CFSSL's columns ({}); "
                                             "give the database that CFSSL's -db-config names",
                                             name, needed_columns));
        // CFSSL's PostgreSQL schema stores the text columns as bytea; binary results give their bytes. A
        // cursor reads the rows in batches, so a certdb of millions of certificates is not held at once.
        db.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        db.exec("DECLARE ocspkit_cfssl_rows NO SCROLL CURSOR FOR SELECT serial_number, authority_key_identifier, "
                "status, reason, revoked_at::text, extract(epoch FROM revoked_at)::bigint, pem FROM certificates "
                "ORDER BY length(serial_number), serial_number");
        constexpr int rows_per_fetch = 1000;
        const auto fetch = fmt::format("FETCH FORWARD {} FROM ocspkit_cfssl_rows", rows_per_fetch);
        for (;;) {
            const auto r = db.query(fetch);
            const auto text = [&](int row, int column) {
                const auto b = r.bytes(row, column);
                return std::string(b.begin(), b.end());
            };
            for (int i = 0; i < r.rows(); ++i) {
                cfssl_row row;
                row.serial_number = text(i, 0);
                row.authority_key_identifier = text(i, 1);
                row.status = text(i, 2);
                if (!r.is_null(i, 3)) row.reason = r.integer(i, 3);
                if (!r.is_null(i, 4)) row.revoked_at = r.text(i, 4);
                if (!r.is_null(i, 5)) row.revoked_at_unix = revocation_seconds(r.integer(i, 5));
                row.pem = text(i, 6);
                visiting = true;  // what the visitor throws (the index's own errors) is not the certdb's
                visit(row);
                visiting = false;
            }
            if (r.rows() < rows_per_fetch) break;
        }
        db.exec("COMMIT");
    } catch (const pg::pg_error& e) {
        if (visiting) throw;
        throw database_error(fmt::format("PostgreSQL at {}: cannot read it as CFSSL's certdb: {}", name, e.what()));
    }
}

ossl::x509_ptr parse_pem(const std::string& pem) {
    ossl::bio_ptr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(std::min<std::size_t>(pem.size(), INT32_MAX)))};
    ossl::x509_ptr cert{bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr};
    ERR_clear_error();
    return cert;
}

struct registered_ca {
    issuer_record record;
    ossl::x509_ptr cert;
    std::string key_id_hex;
};

// The registered CA that issued `cert`, by the row's or the certificate's authority key identifier, else
// by signature.
const registered_ca* issuer_of(const std::vector<registered_ca>& cas, const std::string& row_aki, X509* cert) {
    std::string aki = row_aki;
    if (aki.empty()) {
        if (const ASN1_OCTET_STRING* id = X509_get0_authority_key_id(cert))
            aki = to_hex(ASN1_STRING_get0_data(id), static_cast<std::size_t>(ASN1_STRING_length(id)));
    }
    for (const auto& ca : cas) {
        if (!aki.empty() && !iequals(ca.key_id_hex, aki)) continue;
        if (X509_check_issued(ca.cert.get(), cert) != X509_V_OK) continue;
        const bool verified = X509_verify(cert, X509_get0_pubkey(ca.cert.get())) == 1;
        ERR_clear_error();
        if (verified) return &ca;
    }
    return nullptr;
}

}  // namespace

void read_cfssl_certdb(const std::string& certdb, const std::function<void(const cfssl_row&)>& visit) {
    if (pg::database_kind_of(certdb) == pg::database_kind::postgresql) {
        read_postgresql(certdb, visit);
    } else {
        read_sqlite(certdb, visit);
    }
}

result<cert_record> record_of_cfssl_row(const cfssl_row& row, X509* cert, X509* ca, const issuer_record& issuer) {
    auto rec = record_of_certificate(cert, ca, issuer);
    if (!rec) return rec;
    const auto serial = serial_number::from_decimal(row.serial_number);
    if (!serial || *serial != rec->serial)
        return error{errc::malformed, fmt::format("serial_number '{}' is not the certificate's serial ({} hex)",
                                                  row.serial_number, rec->serial.to_hex())};
    if (row.status == "good") return rec;
    if (row.status != "revoked")
        return error{errc::malformed, fmt::format("status '{}' is neither good nor revoked", row.status)};
    const auto reason = reason_from_code(row.reason.value_or(0));
    if (!reason) return error{errc::malformed, fmt::format("reason {} is not an RFC 5280 reason", *row.reason)};
    if (*reason == revocation_reason::remove_from_crl) return rec;  // "no longer on hold"
    if (!row.revoked_at_unix)
        return error{errc::malformed, fmt::format("revoked, but revoked_at '{}' is not a time",
                                                  row.revoked_at.value_or("NULL"))};
    rec->revocation_time = sys_seconds{std::chrono::seconds{*row.revoked_at_unix}};
    if (*reason == revocation_reason::certificate_hold) {
        rec->status = cert_status::hold;
        rec->reason = reason;
    } else {
        rec->status = cert_status::revoked;
        if (*reason != revocation_reason::unspecified) rec->reason = reason;
    }
    return rec;
}

cfssl_import_report import_cfssl(index_store& index, const std::string& certdb, const cfssl_import_options& options) {
    std::vector<registered_ca> cas;
    for (auto& issuer : index.list_issuers()) {
        const unsigned char* p = issuer.cert_der.data();
        ossl::x509_ptr cert{d2i_X509(nullptr, &p, static_cast<long>(issuer.cert_der.size()))};
        if (!cert) continue;
        auto key_id = to_hex(issuer.key_id);
        cas.push_back({std::move(issuer), std::move(cert), std::move(key_id)});
    }
    const std::string certdb_name = pg::database_kind_of(certdb) == pg::database_kind::postgresql
                                        ? "PostgreSQL at " + pg::redact_conninfo(certdb)
                                        : certdb;
    const std::string detail = "import-cfssl: " + certdb_name;

    cfssl_import_report report;
    auto& rows = report.rows;
    std::map<std::string, std::size_t> unregistered;
    const auto bad = [&](const cfssl_row& row, std::string_view why) {
        ++rows.bad;
        if (rows.errors.size() < options.max_errors_kept)
            rows.errors.push_back(fmt::format("row serial_number {}: {}", row.serial_number, why));
    };
    const auto batch = index.begin_write();
    read_cfssl_certdb(certdb, [&](const cfssl_row& row) {
        ++rows.records;
        const auto cert = parse_pem(row.pem);
        if (!cert) {
            bad(row, "pem does not hold a PEM certificate");
            return;
        }
        const auto* ca = issuer_of(cas, row.authority_key_identifier, cert.get());
        if (!ca) {
            const auto key = row.authority_key_identifier.empty()
                                 ? fmt::format("issuer \"{}\" (no authority key identifier)",
                                               name_rfc2253(X509_get_issuer_name(cert.get())))
                                 : fmt::format("authority key identifier {}", row.authority_key_identifier);
            ++unregistered[key];
            ++report.unregistered_rows;
            return;
        }
        auto rec = record_of_cfssl_row(row, cert.get(), ca->cert.get(), ca->record);
        if (!rec) {
            bad(row, rec.error_message());
            return;
        }
        merge_options merge{.detail = detail, .import_rule = true, .force = options.force, .audit_good_inserts = false};
        auto outcome = batch->merge(*rec, merge);
        if (!outcome) {
            bad(row, outcome.error_message());
            return;
        }
        rows.counts.add(*outcome);
        if (batch->last_conflict() && rows.conflicts.size() < options.max_errors_kept)
            rows.conflicts.push_back(fmt::format("row serial_number {}: {}", row.serial_number, *batch->last_conflict()));
    });
    for (const auto& [ca, n] : unregistered)
        report.unregistered.push_back(fmt::format("{}: {} rows (`ocspctl issuer add` its CA certificate to import "
                                                  "them)",
                                                  ca, n));
    if (rows.bad > 0 && !options.skip_bad) return report;  // all or nothing: the batch rolls back
    rows.counts.skipped = rows.bad;
    if (batch->changed_rows() > 0) {
        audit_entry summary;
        summary.detail = fmt::format("{}: {} rows: {} inserted, {} updated, {} unchanged, {} skipped, {} conflicts "
                                     "kept, {} of unregistered CAs",
                                     detail, rows.records, rows.counts.inserted, rows.counts.updated,
                                     rows.counts.unchanged, rows.counts.skipped, rows.counts.kept,
                                     report.unregistered_rows);
        batch->audit(summary);
    }
    batch->commit();
    rows.committed = true;
    return report;
}

}  // namespace ocspkit::schema
