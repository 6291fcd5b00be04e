#pragma once
// `ocspctl import-cfssl`: the certificates of a CFSSL CA from its certdb (CFSSL's `certificates` table,
// in a SQLite file or PostgreSQL), with their status, into the index. One write transaction; idempotent
// (a second run changes nothing); the index stays the source of truth for revocations (import_rule.hpp):
// a row that says less than the index is a conflict and the index keeps its status.
//
// CFSSL's columns: serial_number (decimal text), authority_key_identifier (lower-case hex, empty in the
// rows Debian's cfssl 1.2 writes), ca_label, status ("good" or "revoked"), reason (CRLReason code),
// expiry, revoked_at (a timestamp; Go's zero time when never revoked), pem. Newer CFSSL versions add
// issued_at, not_before, metadata, sans and common_name, which are not needed here.
//
// Issuers are matched by authority key identifier = a registered CA's subject key identifier; a row
// without one by the certificate's own authorityKeyIdentifier, else by the registered CA whose key
// verifies its signature. Rows of CAs that are not registered are left out and counted per CA.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "schema/import.hpp"
#include "schema/index_store.hpp"

namespace ocspkit::schema {

// One row of CFSSL's certificates table, as stored.
struct cfssl_row {
    std::string serial_number;             // decimal
    std::string authority_key_identifier;  // hex, may be empty
    std::string status;
    std::optional<std::int64_t> reason;
    std::optional<std::string> revoked_at;       // as stored, for messages
    std::optional<std::int64_t> revoked_at_unix;  // absent: NULL, unreadable, or Go's zero time
    std::string pem;
};

// Reads every row of `certdb` (a SQLite file's path or a PostgreSQL connection string), in serial
// order. Throws database_error naming the database (password redacted) and the fix when it cannot be
// opened or has no CFSSL certificates table.
void read_cfssl_certdb(const std::string& certdb, const std::function<void(const cfssl_row&)>& visit);

struct cfssl_import_options {
    bool skip_bad = false;  // as import-index: report bad rows and import the rest
    bool force = false;     // as import-index: take the certdb's status in a conflict where the rule allows
    std::size_t max_errors_kept = 100;
};

struct cfssl_import_report {
    import_report rows;  // counts, bad rows ("row SERIAL: why"), conflicts
    // CAs found in the certdb that are not registered: "authority key identifier AB12...: 3 rows".
    std::vector<std::string> unregistered;
    std::size_t unregistered_rows = 0;
};

cfssl_import_report import_cfssl(index_store& index, const std::string& certdb, const cfssl_import_options& options);

// The index row for one certdb row whose certificate `cert` was issued by `issuer` (`ca`): the
// certificate's data, and the status, reason and revocation time the row says. errc::malformed for a
// status other than good or revoked, a revoked row without a readable revoked_at, a serial that differs
// from the certificate's, or a reason code outside RFC 5280's.
result<cert_record> record_of_cfssl_row(const cfssl_row& row, X509* cert, X509* ca, const issuer_record& issuer);

}  // namespace ocspkit::schema
