// ocspctl commands that create the index and bring certificates in or out: init, issuer add/list/
// enable/disable, import-index, import-certs, export-index.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <openssl/x509v3.h>

#include "common/pem.hpp"
#include "common/pg.hpp"
#include "schema/cfssl_import.hpp"
#include "schema/db_problems.hpp"
#include "schema/import.hpp"
#include "schema/ocspctl/internal.hpp"
#include "schema/ocspctl/json_output.hpp"
#include "schema/ocspctl/ownership.hpp"
#include "schema/pg_migrations.hpp"

namespace ocspkit::ocspctl {

namespace fs = std::filesystem;
using schema::index_store;

namespace {

void print_errors(std::ostream& err, const schema::import_report& report) {
    for (const auto& e : report.errors) err << e << '\n';
    if (report.bad > report.errors.size()) err << fmt::format("... and {} more\n", report.bad - report.errors.size());
}

std::string summary(const schema::import_counts& c) {
    std::string text = fmt::format("{} inserted, {} updated, {} unchanged, {} skipped", c.inserted, c.updated,
                                   c.unchanged, c.skipped);
    if (c.kept > 0) text += fmt::format(", {} conflicts kept", c.kept);
    return text;
}

// init on PostgreSQL: the database exists (createdb), init creates or migrates the schema in it.
int init_postgresql(context& c, const init_args& a) {
    if (!a.owner.empty() || !a.group.empty()) {
        bad_input("--owner and --group give a SQLite file to the service user; on PostgreSQL grant the "
                  "responder's role access to the database instead (docs/operations.md \"PostgreSQL\")");
    }
    int before = 0;
    {
        pg::connection db(c.db.path);
        before = schema::pg_schema_version(db);
    }
    const int version = c.db.open(sqlite::open_mode::read_write_create)->schema_version();
    if (before == 0) {
        c.out << fmt::format("{}: created, schema version {}\n", c.db.name(), version);
    } else if (before < version) {
        c.out << fmt::format("{}: migrated from schema version {} to {}\n", c.db.name(), before, version);
    } else {
        c.out << fmt::format("{}: ocspkit database, schema version {}\n", c.db.name(), version);
    }
    return 0;
}

}  // namespace

int cmd_init(context& c, const init_args& a) {
    if (c.db.path.empty()) bad_input("no database: pass --db PATH (or a PostgreSQL connection string) or set OCSPKIT_DB");
    if (c.db.is_postgresql()) return init_postgresql(c, a);
    // Resolved before anything is created, so that a misspelt user leaves nothing behind.
    std::optional<file_owner> owner;
    if (!a.owner.empty() || !a.group.empty()) owner = resolve_owner(a.owner, a.group);

    const fs::path db{c.db.path};
    const fs::path folder = db.has_parent_path() ? db.parent_path() : fs::path{"."};
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) {
        // Creating it here would give it root's owner and umask; the responder's user must be able to
        // create -shm in it (docs/ocspctl.md "Ownership"), so the operator creates it on purpose.
        bad_input(schema::missing_folder_message(db, owner ? owner->user_name : std::string{"ocspkit"},
                                                 owner ? owner->group_name : std::string{"ocspkit"}));
    }
    const bool existed = fs::exists(db, ec) && fs::file_size(db, ec) > 0;
    int version = 0;
    {
        const auto store = c.db.open(sqlite::open_mode::read_write_create);
        auto& index = *store;
        version = index.schema_version();
    }
    if (existed) {
        c.out << fmt::format("{}: ocspkit database, schema version {}\n", c.db.path, version);
    } else {
        c.out << fmt::format("{}: created, schema version {}\n", c.db.path, version);
    }
    if (owner) {
        for (const auto& changed : apply_owner(db, *owner)) {
            c.out << fmt::format("{}: owner {}:{}, mode 0640\n", changed.string(), owner->user_name, owner->group_name);
        }
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
    const auto store = c.db.open(sqlite::open_mode::read_write);
    auto& index = *store;
    const auto id = index.add_issuer(cert.get(), c.now);
    c.out << fmt::format("added issuer {}: {}\n", id, subject_rfc2253(cert.get()));
    return 0;
}

int cmd_issuer_list(context& c, bool json) {
    const auto store = c.db.open(sqlite::open_mode::read_only);
    auto& index = *store;
    if (json) {
        write_issuers_json(c.out, index);
        return 0;
    }
    c.out << fmt::format("{:<4} {:<9} {:>12}  {:<40}  {}\n", "ID", "STATE", "CERTIFICATES", "SHA-256 KEY HASH", "SUBJECT");
    for (const auto& issuer : index.list_issuers()) {
        c.out << fmt::format("{:<4} {:<9} {:>12}  {:<40}  {}\n", issuer.id, issuer.enabled ? "enabled" : "disabled",
                             index.count_certificates(issuer.id, std::nullopt),
                             to_hex(issuer.hashes[hash_alg::sha256].key_hash).substr(0, 40), issuer.subject);
    }
    return 0;
}

int cmd_issuer_enable(context& c, const std::string& ref, bool enabled) {
    const auto store = c.db.open(sqlite::open_mode::read_write);
    auto& index = *store;
    const auto issuer = resolve_issuer(index, ref);
    if (issuer.enabled == enabled) {
        c.out << fmt::format("issuer {} ({}) is already {}\n", issuer.id, issuer.subject, enabled ? "enabled" : "disabled");
        return 0;
    }
    index.set_issuer_enabled(issuer.id, enabled);
    c.out << fmt::format("issuer {} ({}) {}\n", issuer.id, issuer.subject, enabled ? "enabled" : "disabled");
    return 0;
}

int cmd_import_index(context& c, const import_index_args& a) {
    const auto store = c.db.open(sqlite::open_mode::read_write);
    auto& index = *store;
    const auto issuer = resolve_issuer(index, a.issuer);
    schema::index_import_options options;
    options.skip_bad = a.skip_bad;
    options.force = a.force;
    const auto report = schema::import_index_file(index, issuer.id, a.file, options);
    print_errors(c.err, report);
    if (!report.committed) {
        c.err << fmt::format("{}: {} bad of {} lines; nothing imported, database unchanged (fix them or pass "
                             "--skip-bad)\n",
                             a.file, report.bad, report.records);
        return static_cast<int>(exit_status::bad_input);
    }
    // Conflicts are not errors: the index keeps its own revocations (docs/ocspctl.md "One source of truth").
    for (const auto& conflict : report.conflicts) c.err << conflict << '\n';
    if (report.counts.kept > report.conflicts.size()) {
        c.err << fmt::format("... and {} more conflicts\n", report.counts.kept - report.conflicts.size());
    }
    c.out << fmt::format("{}: {} lines for issuer {}: {}\n", a.file, report.records, issuer.id, summary(report.counts));
    return 0;
}

int cmd_import_certs(context& c, const std::string& issuer_ref, const std::vector<std::string>& paths) {
    const auto store = c.db.open(sqlite::open_mode::read_write);
    auto& index = *store;
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

int cmd_import_cfssl(context& c, const import_cfssl_args& a) {
    const auto store = c.db.open(sqlite::open_mode::read_write);
    schema::cfssl_import_options options;
    options.skip_bad = a.skip_bad;
    options.force = a.force;
    schema::cfssl_import_report report;
    try {
        report = schema::import_cfssl(*store, a.certdb, options);
    } catch (const schema::database_error& e) {
        bad_input(e.what());  // the certdb, not the index: the index is untouched
    }
    const auto& rows = report.rows;
    print_errors(c.err, rows);
    for (const auto& line : report.unregistered) c.err << "not imported: " << line << '\n';
    if (!rows.committed) {
        c.err << fmt::format("{} bad of {} rows; nothing imported, database unchanged (fix them or pass --skip-bad)\n",
                             rows.bad, rows.records);
        return static_cast<int>(exit_status::bad_input);
    }
    for (const auto& conflict : rows.conflicts) c.err << conflict << '\n';
    if (rows.counts.kept > rows.conflicts.size())
        c.err << fmt::format("... and {} more conflicts\n", rows.counts.kept - rows.conflicts.size());
    c.out << fmt::format("{} rows: {}; {} of unregistered CAs\n", rows.records, summary(rows.counts),
                         report.unregistered_rows);
    return 0;
}

int cmd_export(context& c, const std::string& issuer_ref, const std::string& output) {
    const auto store = c.db.open(sqlite::open_mode::read_only);
    auto& index = *store;
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

}  // namespace ocspkit::ocspctl
