#pragma once
// A throwaway PostgreSQL server for tests: initdb and pg_ctl from Debian's postgresql-15 in a temp
// folder, listening only on a unix socket in that folder, trust authentication, stopped and removed on
// destruction. As root (CI), the server runs as the `postgres` user, since PostgreSQL refuses root.
//   OCSPKIT_PG_BINDIR overrides where initdb and pg_ctl are looked for (default: the newest
//   /usr/lib/postgresql/<version>/bin).
#include <filesystem>
#include <string>

namespace ocspkit::test {

class postgres_server {
public:
    // Throws std::runtime_error with initdb's or pg_ctl's output when the server does not start.
    postgres_server();
    ~postgres_server();
    postgres_server(const postgres_server&) = delete;
    postgres_server& operator=(const postgres_server&) = delete;

    // A libpq key=value string for `dbname` as the superuser "ocspkit".
    std::string conninfo(const std::string& dbname = "postgres") const;
    // Creates a database and returns its conninfo.
    std::string create_database(const std::string& name) const;
    void stop();   // idempotent
    void start();  // after stop(): the same data, socket and port
    const std::filesystem::path& folder() const noexcept { return dir_; }

    // Where initdb and pg_ctl are; empty when PostgreSQL is not installed.
    static std::filesystem::path bindir();

private:
    std::string as_server_user(const std::string& command) const;
    std::filesystem::path dir_;
    int port_ = 0;
    bool running_ = false;
};

}  // namespace ocspkit::test
