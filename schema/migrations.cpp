#include "schema/migrations.hpp"

#include <array>

namespace ocspkit::schema {

namespace {

// Version 1.
//
// Times are unix seconds (UTC). Serials are the canonical big-endian magnitude (common/serial.hpp): at
// most 20 octets (RFC 5280 §4.1.2.2), no leading zero octet, so that one number has one key.
//
// Change tracking. change_counter.value only grows. Our writers (cert_index::write_batch) take the write
// lock, stamp every row they touch with value + 1 and store value + 1 when they commit: one number per
// transaction. Our connections run with triggers off (SQLITE_DBCONFIG_ENABLE_TRIGGER) because they do
// this in code. Any other client (the sqlite3 CLI, a script) fires the triggers: each inserted or updated
// row bumps the counter and is stamped with the new value; a deletion bumps the counter and leaves a
// tombstone. Readers (the responder) poll the counter and ask for rows stamped after the last value they
// saw.
//
// CHECKs use BETWEEN rather than IN (...): SQLite builds an ephemeral table for a constant IN list on
// every execution of an INSERT, which cost a third of a bulk import.
//
// The CHECK constraints repeat cert_index's consistency rules so that foreign writers cannot store a
// revoked row without a revocation time, which no OCSP response could express (RFC 6960 §4.2.1
// RevokedInfo.revocationTime is mandatory).
constexpr std::string_view v1_sql = R"sql(
CREATE TABLE change_counter (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL CHECK (value >= 0)
) STRICT;
INSERT INTO change_counter (id, value) VALUES (1, 0);

CREATE TRIGGER change_counter_no_delete BEFORE DELETE ON change_counter
BEGIN
    SELECT RAISE(ABORT, 'the change_counter row must not be deleted');
END;
CREATE TRIGGER change_counter_monotonic BEFORE UPDATE ON change_counter
WHEN NEW.value < OLD.value
BEGIN
    SELECT RAISE(ABORT, 'change_counter.value must not decrease');
END;

-- One row per CA whose certificates we answer for. The hashes are the CertID material of RFC 6960
-- §4.1.1 under every algorithm a client may pick, computed once when the issuer is added.
CREATE TABLE issuers (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subject          TEXT    NOT NULL,
    subject_der      BLOB    NOT NULL,
    key_id           BLOB    NOT NULL,
    name_hash_sha1   BLOB    NOT NULL,
    key_hash_sha1    BLOB    NOT NULL,
    name_hash_sha256 BLOB    NOT NULL,
    key_hash_sha256  BLOB    NOT NULL,
    name_hash_sha384 BLOB    NOT NULL,
    key_hash_sha384  BLOB    NOT NULL,
    name_hash_sha512 BLOB    NOT NULL,
    key_hash_sha512  BLOB    NOT NULL,
    cert_der         BLOB    NOT NULL,
    enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled BETWEEN 0 AND 1),
    created_at       INTEGER NOT NULL DEFAULT (unixepoch()),
    UNIQUE (name_hash_sha256, key_hash_sha256)
) STRICT;

CREATE TRIGGER issuers_changed_insert AFTER INSERT ON issuers
BEGIN
    UPDATE change_counter SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER issuers_changed_update AFTER UPDATE ON issuers
BEGIN
    UPDATE change_counter SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER issuers_changed_delete AFTER DELETE ON issuers
BEGIN
    UPDATE change_counter SET value = value + 1 WHERE id = 1;
END;

-- status: 0 good, 1 revoked, 2 on hold (revoked with reason certificateHold, RFC 5280 §5.3.1, the only
-- revocation that can be undone). reason is the CRLReason code; removeFromCRL (8) is not stored because
-- it means "no longer on hold", i.e. good.
CREATE TABLE certificates (
    issuer_id        INTEGER NOT NULL REFERENCES issuers (id),
    serial           BLOB    NOT NULL CHECK (length(serial) BETWEEN 1 AND 20
                                             AND (length(serial) = 1 OR substr(serial, 1, 1) <> x'00')),
    not_before       INTEGER,
    not_after        INTEGER,
    status           INTEGER NOT NULL DEFAULT 0 CHECK (status BETWEEN 0 AND 2),
    revocation_time  INTEGER,
    reason           INTEGER CHECK (reason BETWEEN 0 AND 6 OR reason BETWEEN 9 AND 10),
    invalidity_date  INTEGER,
    hold_instruction TEXT,
    subject          TEXT    NOT NULL DEFAULT '',
    cert_der         BLOB,
    change_seq       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (issuer_id, serial),
    CHECK ((status = 0) = (revocation_time IS NULL)),
    CHECK ((status = 2) = (reason IS 6)),
    CHECK (status <> 0 OR (reason IS NULL AND invalidity_date IS NULL)),
    CHECK (hold_instruction IS NULL OR status = 2)
) STRICT, WITHOUT ROWID;

CREATE INDEX certificates_change_seq ON certificates (change_seq);

-- Foreign key enforcement is off by default in other SQLite clients; an issuer with certificates would
-- leave orphans behind. Disabling is the supported way to stop answering for a CA.
CREATE TRIGGER issuers_no_orphans BEFORE DELETE ON issuers
WHEN EXISTS (SELECT 1 FROM certificates WHERE issuer_id = OLD.id)
BEGIN
    SELECT RAISE(ABORT, 'issuer still has certificates; disable it instead of deleting it');
END;

CREATE TABLE deleted_certificates (
    issuer_id  INTEGER NOT NULL,
    serial     BLOB    NOT NULL,
    change_seq INTEGER NOT NULL,
    PRIMARY KEY (issuer_id, serial)
) STRICT, WITHOUT ROWID;

CREATE INDEX deleted_certificates_change_seq ON deleted_certificates (change_seq);

CREATE TRIGGER certificates_stamp_insert AFTER INSERT ON certificates
BEGIN
    UPDATE change_counter SET value = value + 1 WHERE id = 1;
    UPDATE certificates SET change_seq = (SELECT value FROM change_counter WHERE id = 1)
     WHERE issuer_id = NEW.issuer_id AND serial = NEW.serial;
END;

-- The stamping UPDATE of these two triggers fires this one again (recursive_triggers only stops a trigger
-- from firing itself); it is recognised as raising change_seq to the counter's current value.
CREATE TRIGGER certificates_stamp_update AFTER UPDATE ON certificates
WHEN NOT (NEW.change_seq > OLD.change_seq AND NEW.change_seq = (SELECT value FROM change_counter WHERE id = 1))
BEGIN
    UPDATE change_counter SET value = value + 1 WHERE id = 1;
    UPDATE certificates SET change_seq = (SELECT value FROM change_counter WHERE id = 1)
     WHERE issuer_id = NEW.issuer_id AND serial = NEW.serial;
END;

-- An UPDATE that changes the key makes the old key disappear, which readers must hear about too.
CREATE TRIGGER certificates_rekey AFTER UPDATE OF issuer_id, serial ON certificates
WHEN NEW.issuer_id IS NOT OLD.issuer_id OR NEW.serial IS NOT OLD.serial
BEGIN
    UPDATE change_counter SET value = value + 1 WHERE id = 1;
    INSERT OR REPLACE INTO deleted_certificates (issuer_id, serial, change_seq)
    VALUES (OLD.issuer_id, OLD.serial, (SELECT value FROM change_counter WHERE id = 1));
END;

CREATE TRIGGER certificates_delete AFTER DELETE ON certificates
BEGIN
    UPDATE change_counter SET value = value + 1 WHERE id = 1;
    INSERT OR REPLACE INTO deleted_certificates (issuer_id, serial, change_seq)
    VALUES (OLD.issuer_id, OLD.serial, (SELECT value FROM change_counter WHERE id = 1));
END;
)sql";

