#pragma once
// Index rows to records, for both backends: the column lists every SELECT uses and their decoding, as
// templates over a row with the accessors of sqlite::statement (is_null, column_int,
// column_optional_int, column_text, column_blob); pg_index.cpp adapts a PostgreSQL result row to them.
// One home, so that a row means the same on SQLite and PostgreSQL.
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "schema/cert_index.hpp"

namespace ocspkit::schema::rows {

// Every SELECT of certificate rows lists these columns in this order; read_cert() decodes them.
constexpr std::string_view cert_columns =
    "issuer_id, serial, not_before, not_after, status, revocation_time, reason, invalidity_date, "
    "hold_instruction, subject, cert_der, change_seq";

// The same columns with cert_der left out (NULL), for reads that list many rows and need no certificate:
// a CRL of a million entries should not carry a million certificates through memory.
constexpr std::string_view cert_columns_without_der =
    "issuer_id, serial, not_before, not_after, status, revocation_time, reason, invalidity_date, "
    "hold_instruction, subject, NULL, change_seq";

constexpr std::string_view issuer_columns =
    "id, subject, key_id, name_hash_sha1, key_hash_sha1, name_hash_sha256, key_hash_sha256, name_hash_sha384, "
    "key_hash_sha384, name_hash_sha512, key_hash_sha512, cert_der, enabled";

template <class Row>
std::optional<sys_seconds> optional_time(const Row& s, int column) {
    if (auto v = s.column_optional_int(column)) return sys_seconds{std::chrono::seconds{*v}};
    return std::nullopt;
}

inline std::optional<std::int64_t> unix_seconds(const std::optional<sys_seconds>& t) {
    if (t) return t->time_since_epoch().count();
    return std::nullopt;
}

template <class Row>
cert_record read_cert(const Row& s) {
    cert_record r;
    r.issuer_id = s.column_int(0);
    auto serial = serial_number::from_bytes(s.column_blob(1));
    // The CHECK constraint on `serial` makes this unreachable unless the file was edited with CHECKs off.
    if (!serial) throw index_error(fmt::format("corrupt certificate row: {}", serial.error_message()));
    r.serial = std::move(*serial);
    r.not_before = optional_time(s, 2);
    r.not_after = optional_time(s, 3);
    const std::int64_t status = s.column_int(4);
    if (status < 0 || status > 2) throw index_error(fmt::format("corrupt certificate row: status {}", status));
    r.status = static_cast<cert_status>(status);
    r.revocation_time = optional_time(s, 5);
    if (auto code = s.column_optional_int(6)) {
        r.reason = reason_from_code(*code);
        if (!r.reason) throw index_error(fmt::format("corrupt certificate row: reason code {}", *code));
    }
    r.invalidity_date = optional_time(s, 7);
    if (!s.is_null(8)) r.hold_instruction = s.column_text(8);
    r.subject = s.column_text(9);
    if (!s.is_null(10)) r.cert_der = s.column_blob(10);
    r.change_seq = s.column_int(11);
    return r;
}

// Every SELECT of audit rows lists these columns in this order; read_audit() decodes them.
constexpr std::string_view audit_columns =
    "id, time, unix_user, sudo_user, command, issuer_id, serial, old_status, new_status, detail";

inline std::optional<std::string_view> status_text(const std::optional<cert_status>& s) {
    if (s) return status_name(*s);
    return std::nullopt;
}

// Who an audit row names when the library's caller did not say: recorded as such rather than guessed.
inline std::string_view recorded_user(const audit_context& actor) {
    return actor.unix_user.empty() ? std::string_view{"(unknown)"} : std::string_view{actor.unix_user};
}
inline std::string_view recorded_command(const audit_context& actor) {
    return actor.command.empty() ? std::string_view{"(library)"} : std::string_view{actor.command};
}

template <class Row>
std::optional<cert_status> status_column(const Row& s, int column) {
    if (s.is_null(column)) return std::nullopt;
    return status_from_name(s.column_text(column));
}

template <class Row>
audit_record read_audit(const Row& s) {
    audit_record r;
    r.id = s.column_int(0);
    r.time = sys_seconds{std::chrono::seconds{s.column_int(1)}};
    r.unix_user = s.column_text(2);
    if (!s.is_null(3)) r.sudo_user = s.column_text(3);
    r.command = s.column_text(4);
    r.entry.issuer_id = s.column_optional_int(5);
    if (!s.is_null(6)) {
        auto serial = serial_number::from_bytes(s.column_blob(6));
        if (serial) r.entry.serial = std::move(*serial);
    }
    r.entry.old_status = status_column(s, 7);
    r.entry.new_status = status_column(s, 8);
    r.entry.detail = s.column_text(9);
    return r;
}

template <class Row>
issuer_record read_issuer(const Row& s) {
    issuer_record r;
    r.id = s.column_int(0);
    r.subject = s.column_text(1);
    r.key_id = s.column_blob(2);
    for (std::size_t i = 0; i < all_hash_algs.size(); ++i) {
        const int column = 3 + 2 * static_cast<int>(i);
        r.hashes.by_alg[i].name_hash = s.column_blob(column);
        r.hashes.by_alg[i].key_hash = s.column_blob(column + 1);
    }
    r.cert_der = s.column_blob(11);
    r.enabled = s.column_int(12) != 0;
    return r;
}

}  // namespace ocspkit::schema::rows
