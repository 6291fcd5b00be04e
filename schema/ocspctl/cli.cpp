// ocspctl's command line: CLI11 wiring, global options, and the one place that turns exceptions into
// messages and exit statuses. The commands themselves live in *_commands.cpp and output.cpp.
#include <cstdlib>
#include <functional>
#include <iostream>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/openssl_error.hpp"
#include "common/pg.hpp"
#include "common/pem.hpp"
#include "common/unix_account.hpp"
#include "common/version.hpp"
#include "schema/db_problems.hpp"
#include "schema/ocspctl/internal.hpp"

namespace ocspkit::ocspctl {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view exit_footer =
    "Global options (before or after the command): --db DATABASE (or the environment variable OCSPKIT_DB),\n"
    "--busy-timeout MS, --version, --help. DATABASE is a SQLite file's path or a PostgreSQL connection string\n"
    "(postgresql://HOST/DBNAME or 'host=HOST dbname=DBNAME'; the password belongs in PGPASSFILE, not here).\n"
    "On PostgreSQL, backup/restore are pg_dump/pg_restore, init --owner is GRANT, --busy-timeout is lock_timeout.\n"
    "Exit status: 0 success; 1 usage error, bad input or refused change; 2 serial or issuer not found;\n"
    "3 database error (missing, unreadable, locked by another writer, corrupt, newer schema).";

// Options every subcommand accepts, also before the subcommand. Each place has its own variables, and
// run() picks the subcommand's over the global ones over OCSPKIT_DB: CLI11 would otherwise let one
// place's environment fallback overwrite the other's explicit value.
struct db_flags {
    std::string path;
    std::optional<int> busy_timeout_ms;
};

void add_db_options(CLI::App* app, db_flags& flags) {
    app->add_option("--db", flags.path,
                    "SQLite index file or PostgreSQL connection string (postgresql://... or key=value; or set "
                    "OCSPKIT_DB)");
    app->add_option("--busy-timeout", flags.busy_timeout_ms,
                    "milliseconds to wait for another writer's lock (SQLite; on PostgreSQL use lock_timeout)")
        ->check(CLI::Range(0, 3600000));
    app->footer(std::string{exit_footer});
}

schema::audit_context audit_actor(std::string command, sys_seconds now) {
    schema::audit_context actor;
    actor.unix_user = user_name(::geteuid());
    if (const char* sudo = std::getenv("SUDO_USER"); sudo != nullptr && *sudo != '\0') actor.sudo_user = sudo;
    actor.command = std::move(command);
    actor.time = now;
    return actor;
}

// libpq's messages span lines ("connection to server ... failed: ...\n\tIs the server running ...?").
std::string one_line(std::string_view text) {
    std::string out;
    for (char ch : text) {
        if (ch == '\n') {
            out += "; ";
        } else if (ch != '\t') {
            out += ch;
        }
    }
    while (out.size() >= 2 && out.compare(out.size() - 2, 2, "; ") == 0) out.resize(out.size() - 2);
    return out;
}

// A PostgreSQL failure, in one line with the fix. The message names the server by its redacted
// connection string (common/pg.hpp), never with a password.
std::string explain_postgresql(const pg::pg_error& e) {
    const std::string what = one_line(e.what());
    const std::string& state = e.sqlstate();
    if (state.empty() && e.connection_bad()) {
        return what + " (check that the server is running and the connection string in --db or OCSPKIT_DB; a "
                      "password belongs in PGPASSFILE (~/.pgpass) or PGPASSWORD, not in the string)";
    }
    if (state == "40001" || state == "40P01") {
        return what + " (another transaction conflicted with this one; nothing was written: run the command again)";
    }
    if (state == "55P03" || state == "57014") {
        return what + " (another writer held the index too long; nothing was written: run the command again, or "
                      "raise lock_timeout in the connection string)";
    }
    if (state == "42501") return what + " (grant this role the privileges on the ocspkit tables)";
    return what;
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
        // After a successful open: a lock held too long, a file made read-only meanwhile, a disk error.
        err << "ocspctl: "
            << schema::explain(db.path, e, sqlite::open_mode::read_write, std::chrono::milliseconds{db.busy_timeout_ms})
            << '\n';
        return static_cast<int>(exit_status::database_error);
    } catch (const pg::pg_error& e) {
        err << "ocspctl: " << explain_postgresql(e) << '\n';
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
    return run(argc, argv, std::cin, out, err, now);
}

int run(int argc, const char* const* argv, std::istream& in, std::ostream& out, std::ostream& err,
        std::chrono::sys_seconds now) {
    context c{in, out, err, now, {}};
    std::function<int()> action;
    std::string command_name;
    db_flags global;
    db_flags local;

    CLI::App app{"ocspctl: manage the certificate index of the ocspkit OCSP responder", "ocspctl"};
    app.require_subcommand(1);
    app.footer(std::string{exit_footer});
    app.set_version_flag("--version", fmt::format("ocspctl {}", version_text), "print the version and exit");
    add_db_options(&app, global);

    // Each subcommand records its name for the audit and its action for after the parse.
    const auto on = [&](CLI::App* sub, std::string name, std::function<int()> fn) {
        add_db_options(sub, local);
        sub->callback([&action, &command_name, name = std::move(name), fn = std::move(fn)] {
            command_name = name;
            action = fn;
        });
    };

    init_args iargs;
    auto* init = app.add_subcommand("init", "create the database, or migrate it to this version's schema");
    init->add_option("--owner", iargs.owner,
                     "USER[:GROUP]: give the database (and its -wal/-shm) to the service user, mode 0640 (SQLite; "
                     "on PostgreSQL use GRANT)");
    init->add_option("--group", iargs.group, "GROUP for --owner (default: the user's primary group)");
    on(init, "init", [&] { return cmd_init(c, iargs); });

    auto* issuer = app.add_subcommand("issuer", "register, list, enable and disable CAs");
    issuer->require_subcommand(1);
    issuer->footer(std::string{exit_footer});
    add_db_options(issuer, local);
    std::string issuer_file;
    auto* issuer_add = issuer->add_subcommand("add", "register a CA certificate (PEM or DER)");
    issuer_add->add_option("CA", issuer_file, "CA certificate file")->required();
    on(issuer_add, "issuer add", [&] { return cmd_issuer_add(c, issuer_file); });

    bool json = false;
    auto* issuer_list = issuer->add_subcommand("list", "list registered CAs");
    issuer_list->add_flag("--json", json, "one JSON object on stdout (docs/ocspctl.md)");
    on(issuer_list, "issuer list", [&] { return cmd_issuer_list(c, json); });

    std::string issuer_ref;
    auto* issuer_disable = issuer->add_subcommand("disable", "stop answering for a CA (responders say unauthorized)");
    issuer_disable->add_option("ISSUER", issuer_ref, "issuer ID or CA certificate file")->required();
    on(issuer_disable, "issuer disable", [&] { return cmd_issuer_enable(c, issuer_ref, false); });

    auto* issuer_enable = issuer->add_subcommand("enable", "answer for a disabled CA again");
    issuer_enable->add_option("ISSUER", issuer_ref, "issuer ID or CA certificate file")->required();
    on(issuer_enable, "issuer enable", [&] { return cmd_issuer_enable(c, issuer_ref, true); });

    import_index_args xargs;
    auto* import_index = app.add_subcommand(
        "import-index", "import an `openssl ca` index.txt (idempotent; never lifts a revocation made in the index)");
    import_index->add_option("--issuer", xargs.issuer, "issuer ID or CA certificate file")->required();
    import_index->add_option("INDEX", xargs.file, "index.txt file")->required();
    import_index->add_flag("--skip-bad", xargs.skip_bad,
                           "import the good lines and report the bad ones (default: any bad line rejects the file)");
    import_index->add_flag("--force", xargs.force,
                           "in a conflict, take the file's status (lift or replace a hold, replace a revocation); "
                           "a revocation other than certificateHold is never lifted");
    on(import_index, "import-index", [&] { return cmd_import_index(c, xargs); });

    std::vector<std::string> cert_paths;
    auto* import_certs = app.add_subcommand(
        "import-certs", "store issued certificates (PEM/DER files, or directories of *.pem *.crt *.cer *.der)");
    import_certs->add_option("--issuer", issuer_ref, "issuer ID or CA certificate file")->required();
    import_certs->add_option("PATHS", cert_paths, "certificate files or directories")->required();
    on(import_certs, "import-certs", [&] { return cmd_import_certs(c, issuer_ref, cert_paths); });

    import_cfssl_args fargs;
    auto* import_cfssl = app.add_subcommand(
        "import-cfssl", "import a CFSSL CA's certificates and revocations from its certdb (idempotent; never lifts "
                        "a revocation made in the index)");
    import_cfssl->add_option("--certdb", fargs.certdb,
                             "CFSSL's certdb: the SQLite file or PostgreSQL connection string its -db-config names")
        ->required();
    import_cfssl->add_flag("--skip-bad", fargs.skip_bad, "import the good rows and report the bad ones");
    import_cfssl->add_flag("--force", fargs.force, "in a conflict, take the certdb's status where the rule allows");
    on(import_cfssl, "import-cfssl", [&] { return cmd_import_cfssl(c, fargs); });

    revoke_args rargs;
    auto* revoke = app.add_subcommand("revoke", "revoke certificates, or put them on hold (certificateHold)");
    revoke->add_option("SERIAL", rargs.serial, "serial number (hex as `openssl x509 -serial` prints it)");
    revoke->add_option("--cert", rargs.cert_file,
                       "the certificate file instead of a serial; must be signed by a registered CA");
    revoke->add_option("--from", rargs.from_file,
                       "FILE or - (stdin): one serial per line, # comments; all or nothing");
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
    revoke->add_flag("--decimal", rargs.decimal, "serials are decimal numbers");
    on(revoke, "revoke", [&] { return cmd_revoke(c, rargs); });

    std::string serial_text;
    bool decimal = false;
    auto* unrevoke = app.add_subcommand("unrevoke", "lift a hold (only certificateHold can be lifted)");
    unrevoke->add_option("SERIAL", serial_text, "serial number (hex)")->required();
    unrevoke->add_option("--issuer", issuer_ref, "issuer ID or CA file; needed when several CAs have the serial");
    unrevoke->add_flag("--decimal", decimal, "the serial is a decimal number");
    on(unrevoke, "unrevoke", [&] { return cmd_unrevoke(c, serial_text, issuer_ref, decimal); });

    auto* show = app.add_subcommand("show", "show one certificate's index entry");
    show->add_option("SERIAL", serial_text, "serial number (hex)")->required();
    show->add_option("--issuer", issuer_ref, "issuer ID or CA file");
    show->add_flag("--decimal", decimal, "the serial is a decimal number");
    show->add_flag("--json", json, "one JSON object on stdout (docs/ocspctl.md)");
    on(show, "show", [&] { return cmd_show(c, serial_text, issuer_ref, decimal, json); });

    std::string status_text;
    auto* list = app.add_subcommand("list", "list certificates, tab-separated, in serial order");
    list->add_option("--status", status_text, "good, revoked or hold");
    list->add_option("--issuer", issuer_ref, "issuer ID or CA file");
    list->add_flag("--json", json, "one JSON object on stdout (docs/ocspctl.md)");
    on(list, "list", [&] { return cmd_list(c, status_text, issuer_ref, json); });

    std::string output;
    auto* export_index = app.add_subcommand(
        "export-index", "write an index.txt for `openssl ocsp -index` / `openssl ca` (and FILE.attr with -o)");
    export_index->add_option("--issuer", issuer_ref, "issuer ID or CA file (needed with several issuers)");
    export_index->add_option("-o,--output", output, "output file (default standard output)");
    on(export_index, "export-index", [&] { return cmd_export(c, issuer_ref, output); });

    audit_args aargs;
    auto* audit = app.add_subcommand("audit", "show who changed what in the index, oldest first");
    audit->add_option("--since", aargs.since, "only entries at or after this time (ISO 8601, ASN.1, @unixseconds)");
    audit->add_option("--serial", aargs.serial, "only entries about this serial (hex)");
    audit->add_option("--issuer", aargs.issuer, "only entries about this issuer (ID or CA file)");
    audit->add_flag("--decimal", aargs.decimal, "--serial is a decimal number");
    audit->add_flag("--json", aargs.json, "one JSON object on stdout (docs/ocspctl.md)");
    on(audit, "audit", [&] { return cmd_audit(c, aargs); });

    crl_args cargs;
    auto* crl = app.add_subcommand(
        "crl", "issue a CRL (RFC 5280 v2) of one issuer from the index, signed with the CA's key; takes the "
               "issuer's next CRL number");
    crl->add_option("--issuer", cargs.issuer, "issuer ID or CA certificate file")->required();
    crl->add_option("--key", cargs.key,
                    "the CA's private key (PEM or DER, mode 0600 or 0400), or a pkcs11: URI (RFC 7512) of it in a "
                    "token")
        ->required();
    crl->add_option("--pin-file", cargs.pin_file, "the token's PIN, for a pkcs11: --key without pin-source");
    crl->add_option("--pkcs11-module", cargs.pkcs11_module,
                    "the PKCS#11 module for a pkcs11: --key (e.g. /usr/lib/softhsm/libsofthsm2.so)");
    crl->add_option("-o,--out", cargs.out, "output file, replaced atomically (default standard output)");
    crl->add_flag("--der", cargs.der, "write DER");
    crl->add_flag("--pem", cargs.pem, "write PEM (the default)");
    crl->add_option("--validity", cargs.validity, "nextUpdate - thisUpdate (default 7d)");
    crl->add_option("--expired-grace", cargs.expired_grace,
                    "leave off revoked certificates that expired longer ago than this (default 30d, at least "
                    "--validity), or `keep` them all");
    crl->add_option("--rsa-padding", cargs.rsa_padding, "RSA CA keys: pkcs1 (default) or pss")
        ->check(CLI::IsMember({"pkcs1", "pss"}));
    on(crl, "crl", [&] { return cmd_crl(c, cargs); });

    std::string crl_issuer_ref;
    std::string crl_file;
    auto* import_crl = app.add_subcommand(
        "import-crl", "apply a CA's CRL (full or delta, DER or PEM) to the index, after checking its signature; "
                      "CRL numbers never go back, the last CRL again changes nothing");
    import_crl->add_option("--issuer", crl_issuer_ref, "issuer ID or CA certificate file")->required();
    import_crl->add_option("CRL", crl_file, "the CRL file, or - for standard input")->required();
    on(import_crl, "import-crl", [&] { return cmd_import_crl(c, crl_issuer_ref, crl_file); });

    std::string backup_file;
    bool force = false;
    auto* backup = app.add_subcommand(
        "backup", "write a consistent copy of the index (SQLite online backup; safe while others write; on "
                  "PostgreSQL use pg_dump)");
    backup->add_option("FILE", backup_file, "backup file to create")->required();
    backup->add_flag("--force", force, "replace FILE if it exists");
    on(backup, "backup", [&] { return cmd_backup(c, backup_file, force); });

    auto* restore = app.add_subcommand(
        "restore", "replace the index (--db, created if missing) with a backup; running responders notice (SQLite; "
                   "on PostgreSQL use pg_restore)");
    restore->add_option("FILE", backup_file, "backup file made by `ocspctl backup`")->required();
    on(restore, "restore", [&] { return cmd_restore(c, backup_file); });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e, out, err);
        return code == 0 ? 0 : static_cast<int>(exit_status::bad_input);
    }
    if (!action) return static_cast<int>(exit_status::bad_input);

    c.db.path = !local.path.empty() ? local.path : global.path;
    if (c.db.path.empty()) {
        if (const char* env = std::getenv("OCSPKIT_DB"); env != nullptr) c.db.path = env;
    }
    c.db.busy_timeout_ms = local.busy_timeout_ms.value_or(global.busy_timeout_ms.value_or(5000));
    c.db.busy_timeout_given = local.busy_timeout_ms.has_value() || global.busy_timeout_ms.has_value();
    c.db.audit = audit_actor(command_name, now);
    try {
        return action();
    } catch (...) {
        return map_exception(err, c.db);
    }
}

}  // namespace ocspkit::ocspctl
