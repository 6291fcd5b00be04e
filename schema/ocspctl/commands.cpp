#include "schema/ocspctl/commands.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <openssl/x509v3.h>

#include "common/asn1_time.hpp"
#include "common/openssl_error.hpp"
#include "common/pem.hpp"
#include "schema/cert_index.hpp"
#include "schema/import.hpp"
#include "schema/index_txt.hpp"

namespace ocspkit::ocspctl {

namespace {

using schema::cert_index;
using schema::cert_record;
using schema::cert_status;
using schema::issuer_record;
using schema::revocation_reason;
namespace fs = std::filesystem;

constexpr std::string_view exit_footer =
    "Exit status: 0 success; 1 usage error, bad input or refused change; 2 serial or issuer not found;\n"
    "3 database error (missing, locked by another writer, newer schema).\n"
    "The database is --db PATH or the environment variable OCSPKIT_DB.";

// Expected failures of a command, carried to run() which prints them and picks the exit status.
class command_error : public std::runtime_error {
public:
    command_error(exit_status status, std::string message)
        : std::runtime_error(std::move(message)), status_(status) {}
    exit_status status() const noexcept { return status_; }

private:
    exit_status status_;
};

[[noreturn]] void bad_input(std::string message) { throw command_error(exit_status::bad_input, std::move(message)); }
[[noreturn]] void not_found(std::string message) { throw command_error(exit_status::not_found, std::move(message)); }

struct db_options {
    std::string path;
    int busy_timeout_ms = 5000;

