#pragma once
// The certificate index's schema on PostgreSQL: the same tables, constraints and change tracking as the
// SQLite schema (migrations.hpp), version for version, so that both backends mean the same thing.
//
// Differences that follow from the engines:
//   * Change tracking runs in triggers for every writer, ours included (PostgreSQL cannot switch
//     triggers off per connection without superuser rights). A BEFORE row trigger stamps each inserted or
//     updated certificate with the transaction's change number, taken once per transaction from
//     change_counter (UPDATE ... RETURNING, remembered in the transaction-local setting
//     ocspkit.change_seq): one number per transaction, as in SQLite. The counter row's lock is held to
//     commit, so writers take numbers in commit order and a reader polling the counter (on the primary
//     or on a hot standby, where LISTEN/NOTIFY does not reach) never sees a number before the rows that
//     carry it.
//   * The version lives in the table ocspkit_schema (SQLite: PRAGMA user_version), whose `application`
//     column plays PRAGMA application_id's part; migrations run under an advisory lock.
#include <span>

#include "common/pg.hpp"
#include "schema/migrations.hpp"

namespace ocspkit::schema {

std::span<const migration> pg_migrations();

// Brings the database to the newest version this build knows, each migration in one transaction.
// Returns the version it found (0: empty database). Throws schema_error for a database of another
// application or with a newer schema, and pg::pg_error when PostgreSQL refuses.
int pg_migrate(pg::connection& db);

// The version of the schema in `db`; 0 when it has none.
int pg_schema_version(pg::connection& db);

}  // namespace ocspkit::schema
