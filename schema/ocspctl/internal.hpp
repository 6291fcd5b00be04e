#pragma once
// Shared by the ocspctl command files (not installed, not used outside schema/ocspctl): the per-run
// context, the expected-failure exception that run() turns into an exit status, and the helpers that
// several commands use to find issuers and certificates.
#include <chrono>
#include <optional>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/serial.hpp"
#include "schema/cert_index.hpp"
#include "schema/index_store.hpp"
#include "schema/ocspctl/commands.hpp"

namespace ocspkit::ocspctl {

using sys_seconds = std::chrono::sys_seconds;

// Expected failures of a command, carried to run() which prints them and picks the exit status.
class command_error : public std::runtime_error {
public:
    command_error(exit_status status, std::string message)
        : std::runtime_error(std::move(message)), status_(status) {}
    exit_status status() const noexcept { return status_; }

private:
    exit_status status_;
};

[[noreturn]] void bad_input(std::string message);
[[noreturn]] void not_found(std::string message);
[[noreturn]] void database_failure(std::string message);

struct db_options {
    // A SQLite file's path or a PostgreSQL connection string (pg::database_kind_of); may hold a password,
    // so messages use name().
    std::string path;
    int busy_timeout_ms = 5000;
    bool busy_timeout_given = false;  // --busy-timeout was passed (SQLite only)
    schema::audit_context audit;  // who is running this command; written with every change

    bool is_postgresql() const noexcept;
    // The path, or the connection string without its password.
    std::string name() const;
    // Refuses a command that works on a SQLite file only, naming what to use on PostgreSQL instead.
    void require_sqlite_file(std::string_view command, std::string_view postgresql_instead) const;
    std::unique_ptr<schema::index_store> open(sqlite::open_mode mode) const;
};

struct context {
    std::istream& in;  // `revoke --from -`
    std::ostream& out;
    std::ostream& err;
    std::chrono::sys_seconds now;
    db_options db;
};

// A serial as typed by a person: `serial=1004`, `10:04`, `10 04`, `0x1004`, or decimal with --decimal.
serial_number parse_serial_arg(const std::string& text, bool decimal);
// "serial S is not in the index..." with the hex/decimal hint when the input was all digits.
std::string not_in_index_message(const serial_number& serial, const std::string& typed, bool decimal,
                                 std::string_view where = {});

// "ID|CA.pem": a number names a registered issuer unless a file of that name exists.
schema::issuer_record resolve_issuer(const schema::index_store& index, const std::string& ref);
std::string issuer_label(const schema::index_store& index, std::int64_t id);
// The one row a serial names: under --issuer if given, else under the only issuer that has it. `typed`
// is the user's spelling, for the "did you mean --decimal" hint.
schema::cert_record find_target(const schema::index_store& index, const serial_number& serial,
                                const std::string& issuer_ref, const std::string& typed = {}, bool decimal = false);

std::string describe_revocation(const schema::cert_record& rec);
std::string optional_time(const std::optional<sys_seconds>& t);
sys_seconds parse_time_option(const std::string& text, std::string_view what, sys_seconds now);

// --- commands, one file per job ---
struct revoke_args {
    std::string serial;
    std::string cert_file;  // --cert FILE.pem instead of a serial
    std::string from_file;  // --from FILE|- : one serial per line, all or nothing
    std::string issuer;
    std::string reason;
    std::string time;
    std::string invalidity_date;
    std::string hold_instruction;
    bool decimal = false;
};

struct init_args {
    std::string owner;  // USER[:GROUP]
    std::string group;
};

struct import_index_args {
    std::string issuer;
    std::string file;
    bool skip_bad = false;
    bool force = false;
};

struct import_cfssl_args {
    std::string certdb;  // CFSSL's certdb: a SQLite file or a PostgreSQL connection string
    bool skip_bad = false;
    bool force = false;
};

struct audit_args {
    std::string since;
    std::string serial;
    std::string issuer;
    bool decimal = false;
    bool json = false;
};

struct crl_args {
    std::string issuer;
    std::string key;             // the CA's private key file, or a pkcs11: URI
    std::string pin_file;        // for a pkcs11: URI without pin-source
    std::string pkcs11_module;   // for a pkcs11: URI
    std::string out;             // "" or "-": standard output
    bool der = false;
    bool pem = false;            // the default
    std::string validity = "7d";
    std::string expired_grace = "30d";  // or "keep"
    std::string rsa_padding = "pkcs1";
};

// index_commands.cpp
int cmd_init(context& c, const init_args& a);
int cmd_issuer_add(context& c, const std::string& file);
int cmd_issuer_list(context& c, bool json);
int cmd_issuer_enable(context& c, const std::string& ref, bool enabled);
int cmd_import_index(context& c, const import_index_args& a);
int cmd_import_certs(context& c, const std::string& issuer_ref, const std::vector<std::string>& paths);
int cmd_import_cfssl(context& c, const import_cfssl_args& a);
int cmd_export(context& c, const std::string& issuer_ref, const std::string& output);
// revoke_commands.cpp
int cmd_revoke(context& c, const revoke_args& a);
int cmd_unrevoke(context& c, const std::string& serial_text, const std::string& issuer_ref, bool decimal);
// output.cpp
int cmd_show(context& c, const std::string& serial_text, const std::string& issuer_ref, bool decimal, bool json);
int cmd_list(context& c, const std::string& status_text, const std::string& issuer_ref, bool json);
int cmd_audit(context& c, const audit_args& a);
// crl_command.cpp
int cmd_crl(context& c, const crl_args& a);
int cmd_import_crl(context& c, const std::string& issuer_ref, const std::string& file);
// backup_commands.cpp
int cmd_backup(context& c, const std::string& file, bool force);
int cmd_restore(context& c, const std::string& file);

}  // namespace ocspkit::ocspctl
