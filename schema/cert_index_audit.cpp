// cert_index's audit table (schema version 2): the rows every change writes in its own transaction, and
// the queries of `ocspctl audit`. Part of the repository class (house rule 8), in its own file by job.
#include <fmt/format.h>

#include "schema/cert_index.hpp"
#include "schema/record_rows.hpp"

namespace ocspkit::schema {

namespace {

using rows::status_text;

// A bound statement is reset (not cleared) when the scope ends, so a cached one can be stepped again.
struct reset_on_exit {
    sqlite::statement& s;
    ~reset_on_exit() { s.reset(); }
};

}  // namespace

const std::string_view audit_insert_sql =
    "INSERT INTO audit (time, unix_user, sudo_user, command, issuer_id, serial, old_status, new_status, detail) "
    "VALUES (coalesce(?1, unixepoch()), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

void write_audit(sqlite::statement& insert, const audit_context& actor, const audit_entry& entry) {
    reset_on_exit guard{insert};
    if (actor.time) {
        insert.bind(1, std::int64_t{actor.time->time_since_epoch().count()});
    } else {
        insert.bind_null(1);
    }
    insert.bind(2, rows::recorded_user(actor));
    if (actor.sudo_user) {
        insert.bind(3, std::string_view{*actor.sudo_user});
    } else {
        insert.bind_null(3);
    }
    insert.bind(4, rows::recorded_command(actor));
    insert.bind(5, entry.issuer_id);
    if (entry.serial) {
        insert.bind(6, std::span<const std::uint8_t>(entry.serial->bytes()));
    } else {
        insert.bind_null(6);
    }
    if (auto t = status_text(entry.old_status)) {
        insert.bind(7, *t);
    } else {
        insert.bind_null(7);
    }
    if (auto t = status_text(entry.new_status)) {
        insert.bind(8, *t);
    } else {
        insert.bind_null(8);
    }
    insert.bind(9, std::string_view{entry.detail});
    insert.run();
}

std::vector<audit_record> cert_index::list_audit(const audit_filter& filter) const {
    auto s = conn_->prepare(fmt::format(
        "SELECT {} FROM audit WHERE (?1 IS NULL OR time >= ?1) AND (?2 IS NULL OR serial = ?2) AND "
        "(?3 IS NULL OR issuer_id = ?3) ORDER BY id",
        rows::audit_columns));
    if (filter.since) {
        s.bind(1, std::int64_t{filter.since->time_since_epoch().count()});
    } else {
        s.bind_null(1);
    }
    if (filter.serial) {
        s.bind(2, std::span<const std::uint8_t>(filter.serial->bytes()));
    } else {
        s.bind_null(2);
    }
    s.bind(3, filter.issuer_id);
    std::vector<audit_record> out;
    while (s.step()) out.push_back(rows::read_audit(s));
    return out;
}

std::optional<sys_seconds> cert_index::last_hold_lift(std::int64_t issuer_id, const serial_number& serial) const {
    auto s = conn_->prepare(
        "SELECT max(time) FROM audit WHERE serial = ?2 AND issuer_id = ?1 AND old_status = 'hold' AND "
        "new_status = 'good'");
    s.bind(1, issuer_id);
    s.bind(2, std::span<const std::uint8_t>(serial.bytes()));
    if (!s.step() || s.is_null(0)) return std::nullopt;
    return sys_seconds{std::chrono::seconds{s.column_int(0)}};
}

}  // namespace ocspkit::schema