    cert_index open(sqlite::open_mode mode) const {
        if (path.empty()) bad_input("no database: pass --db PATH or set OCSPKIT_DB");
        return cert_index::open(path, mode, std::chrono::milliseconds{busy_timeout_ms});
    }
};

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// "ID|CA.pem": a number names a registered issuer unless a file of that name exists.
issuer_record resolve_issuer(const cert_index& index, const std::string& ref) {
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

serial_number parse_serial(const std::string& text) {
    auto serial = serial_number::from_hex(text);
    if (!serial) bad_input(fmt::format("invalid {}", serial.error_message()));
    return std::move(*serial);
}

std::string issuer_label(const cert_index& index, std::int64_t id) {
    auto rec = index.find_issuer(id);
    return rec ? fmt::format("{} ({})", id, rec->subject) : std::to_string(id);
}

// The one row a serial names: under --issuer if given, else under the only issuer that has it.
cert_record find_target(const cert_index& index, const serial_number& serial, const std::string& issuer_ref) {
    if (!issuer_ref.empty()) {
        const auto issuer = resolve_issuer(index, issuer_ref);
        auto rec = index.find_certificate(issuer.id, serial);
        if (!rec) not_found(fmt::format("serial {} is not in the index of issuer {}", serial.to_hex(), issuer_label(index, issuer.id)));
        return *rec;
    }
    auto found = index.find_certificates_by_serial(serial);
    if (found.empty()) {
        not_found(fmt::format("serial {} is not in the index; import it first (import-index or import-certs)",
                              serial.to_hex()));
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

void print_record(std::ostream& out, const cert_index& index, const cert_record& rec) {
    const auto line = [&out](std::string_view key, const std::string& value) {
        out << fmt::format("{:<17} {}\n", key, value);
    };
    line("serial", rec.serial.to_hex());
    line("issuer", issuer_label(index, rec.issuer_id));
    line("subject", rec.subject.empty() ? std::string{"-"} : rec.subject);
    line("status", std::string{schema::status_name(rec.status)});
    if (rec.status != cert_status::good) {
        line("revocation time", optional_time(rec.revocation_time));
        line("reason", rec.reason ? std::string{schema::reason_name(*rec.reason)} : std::string{"(none)"});
    }
    if (rec.invalidity_date) line("invalidity date", to_iso8601(*rec.invalidity_date));
    if (rec.hold_instruction) line("hold instruction", *rec.hold_instruction);
    line("not before", optional_time(rec.not_before));
    line("not after", optional_time(rec.not_after));
    line("certificate", rec.cert_der ? fmt::format("stored ({} bytes DER)", rec.cert_der->size())
                                     : std::string{"not stored"});
    line("change sequence", std::to_string(rec.change_seq));
}

sys_seconds parse_time_option(const std::string& text, std::string_view what, sys_seconds now) {
    auto t = parse_user_time(text, now);
    if (!t) {
        bad_input(fmt::format("invalid {} '{}' (use ISO 8601 like 2026-01-31T12:00:00Z, YYMMDDHHMMSSZ, "
                              "YYYYMMDDHHMMSSZ, @UNIXSECONDS or now)",
                              what, text));
    }
    return *t;
}

void print_errors(std::ostream& err, const schema::import_report& report) {
    for (const auto& e : report.errors) err << e << '\n';
    if (report.bad > report.errors.size()) err << fmt::format("... and {} more\n", report.bad - report.errors.size());
}

std::string summary(const schema::import_counts& c) {
    return fmt::format("{} inserted, {} updated, {} unchanged, {} skipped", c.inserted, c.updated, c.unchanged,
                       c.skipped);
}

// --- commands --------------------------------------------------------------------------------------------

struct context {
    std::ostream& out;
    std::ostream& err;
    sys_seconds now;
    db_options db;
};

int cmd_init(context& c) {
    std::error_code ec;
    const bool existed = fs::exists(c.db.path, ec) && fs::file_size(c.db.path, ec) > 0;
    auto index = c.db.open(sqlite::open_mode::read_write_create);
    if (existed) {
        c.out << fmt::format("{}: ocspkit database, schema version {}\n", c.db.path, index.schema_version());
    } else {
        c.out << fmt::format("{}: created, schema version {}\n", c.db.path, index.schema_version());
    }
    return 0;
}

int cmd_issuer_add(context& c, const std::string& file) {
    auto cert = load_certificate(file);
    // X509_check_ca is 0 only for certificates that cannot sign others: no CA:TRUE, or keyUsage without
    // keyCertSign. Old v1 self-signed roots pass.
    if (X509_check_ca(cert.get()) == 0) {
        bad_input(fmt::format("{}: {} is not a CA certificate (basicConstraints CA:TRUE or keyCertSign missing)",
                              file, subject_rfc2253(cert.get())));
    }
    auto index = c.db.open(sqlite::open_mode::read_write);
    const auto id = index.add_issuer(cert.get(), c.now);
    c.out << fmt::format("added issuer {}: {}\n", id, subject_rfc2253(cert.get()));
    return 0;
}

int cmd_issuer_list(context& c) {
    auto index = c.db.open(sqlite::open_mode::read_only);
    c.out << fmt::format("{:<4} {:<9} {:>12}  {:<40}  {}\n", "ID", "STATE", "CERTIFICATES", "SHA-256 KEY HASH", "SUBJECT");
    for (const auto& issuer : index.list_issuers()) {
        c.out << fmt::format("{:<4} {:<9} {:>12}  {:<40}  {}\n", issuer.id, issuer.enabled ? "enabled" : "disabled",
                             index.count_certificates(issuer.id, std::nullopt),
                             to_hex(issuer.hashes[hash_alg::sha256].key_hash).substr(0, 40), issuer.subject);
    }
    return 0;
}

int cmd_issuer_enable(context& c, const std::string& ref, bool enabled) {
    auto index = c.db.open(sqlite::open_mode::read_write);
    const auto issuer = resolve_issuer(index, ref);
    if (issuer.enabled == enabled) {
        c.out << fmt::format("issuer {} ({}) is already {}\n", issuer.id, issuer.subject, enabled ? "enabled" : "disabled");
        return 0;
    }
    index.set_issuer_enabled(issuer.id, enabled);
    c.out << fmt::format("issuer {} ({}) {}\n", issuer.id, issuer.subject, enabled ? "enabled" : "disabled");
    return 0;
}

int cmd_import_index(context& c, const std::string& issuer_ref, const std::string& file, bool skip_bad) {
    auto index = c.db.open(sqlite::open_mode::read_write);
    const auto issuer = resolve_issuer(index, issuer_ref);
    schema::index_import_options options;
    options.skip_bad = skip_bad;
    const auto report = schema::import_index_file(index, issuer.id, file, options);
    print_errors(c.err, report);
    if (!report.committed) {
        c.err << fmt::format("{}: {} bad of {} lines; nothing imported, database unchanged (fix them or pass "
                             "--skip-bad)\n",
                             file, report.bad, report.records);
        return static_cast<int>(exit_status::bad_input);
    }
    c.out << fmt::format("{}: {} lines for issuer {}: {}\n", file, report.records, issuer.id, summary(report.counts));
    return 0;
}

int cmd_import_certs(context& c, const std::string& issuer_ref, const std::vector<std::string>& paths) {
    auto index = c.db.open(sqlite::open_mode::read_write);
    const auto issuer = resolve_issuer(index, issuer_ref);
    const std::vector<fs::path> files(paths.begin(), paths.end());
    const auto report = schema::import_certificate_files(index, issuer, files);
    print_errors(c.err, report);
    if (!report.committed) {
        c.err << fmt::format("{} of {} certificates refused; nothing imported, database unchanged\n", report.bad,
                             report.records);
        return static_cast<int>(exit_status::bad_input);
    }
    c.out << fmt::format("{} certificates for issuer {}: {}\n", report.records, issuer.id, summary(report.counts));
    return 0;
}

struct revoke_args {
    std::string serial;
    std::string issuer;
    std::string reason;
    std::string time;
    std::string invalidity_date;
    std::string hold_instruction;
};

int cmd_revoke(context& c, const revoke_args& a) {
    const auto serial = parse_serial(a.serial);
    const auto reason = schema::reason_from_name(a.reason);
    if (!reason) {
        bad_input(fmt::format("unknown reason '{}' (one of unspecified, keyCompromise, cACompromise, "
                              "affiliationChanged, superseded, cessationOfOperation, certificateHold, "
                              "privilegeWithdrawn, aACompromise)",
                              a.reason));
    }
    if (*reason == revocation_reason::remove_from_crl) {
        bad_input("removeFromCRL is not a revocation (RFC 5280 §5.3.1); use `ocspctl unrevoke` to lift a hold");
    }
    const bool hold = *reason == revocation_reason::certificate_hold;
    const sys_seconds when = a.time.empty() ? c.now : parse_time_option(a.time, "--time", c.now);
    if (when > c.now) bad_input(fmt::format("revocation time {} is in the future", to_iso8601(when)));
    std::optional<sys_seconds> invalidity;
    if (!a.invalidity_date.empty()) {
        invalidity = parse_time_option(a.invalidity_date, "--invalidity-date", c.now);
        // RFC 5280 §5.3.2: the date on which the key is known or suspected to have been compromised, or
        // the certificate otherwise became invalid; it precedes the revocation.
        if (*invalidity > when) {
            bad_input(fmt::format("invalidity date {} is after the revocation time {}", to_iso8601(*invalidity),
                                  to_iso8601(when)));
        }
    }
    std::optional<std::string> instruction;
    if (!a.hold_instruction.empty()) {
        if (!hold) bad_input("--hold-instruction needs --reason certificateHold");
        auto oid = schema::index_txt::normalize_hold_instruction(a.hold_instruction);
        if (!oid) bad_input(oid.error_message());
        instruction = std::move(*oid);
    }

    auto index = c.db.open(sqlite::open_mode::read_write);
    auto rec = find_target(index, serial, a.issuer);
    if (rec.status == cert_status::revoked) {
        bad_input(fmt::format("serial {} is already revoked {}", serial.to_hex(), describe_revocation(rec)));
    }
    if (rec.status == cert_status::hold && hold) {
        bad_input(fmt::format("serial {} is already on hold since {}", serial.to_hex(), optional_time(rec.revocation_time)));
    }
    rec.status = hold ? cert_status::hold : cert_status::revoked;
    rec.revocation_time = when;
    rec.reason = reason;
    rec.invalidity_date = invalidity;
    rec.hold_instruction = instruction;

    auto batch = index.begin_write();
    auto outcome = batch.merge(rec);
    if (!outcome) bad_input(outcome.error_message());
    batch.commit();
    c.out << fmt::format("serial {} of issuer {}: {} {}\n", serial.to_hex(), issuer_label(index, rec.issuer_id),
                         hold ? "on hold" : "revoked", describe_revocation(rec));
    return 0;
}

int cmd_unrevoke(context& c, const std::string& serial_text, const std::string& issuer_ref) {
    const auto serial = parse_serial(serial_text);
    auto index = c.db.open(sqlite::open_mode::read_write);
    auto rec = find_target(index, serial, issuer_ref);
    if (rec.status == cert_status::good) bad_input(fmt::format("serial {} is not revoked", serial.to_hex()));
    if (rec.status == cert_status::revoked) {
        // RFC 5280 §5.3.1: only a certificateHold revocation is temporary.
        bad_input(fmt::format("serial {} is revoked {}; only certificateHold can be lifted", serial.to_hex(),
                              rec.reason ? fmt::format("with reason {}", schema::reason_name(*rec.reason))
                                         : std::string{"(no reason code)"}));
    }
    rec.status = cert_status::good;
    rec.revocation_time.reset();
    rec.reason.reset();
    rec.invalidity_date.reset();
    rec.hold_instruction.reset();
    auto batch = index.begin_write();
    auto outcome = batch.merge(rec);
    if (!outcome) bad_input(outcome.error_message());
    batch.commit();
    c.out << fmt::format("serial {} of issuer {}: hold lifted, good\n", serial.to_hex(), issuer_label(index, rec.issuer_id));
    return 0;
}

int cmd_show(context& c, const std::string& serial_text, const std::string& issuer_ref) {
    const auto serial = parse_serial(serial_text);
    auto index = c.db.open(sqlite::open_mode::read_only);
    std::vector<cert_record> found;
    if (!issuer_ref.empty()) {
        found.push_back(find_target(index, serial, issuer_ref));
    } else {
        found = index.find_certificates_by_serial(serial);
        if (found.empty()) not_found(fmt::format("serial {} is not in the index", serial.to_hex()));
    }
    for (std::size_t i = 0; i < found.size(); ++i) {
        if (i > 0) c.out << '\n';
        print_record(c.out, index, found[i]);
    }
    return 0;
}

int cmd_list(context& c, const std::string& status_text, const std::string& issuer_ref) {
    std::optional<cert_status> status;
    if (!status_text.empty()) {
        status = schema::status_from_name(status_text);
        if (!status) bad_input(fmt::format("unknown status '{}' (one of good, revoked, hold)", status_text));
    }
    auto index = c.db.open(sqlite::open_mode::read_only);
    std::optional<std::int64_t> issuer_id;
    if (!issuer_ref.empty()) issuer_id = resolve_issuer(index, issuer_ref).id;
    c.out << "ISSUER\tSERIAL\tSTATUS\tREASON\tREVOKED\tNOT_AFTER\tSUBJECT\n";
    index.for_each_certificate(issuer_id, status, [&c](const cert_record& r) {
        c.out << r.issuer_id << '\t' << r.serial.to_hex() << '\t' << schema::status_name(r.status) << '\t'
              << (r.reason ? schema::reason_name(*r.reason) : std::string_view{"-"}) << '\t'
              << optional_time(r.revocation_time) << '\t' << optional_time(r.not_after) << '\t'
              << (r.subject.empty() ? std::string_view{"-"} : std::string_view{r.subject}) << '\n';
    });
    return 0;
}

int cmd_export(context& c, const std::string& issuer_ref, const std::string& output) {
    auto index = c.db.open(sqlite::open_mode::read_only);
    std::optional<std::int64_t> issuer_id;
    if (!issuer_ref.empty()) {
        issuer_id = resolve_issuer(index, issuer_ref).id;
    } else {
        const auto issuers = index.list_issuers();
        // One index.txt describes one CA: `openssl ocsp -index` refuses a file with a serial twice.
        if (issuers.size() > 1) {
            bad_input(fmt::format("{} issuers are registered and index.txt holds one CA's certificates; pass "
                                  "--issuer",
                                  issuers.size()));
        }
    }
    if (output.empty() || output == "-") {
        const auto report = schema::export_index(index, issuer_id, c.out);
        for (const auto& w : report.warnings) c.err << "warning: " << w << '\n';
        c.out.flush();
        return 0;
    }
    // Written beside the target and renamed over it, so a reader never sees half a file.
    const fs::path target{output};
    const fs::path temp{output + ".tmp"};
    schema::export_report report;
    {
        std::ofstream file(temp, std::ios::binary | std::ios::trunc);
        if (!file) bad_input(fmt::format("{}: cannot create", temp.string()));
        report = schema::export_index(index, issuer_id, file);
        file.close();
        if (!file) {
            fs::remove(temp);
            bad_input(fmt::format("{}: write failed", temp.string()));
        }
    }
    fs::rename(temp, target);
    // OpenSSL's load_index assumes unique_subject = yes without this file and then refuses an index with a
    // renewed certificate (two V rows, one subject); `openssl ca` writes the same file.
    {
        std::ofstream attr(output + ".attr", std::ios::trunc);
        attr << "unique_subject = no\n";
        if (!attr) bad_input(fmt::format("{}.attr: write failed", output));
    }
    for (const auto& w : report.warnings) c.err << "warning: " << w << '\n';
    c.out << fmt::format("exported {} certificates to {}\n", report.rows, output);
    return 0;
}

// --- wiring ----------------------------------------------------------------------------------------------

void add_db_options(CLI::App* app, db_options& db) {
    app->add_option("--db", db.path, "SQLite index file (or set OCSPKIT_DB)")->envname("OCSPKIT_DB");
    app->add_option("--busy-timeout", db.busy_timeout_ms, "milliseconds to wait for another writer's lock")
        ->check(CLI::Range(0, 3600000));
    app->footer(std::string{exit_footer});
}

int map_exception(std::ostream& err, const db_options& db) {
    try {
        throw;
    } catch (const command_error& e) {
        err << "ocspctl: " << e.what() << '\n';
        return static_cast<int>(e.status());
    } catch (const load_error& e) {
        err << "ocspctl: " << e.what() << '\n';
        return static_cast<int>(exit_status::bad_input);
    } catch (const schema::schema_error& e) {
        err << "ocspctl: " << e.what() << '\n';
        return static_cast<int>(exit_status::database_error);
    } catch (const schema::not_found_error& e) {
        err << "ocspctl: " << e.what() << '\n';
        return static_cast<int>(exit_status::not_found);
    } catch (const schema::index_error& e) {
        err << "ocspctl: " << e.what() << '\n';
        return static_cast<int>(exit_status::bad_input);
    } catch (const sqlite::sqlite_error& e) {
        if (e.is_busy()) {
            err << fmt::format("ocspctl: database {} is locked by another writer (waited {} ms); nothing changed, "
                               "try again\n",
                               db.path, db.busy_timeout_ms);
        } else {
            err << "ocspctl: database error: " << e.what() << '\n';
        }
        return static_cast<int>(exit_status::database_error);
    } catch (const openssl_error& e) {
        err << "ocspctl: " << e.what() << '\n';
        return static_cast<int>(exit_status::bad_input);
    } catch (const fs::filesystem_error& e) {
        err << "ocspctl: " << e.what() << '\n';
        return static_cast<int>(exit_status::bad_input);
    } catch (const std::exception& e) {
        err << "ocspctl: " << e.what() << '\n';
        return static_cast<int>(exit_status::database_error);
    }
}

}  // namespace

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err, std::chrono::sys_seconds now) {
    context c{out, err, now, {}};
    std::function<int()> action;

    CLI::App app{"ocspctl: manage the certificate index of the ocspkit OCSP responder", "ocspctl"};
    app.require_subcommand(1);
    app.footer(std::string{exit_footer});

    auto* init = app.add_subcommand("init", "create the database, or migrate it to this version's schema");
    add_db_options(init, c.db);
    init->callback([&] { action = [&] { return cmd_init(c); }; });

    auto* issuer = app.add_subcommand("issuer", "register, list, enable and disable CAs");
    issuer->require_subcommand(1);
    issuer->footer(std::string{exit_footer});
    std::string issuer_file;
    auto* issuer_add = issuer->add_subcommand("add", "register a CA certificate (PEM or DER)");
    add_db_options(issuer_add, c.db);
    issuer_add->add_option("CA", issuer_file, "CA certificate file")->required();
    issuer_add->callback([&] { action = [&] { return cmd_issuer_add(c, issuer_file); }; });

    auto* issuer_list = issuer->add_subcommand("list", "list registered CAs");
    add_db_options(issuer_list, c.db);
    issuer_list->callback([&] { action = [&] { return cmd_issuer_list(c); }; });

    std::string issuer_ref;
    auto* issuer_disable = issuer->add_subcommand("disable", "stop answering for a CA (responders say unauthorized)");
    add_db_options(issuer_disable, c.db);
    issuer_disable->add_option("ISSUER", issuer_ref, "issuer ID or CA certificate file")->required();
    issuer_disable->callback([&] { action = [&] { return cmd_issuer_enable(c, issuer_ref, false); }; });

    auto* issuer_enable = issuer->add_subcommand("enable", "answer for a disabled CA again");
    add_db_options(issuer_enable, c.db);
    issuer_enable->add_option("ISSUER", issuer_ref, "issuer ID or CA certificate file")->required();
    issuer_enable->callback([&] { action = [&] { return cmd_issuer_enable(c, issuer_ref, true); }; });

    std::string index_file;
    bool skip_bad = false;
    auto* import_index = app.add_subcommand("import-index", "import an `openssl ca` index.txt (idempotent)");
    add_db_options(import_index, c.db);
    import_index->add_option("--issuer", issuer_ref, "issuer ID or CA certificate file")->required();
    import_index->add_option("INDEX", index_file, "index.txt file")->required();
    import_index->add_flag("--skip-bad", skip_bad,
                           "import the good lines and report the bad ones (default: any bad line rejects the file)");
    import_index->callback([&] { action = [&] { return cmd_import_index(c, issuer_ref, index_file, skip_bad); }; });

    std::vector<std::string> cert_paths;
    auto* import_certs = app.add_subcommand(
        "import-certs", "store issued certificates (PEM/DER files, or directories of *.pem *.crt *.cer *.der)");
    add_db_options(import_certs, c.db);
    import_certs->add_option("--issuer", issuer_ref, "issuer ID or CA certificate file")->required();
    import_certs->add_option("PATHS", cert_paths, "certificate files or directories")->required();
    import_certs->callback([&] { action = [&] { return cmd_import_certs(c, issuer_ref, cert_paths); }; });

    revoke_args rargs;
    auto* revoke = app.add_subcommand("revoke", "revoke a certificate, or put it on hold (certificateHold)");
    add_db_options(revoke, c.db);
    revoke->add_option("SERIAL", rargs.serial, "serial number in hex")->required();
    revoke->add_option("--issuer", rargs.issuer, "issuer ID or CA file; needed when several CAs have the serial");
    revoke->add_option("--reason", rargs.reason,
                       "RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, "
                       "cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise")
        ->required();
    revoke->add_option("--time", rargs.time, "revocation time (default now): ISO 8601, ASN.1 or @unixseconds");
    revoke->add_option("--invalidity-date", rargs.invalidity_date,
                       "when the key was compromised or the certificate became invalid (RFC 5280 §5.3.2)");
    revoke->add_option("--hold-instruction", rargs.hold_instruction,
                       "with certificateHold: holdInstructionNone, holdInstructionCallIssuer, "
                       "holdInstructionReject or an OID");
    revoke->callback([&] { action = [&] { return cmd_revoke(c, rargs); }; });

    std::string serial_text;
    auto* unrevoke = app.add_subcommand("unrevoke", "lift a hold (only certificateHold can be lifted)");
    add_db_options(unrevoke, c.db);
    unrevoke->add_option("SERIAL", serial_text, "serial number in hex")->required();
    unrevoke->add_option("--issuer", issuer_ref, "issuer ID or CA file; needed when several CAs have the serial");
    unrevoke->callback([&] { action = [&] { return cmd_unrevoke(c, serial_text, issuer_ref); }; });

    auto* show = app.add_subcommand("show", "show one certificate's index entry");
    add_db_options(show, c.db);
    show->add_option("SERIAL", serial_text, "serial number in hex")->required();
    show->add_option("--issuer", issuer_ref, "issuer ID or CA file");
    show->callback([&] { action = [&] { return cmd_show(c, serial_text, issuer_ref); }; });

    std::string status_text;
    auto* list = app.add_subcommand("list", "list certificates, tab-separated, in serial order");
    add_db_options(list, c.db);
    list->add_option("--status", status_text, "good, revoked or hold");
    list->add_option("--issuer", issuer_ref, "issuer ID or CA file");
    list->callback([&] { action = [&] { return cmd_list(c, status_text, issuer_ref); }; });

    std::string output;
    auto* export_index = app.add_subcommand(
        "export-index", "write an index.txt for `openssl ocsp -index` / `openssl ca` (and FILE.attr with -o)");
    add_db_options(export_index, c.db);
    export_index->add_option("--issuer", issuer_ref, "issuer ID or CA file (needed with several issuers)");
    export_index->add_option("-o,--output", output, "output file (default standard output)");
    export_index->callback([&] { action = [&] { return cmd_export(c, issuer_ref, output); }; });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e, out, err);
        return code == 0 ? 0 : static_cast<int>(exit_status::bad_input);
    }
    if (!action) return static_cast<int>(exit_status::bad_input);
    try {
        return action();
    } catch (...) {
        return map_exception(err, c.db);
    }
}

}  // namespace ocspkit::ocspctl
