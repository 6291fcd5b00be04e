#pragma once
// RAII for libpq (PostgreSQL's client library): a connection, a result, and one error type that carries
// libpq's message and the SQLSTATE. A connection string may hold a password, so it never appears in a
// message as given: messages name redact_conninfo()'s form.
//
// Queries go through PQexecParams with parameters and results in binary format: no quoting, no text
// round trip for integers and bytea. Callers know their columns' types and read them with the typed
// getters, which check the length libpq reports.
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <libpq-fe.h>

namespace ocspkit::pg {

class pg_error : public std::runtime_error {
public:
    pg_error(std::string what, std::string sqlstate, bool connection_bad)
        : std::runtime_error(std::move(what)), sqlstate_(std::move(sqlstate)), connection_bad_(connection_bad) {}
    // The five-character SQLSTATE ("23505" unique_violation, ...); empty when the server sent none
    // (the connection failed, or libpq itself refused).
    const std::string& sqlstate() const noexcept { return sqlstate_; }
    // The connection is gone (server stopped, network): reconnect, the statement was not the problem.
    bool connection_bad() const noexcept { return connection_bad_; }
    // Worth trying again later rather than a fault of the statement: the connection is gone, the server
    // is shutting down, starting or out of connections (SQLSTATE classes 08, 53, 57P0x), or a hot standby
    // cancelled the query for a conflict with replay (40001).
    bool transient() const noexcept;

private:
    std::string sqlstate_;
    bool connection_bad_;
};

// What a database string names: a file for SQLite, or a PostgreSQL server. PostgreSQL is a libpq URI
// ("postgresql://..." or "postgres://...") or a libpq key=value string ("host=db1 dbname=ocsp ...",
// recognised by its first word being `keyword=`); anything else is a path.
enum class database_kind : std::uint8_t { sqlite_file, postgresql };
database_kind database_kind_of(std::string_view database) noexcept;

// The connection string with any password replaced by "***" (URI user info and `password=` parameter,
// key=value `password`), for logs and messages.
std::string redact_conninfo(std::string_view conninfo);

struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
struct conn_deleter {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;
using conn_ptr = std::unique_ptr<PGconn, conn_deleter>;

// One query parameter: NULL, an integer (sent as int8), text, or bytes (bytea).
using param = std::variant<std::monostate, std::int64_t, std::string_view, std::span<const std::uint8_t>>;

// A query's rows, in binary format.
class result {
public:
    explicit result(result_ptr r) : r_(std::move(r)) {}
    int rows() const noexcept { return PQntuples(r_.get()); }
    int columns() const noexcept { return PQnfields(r_.get()); }
    bool is_null(int row, int column) const noexcept { return PQgetisnull(r_.get(), row, column) != 0; }
    // int2, int4 or int8 columns; throws pg_error for another length or NULL.
    std::int64_t integer(int row, int column) const;
    bool boolean(int row, int column) const;
    std::string text(int row, int column) const;
    std::vector<std::uint8_t> bytes(int row, int column) const;
    // The number of rows an INSERT, UPDATE or DELETE touched.
    std::int64_t affected() const;
    PGresult* get() const noexcept { return r_.get(); }

private:
    result_ptr r_;
};

class connection {
public:
    // Connects (blocking) with a libpq connection string; throws pg_error naming the redacted string
    // and libpq's reason.
    explicit connection(const std::string& conninfo);
    PGconn* get() const noexcept { return conn_.get(); }
    const std::string& redacted() const noexcept { return redacted_; }

    // One or more statements without parameters, results ignored (schema scripts, BEGIN, COMMIT).
    void exec(std::string_view sql);
    // One statement with $1, $2, ... parameters; throws pg_error with the server's message and SQLSTATE.
    // Each distinct statement (text and parameter types) is prepared once per connection and executed
    // by name afterwards, so the server parses and plans it once, not on every lookup.
    result query(std::string_view sql, std::initializer_list<param> params = {});
    result query(std::string_view sql, std::span<const param> params);
    bool healthy() const noexcept { return PQstatus(conn_.get()) == CONNECTION_OK; }

private:
    [[noreturn]] void fail(std::string_view context, const PGresult* r) const;
    // The server-side name of `sql` prepared with `types`, preparing it on first use; empty when the
    // cache is full (the statement then runs unprepared).
    const std::string& prepared_name(const std::string& sql, const std::vector<Oid>& types);

    conn_ptr conn_;
    std::string redacted_;
    // Our statements are fixed texts, so this stays small; the bound guards against a caller that
    // formats values into its SQL.
    static constexpr std::size_t max_prepared = 128;
    std::map<std::pair<std::string, std::vector<Oid>>, std::string> prepared_;
};

}  // namespace ocspkit::pg
