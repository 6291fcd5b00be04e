#pragma once
// The index's records and errors, shared by both backends (cert_index on SQLite, pg_index on PostgreSQL)
// and by their interfaces (index_reader.hpp, index_store.hpp). cert_index.hpp includes this header, so
// code that includes cert_index.hpp sees everything here as before.
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/cert_id.hpp"
#include "common/result.hpp"
#include "common/serial.hpp"

namespace ocspkit::schema {
using sys_seconds = std::chrono::sys_seconds;

// The newest schema version this build knows; a database with a higher user_version is refused.
// Version 2 added the append-only audit table, version 3 the CRL numbers, version 4 the last CRL
// imported per issuer (`ocspctl import-crl`).
inline constexpr int current_schema_version = 4;

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

// What a CRL is made of, read in the write transaction that took its number (index_store::take_crl_snapshot).
struct crl_snapshot {
    std::int64_t crl_number = 0;  // this CRL's number: greater than every number taken before for the issuer
    std::int64_t change_seq = 0;  // the index's change counter the rows were read at
    bool issuer_enabled = true;
    std::vector<cert_record> revoked;  // status revoked or hold, in numeric serial order; cert_der left out
};

// The last CRL imported for an issuer (`ocspctl import-crl`, crl/crl_import.hpp), kept apart from the
// numbers of the CRLs we issue (crl_snapshot): the CA's numbering is its own. CRL numbers are INTEGERs of
// up to 20 octets (RFC 5280 §5.2.3), held in serial_number's canonical form.
struct crl_import_state {
    serial_number last_number = *serial_number::from_hex("00");       // the newest CRL imported, full or delta
    serial_number last_full_number = *serial_number::from_hex("00");  // the newest full CRL imported
    sys_seconds this_update{};                                       // of the newest CRL imported
    std::optional<sys_seconds> next_update;
    sys_seconds imported_at{};
};

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

}  // namespace ocspkit::schema
