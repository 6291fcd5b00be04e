// Helpers shared by the ocspctl commands: opening the index, reading serials and issuers as people type
// them, and the texts that describe a row.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include <fmt/format.h>

#include "common/asn1_time.hpp"
#include "common/pg.hpp"
#include "common/pem.hpp"
#include "schema/ocspctl/internal.hpp"

namespace ocspkit::ocspctl {

namespace fs = std::filesystem;
using schema::index_store;
using schema::cert_record;
using schema::issuer_record;

void bad_input(std::string message) { throw command_error(exit_status::bad_input, std::move(message)); }
void not_found(std::string message) { throw command_error(exit_status::not_found, std::move(message)); }
void database_failure(std::string message) { throw command_error(exit_status::database_error, std::move(message)); }

bool db_options::is_postgresql() const noexcept {
    return pg::database_kind_of(path) == pg::database_kind::postgresql;
}

std::string db_options::name() const { return is_postgresql() ? pg::redact_conninfo(path) : path; }

void db_options::require_sqlite_file(std::string_view command, std::string_view postgresql_instead) const {
    if (is_postgresql()) {
        bad_input(fmt::format("{} works on a SQLite file; the index is in PostgreSQL at {}: {}", command, name(),
                              postgresql_instead));
    }
}

std::unique_ptr<schema::index_store> db_options::open(sqlite::open_mode mode) const {
    if (path.empty()) bad_input("no database: pass --db PATH (or a PostgreSQL connection string) or set OCSPKIT_DB");
    if (is_postgresql() && busy_timeout_given) {
        bad_input("--busy-timeout applies to SQLite files; on PostgreSQL put lock_timeout in the connection string, "
                  "e.g. options='-c lock_timeout=5000'");
    }
    return schema::open_index_store(path, mode, audit, std::chrono::milliseconds{busy_timeout_ms});
}

namespace {

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// The digits of what was typed, without `serial=` and blanks: "1004" for " serial=1004".
std::string bare_digits(std::string_view typed) {
    std::string out;
    for (char c : typed) {
        if (std::isdigit(static_cast<unsigned char>(c))) {
            out.push_back(c);
        } else if (c == '=' ) {
            out.clear();  // drop a "serial=" prefix
        } else if (c != ' ' && c != '\t') {
            return {};
        }
    }
    return out;
}

}  // namespace

serial_number parse_serial_arg(const std::string& text, bool decimal) {
    auto serial = serial_number::parse(text, decimal);
    if (!serial) {
        bad_input(fmt::format("invalid {} (hexadecimal as `openssl x509 -noout -serial` prints it, e.g. 1004, "
                              "serial=1004, 10:04 or 0x1004; decimal with --decimal)",
                              serial.error_message()));
    }
    return std::move(*serial);
}

std::string not_in_index_message(const serial_number& serial, const std::string& typed, bool decimal,
                                 std::string_view where) {
    std::string text = fmt::format("serial {} is not in the index{}", serial.to_hex(), where);
    const std::string digits = bare_digits(typed);
    if (!decimal && all_digits(digits)) {
        // People copy serials from `openssl x509 -text`, which prints small ones in decimal.
        if (auto as_decimal = serial_number::from_decimal(digits)) {
            text += fmt::format("; serials are hexadecimal: if {} is decimal, it is {} in hex (did you mean "
                                "--decimal?)",
                                digits, as_decimal->to_hex());
        }
    }
    return text;
}

issuer_record resolve_issuer(const index_store& index, const std::string& ref) {
    std::error_code ec;
    if (all_digits(ref) && !fs::exists(ref, ec)) {
        if (ref.size() > 18) not_found(fmt::format("issuer ID {} is not registered", ref));
        auto rec = index.find_issuer(std::stoll(ref));
        if (!rec) not_found(fmt::format("issuer ID {} is not registered; see `ocspctl issuer list`", ref));
        return *rec;
    }
    auto cert = load_certificate(ref);
    auto rec = index.find_issuer_by_cert(cert.get());
    if (!rec) {
        not_found(fmt::format("{}: issuer {} is not registered; add it with `ocspctl issuer add {}`", ref,
                              subject_rfc2253(cert.get()), ref));
    }
    return *rec;
}

std::string issuer_label(const index_store& index, std::int64_t id) {
    auto rec = index.find_issuer(id);
    return rec ? fmt::format("{} ({})", id, rec->subject) : std::to_string(id);
}

cert_record find_target(const index_store& index, const serial_number& serial, const std::string& issuer_ref,
                        const std::string& typed, bool decimal) {
    if (!issuer_ref.empty()) {
        const auto issuer = resolve_issuer(index, issuer_ref);
        auto rec = index.find_certificate(issuer.id, serial);
        if (!rec) {
            not_found(not_in_index_message(serial, typed, decimal,
                                           fmt::format(" of issuer {}", issuer_label(index, issuer.id))));
        }
        return *rec;
    }
    auto found = index.find_certificates_by_serial(serial);
    if (found.empty()) {
        not_found(not_in_index_message(serial, typed, decimal) +
                  "; import it first (import-index or import-certs)");
    }
    if (found.size() > 1) {
        std::vector<std::string> labels;
        for (const auto& r : found) labels.push_back(issuer_label(index, r.issuer_id));
        bad_input(fmt::format("serial {} is known under issuers {}; pass --issuer", serial.to_hex(),
                              fmt::join(labels, ", ")));
    }
    return std::move(found.front());
}

std::string describe_revocation(const cert_record& rec) {
    std::string text = rec.reason ? fmt::format("with reason {}", schema::reason_name(*rec.reason))
                                  : std::string{"(no reason code)"};
    if (rec.revocation_time) text += fmt::format(" since {}", to_iso8601(*rec.revocation_time));
    return text;
}

std::string optional_time(const std::optional<sys_seconds>& t) { return t ? to_iso8601(*t) : std::string{"-"}; }

sys_seconds parse_time_option(const std::string& text, std::string_view what, sys_seconds now) {
    auto t = parse_user_time(text, now);
    if (!t) {
        bad_input(fmt::format("invalid {} '{}' (use ISO 8601 like 2026-01-31T12:00:00Z, YYMMDDHHMMSSZ, "
                              "YYYYMMDDHHMMSSZ, @UNIXSECONDS or now)",
                              what, text));
    }
    return *t;
}

}  // namespace ocspkit::ocspctl
