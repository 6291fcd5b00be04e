#include "schema/import_rule.hpp"

#include <fmt/format.h>

#include "common/asn1_time.hpp"

namespace ocspkit::schema {

namespace {

std::string details(const cert_record& r) {
    std::string text = r.status == cert_status::hold ? std::string{"certificateHold"}
                       : r.reason                     ? std::string{reason_name(*r.reason)}
                                                      : std::string{"no reason code"};
    if (r.revocation_time) text += fmt::format(" since {}", to_iso8601(*r.revocation_time));
    if (r.invalidity_date) text += fmt::format(", invalid since {}", to_iso8601(*r.invalidity_date));
    if (r.hold_instruction) text += fmt::format(", instruction {}", *r.hold_instruction);
    return text;
}

std::string where_index(const cert_record& r) {
    switch (r.status) {
    case cert_status::good: return "good in the index";
    case cert_status::revoked: return fmt::format("revoked in the index ({})", details(r));
    case cert_status::hold: return fmt::format("on hold in the index ({})", details(r));
    }
    return "unknown in the index";
}

constexpr std::string_view force_hint = "kept (pass --force to take the file's status)";
constexpr std::string_view never_hint =
    "kept (a revocation other than certificateHold is never lifted or weakened, not even with --force)";
constexpr std::string_view forced = "the file's status taken (--force)";

import_decision conflict(const cert_record& index_row, const cert_record& file_row, std::string_view index_part,
                         bool force, bool permanent) {
    const std::string head = fmt::format("serial {} is {} but {} in the file", index_row.serial.to_hex(), index_part,
                                         describe_status(file_row));
    if (permanent) return {import_resolution::keep_index, fmt::format("{}; {}", head, never_hint)};
    if (force) return {import_resolution::take_file, fmt::format("{}; {}", head, forced)};
    return {import_resolution::keep_index, fmt::format("{}; {}", head, force_hint)};
}

}  // namespace

std::string describe_status(const cert_record& r) {
    switch (r.status) {
    case cert_status::good: return "good";
    case cert_status::revoked: return fmt::format("revoked ({})", details(r));
    case cert_status::hold: return fmt::format("on hold ({})", details(r));
    }
    return "unknown";
}

bool same_revocation(const cert_record& a, const cert_record& b) {
    return a.status == b.status && a.revocation_time == b.revocation_time && a.reason == b.reason &&
           a.invalidity_date == b.invalidity_date && a.hold_instruction == b.hold_instruction;
}

import_decision decide_import(const cert_record& index_row, const cert_record& file_row, bool force,
                              std::optional<sys_seconds> hold_lifted_at) {
    if (same_revocation(index_row, file_row)) return {};
    switch (index_row.status) {
    case cert_status::good:
        if (file_row.status == cert_status::hold && hold_lifted_at && file_row.revocation_time &&
            *hold_lifted_at >= *file_row.revocation_time) {
            return conflict(index_row, file_row,
                            fmt::format("good in the index (hold lifted at {})", to_iso8601(*hold_lifted_at)), force,
                            false);
        }
        return {};  // a new revocation or hold, or the same good row with other updates
    case cert_status::hold:
        if (file_row.status == cert_status::revoked) return {};  // a hold made permanent
        return conflict(index_row, file_row, where_index(index_row), force, false);
    case cert_status::revoked:
        return conflict(index_row, file_row, where_index(index_row), force, file_row.status != cert_status::revoked);
    }
    return {};
}

}  // namespace ocspkit::schema
