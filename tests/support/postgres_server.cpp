#include "tests/support/postgres_server.hpp"

#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <random>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

#include "tests/support/test_pki.hpp"

namespace ocspkit::test {

namespace {

std::string quoted(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace

std::filesystem::path postgres_server::bindir() {
    if (const char* dir = std::getenv("OCSPKIT_PG_BINDIR"); dir != nullptr && *dir != '\0') return dir;
    std::filesystem::path best;
    std::error_code ec;
    for (const auto& version : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
        if (std::filesystem::exists(version.path() / "bin" / "initdb") && version.path() > best.parent_path())
            best = version.path() / "bin";
    }
    return best;
}

std::string postgres_server::as_server_user(const std::string& command) const {
    return ::geteuid() == 0 ? "runuser -u postgres -- " + command : command;
}

postgres_server::postgres_server() {
    const auto bin = bindir();
    if (bin.empty()) throw std::runtime_error("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)");
    std::string pattern = (std::filesystem::temp_directory_path() / "ocspkit-pg-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
    dir_ = pattern;
    if (::geteuid() == 0) {
        const passwd* pw = ::getpwnam("postgres");
        if (pw == nullptr || ::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
            throw std::runtime_error("running as root needs the postgres user to own " + dir_.string());
    }
    // A port in the dynamic range; the socket lives in our folder, so only its name uses the number.
    std::mt19937 random(std::random_device{}());
    port_ = std::uniform_int_distribution<int>(20000, 60000)(random);
    const auto init = run_command(as_server_user(fmt::format("{} -D {} -U ocspkit --auth=trust -E UTF8 --no-sync",
                                                             quoted((bin / "initdb").string()),
                                                             quoted((dir_ / "data").string()))));
    if (init.exit_code != 0) throw std::runtime_error("initdb failed:\n" + init.output);
    start();
}

void postgres_server::start() {
    if (running_) return;
    const auto bin = bindir();
    // fsync off: a test cluster is thrown away, and durability costs seconds per test.
    const auto started = run_command(as_server_user(fmt::format(
        "{} -D {} -l {} -w -o {} start", quoted((bin / "pg_ctl").string()), quoted((dir_ / "data").string()),
        quoted((dir_ / "server.log").string()),
        quoted(fmt::format("-k {} -p {} -c listen_addresses='' -c fsync=off", dir_.string(), port_)))));
    if (started.exit_code != 0) throw std::runtime_error("pg_ctl start failed:\n" + started.output);
    running_ = true;
}

void postgres_server::stop() {
    if (!running_) return;
    run_command(as_server_user(fmt::format("{} -D {} -m fast -w stop", quoted((bindir() / "pg_ctl").string()),
                                           quoted((dir_ / "data").string()))));
    running_ = false;
}

postgres_server::~postgres_server() {
    try {
        stop();
    } catch (...) {
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

std::string postgres_server::conninfo(const std::string& dbname) const {
    return fmt::format("host={} port={} user=ocspkit dbname={}", dir_.string(), port_, dbname);
}

std::string postgres_server::create_database(const std::string& name) const {
    const auto bin = bindir();
    const auto made = run_command(fmt::format("{} -h {} -p {} -U ocspkit {}", quoted((bin / "createdb").string()),
                                              quoted(dir_.string()), port_, quoted(name)));
    if (made.exit_code != 0) throw std::runtime_error("createdb " + name + " failed:\n" + made.output);
    return conninfo(name);
}

}  // namespace ocspkit::test