// Version 2: who changed what, when. One row per change, written by ocspctl in the transaction of the
// change (cert_index_audit.cpp): a certificate inserted or changed (old -> new status), an issuer added,
// enabled or disabled, the schema created or migrated, a restore. Statuses are the words "good",
// "revoked", "hold" so that the table reads well in the sqlite3 CLI; serial is the canonical blob of
// the certificates table. Append-only: the triggers refuse changes to other SQLite clients (ocspctl's
// connections run with triggers off and never update or delete audit rows). No index on time: rows are
// appended in time order, and a million-row import should not pay for a second index per row.
constexpr std::string_view v2_sql = R"sql(
CREATE TABLE audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    time       INTEGER NOT NULL,
    unix_user  TEXT    NOT NULL,
    sudo_user  TEXT,
    command    TEXT    NOT NULL,
    issuer_id  INTEGER,
    serial     BLOB,
    old_status TEXT CHECK (old_status IS NULL OR old_status = 'good' OR old_status = 'revoked' OR old_status = 'hold'),
    new_status TEXT CHECK (new_status IS NULL OR new_status = 'good' OR new_status = 'revoked' OR new_status = 'hold'),
    detail     TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX audit_serial ON audit (serial, issuer_id) WHERE serial IS NOT NULL;

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only');
END;
)sql";

