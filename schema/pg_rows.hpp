#pragma once
// A PostgreSQL result row with sqlite::statement's accessors, so that record_rows.hpp decodes the rows of
// both backends with the same code; and a cert_record as the parameters of the statements that write it.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/pg.hpp"
#include "schema/index_types.hpp"

namespace ocspkit::schema {

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

inline std::span<const std::uint8_t> pg_bytes(const bytes& b) { return {b.data(), b.size()}; }

inline pg::param pg_optional(const std::optional<std::int64_t>& v) {
    if (v) return *v;
    return std::monostate{};
}

inline pg::param pg_optional_time(const std::optional<sys_seconds>& t) {
    if (t) return std::int64_t{t->time_since_epoch().count()};
    return std::monostate{};
}

inline pg::param pg_optional_text(const std::optional<std::string>& s) {
    if (s) return std::string_view{*s};
    return std::monostate{};
}

// $1..$11 in the order of rows::cert_columns (without change_seq, which the trigger stamps). The
// parameters point into `r`, which must outlive them.
inline std::array<pg::param, 11> cert_params(const cert_record& r) {
    return {r.issuer_id,
            pg_bytes(r.serial.bytes()),
            pg_optional_time(r.not_before),
            pg_optional_time(r.not_after),
            std::int64_t{static_cast<int>(r.status)},
            pg_optional_time(r.revocation_time),
            r.reason ? pg::param{std::int64_t{static_cast<int>(*r.reason)}} : pg::param{std::monostate{}},
            pg_optional_time(r.invalidity_date),
            pg_optional_text(r.hold_instruction),
            std::string_view{r.subject},
            r.cert_der ? pg::param{pg_bytes(*r.cert_der)} : pg::param{std::monostate{}}};
}

}  // namespace ocspkit::schema
