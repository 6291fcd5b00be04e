#pragma once
// ocspctl: the administration tool for the certificate index. Lives in a library so that tests run the
// exact command-line code, with their own streams and clock.
#include <chrono>
#include <istream>
#include <ostream>

namespace ocspkit::ocspctl {

// Documented in every --help footer; scripts depend on them.
enum class exit_status : int {
    ok = 0,
    bad_input = 1,       // usage error, unreadable or malformed input, a refused change
    not_found = 2,       // the serial or issuer is not in the database
    database_error = 3,  // database missing, locked by another writer, newer schema, SQLite failure
};

// Runs one command line. `now` is the time revocations default to; nothing below reads the clock. `in`
// is read by `revoke --from -`. The environment is read here and only here: OCSPKIT_DB, and the user
// (geteuid) and SUDO_USER recorded in the audit table.
int run(int argc, const char* const* argv, std::istream& in, std::ostream& out, std::ostream& err,
        std::chrono::sys_seconds now);
// The same with std::cin.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err, std::chrono::sys_seconds now);

}  // namespace ocspkit::ocspctl