// Version 3: the last CRL number issued per issuer (RFC 5280 §5.2.3: a monotonically increasing
// sequence per CRL issuer and scope). `ocspctl crl` and responders that issue CRLs take the next number
// here in one write transaction with the revoked certificates they list, so two issuers of one CA's CRLs
// never hand out a number twice or list older content under a higher number. Not change-tracked: a CRL
// number is not certificate state, and responders need not re-read anything when it moves. The triggers
// hold foreign writers to the same rule that our code keeps (our connections run with triggers off).
constexpr std::string_view v3_sql = R"sql(
CREATE TABLE crl_numbers (
    issuer_id   INTEGER PRIMARY KEY REFERENCES issuers (id),
    last_number INTEGER NOT NULL CHECK (last_number > 0),
    issued_at   INTEGER NOT NULL
) STRICT;

CREATE TRIGGER crl_numbers_monotonic BEFORE UPDATE ON crl_numbers
WHEN NEW.last_number <= OLD.last_number
BEGIN
    SELECT RAISE(ABORT, 'a CRL number must increase (RFC 5280 §5.2.3)');
END;
CREATE TRIGGER crl_numbers_no_delete BEFORE DELETE ON crl_numbers
BEGIN
    SELECT RAISE(ABORT, 'CRL numbers must not be deleted: the next CRL would reuse one');
END;
)sql";

// Version 4: the last CRL imported per issuer (`ocspctl import-crl`, crl/crl_import.hpp), apart from
// crl_numbers (the CA's numbering is not ours). Numbers are canonical big-endian magnitudes as serials
// are (1 to 20 octets), so (length, bytes) order is numeric order. An import never moves the number
// back (a replayed or older CRL would lift holds the CA placed later); the triggers hold foreign writers
// to that too. Not change-tracked: the certificate rows an import changes are.
constexpr std::string_view v4_sql = R"sql(
CREATE TABLE crl_imports (
    issuer_id        INTEGER PRIMARY KEY REFERENCES issuers (id),
    last_number      BLOB    NOT NULL CHECK (length(last_number) BETWEEN 1 AND 20),
    last_full_number BLOB    NOT NULL CHECK (length(last_full_number) BETWEEN 1 AND 20),
    this_update      INTEGER NOT NULL,
    next_update      INTEGER,
    imported_at      INTEGER NOT NULL
) STRICT;

CREATE TRIGGER crl_imports_monotonic BEFORE UPDATE ON crl_imports
WHEN length(NEW.last_number) < length(OLD.last_number)
  OR (length(NEW.last_number) = length(OLD.last_number) AND NEW.last_number < OLD.last_number)
BEGIN
    SELECT RAISE(ABORT, 'an imported CRL number must not go backwards (RFC 5280 §5.2.3)');
END;
CREATE TRIGGER crl_imports_no_delete BEFORE DELETE ON crl_imports
BEGIN
    SELECT RAISE(ABORT, 'the last imported CRL must not be forgotten: an older CRL could then be imported');
END;
)sql";

constexpr std::array<migration, 4> all{{
    {1, v1_sql},
    {2, v2_sql},
    {3, v3_sql},
    {4, v4_sql},
}};

}  // namespace

std::span<const migration> migrations() { return all; }

}  // namespace ocspkit::schema
