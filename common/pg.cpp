#include "common/pg.hpp"

#include <array>
#include <cctype>
#include <cstring>

namespace ocspkit::pg {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

bool is_keyword_char(char c) noexcept { return (c >= 'a' && c <= 'z') || c == '_'; }

// The message libpq keeps for the connection, without its trailing newline.
std::string connection_message(const PGconn* c) {
    std::string m = c != nullptr ? PQerrorMessage(c) : "out of memory";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
}

// Redacts the value of every `password` key in a key=value string.
std::string redact_key_values(std::string_view s) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        if (std::isspace(static_cast<unsigned char>(s[i]))) {
            out += s[i++];
            continue;
        }
        std::size_t k = i;
        while (k < s.size() && is_keyword_char(s[k])) ++k;
        const std::string_view keyword = s.substr(i, k - i);
        std::size_t eq = k;
        while (eq < s.size() && s[eq] == ' ') ++eq;
        if (eq >= s.size() || s[eq] != '=') {  // not key=value: copy the rest as it is
            out += s.substr(i);
            break;
        }
        std::size_t v = eq + 1;
        while (v < s.size() && s[v] == ' ') ++v;
        std::size_t end = v;
        if (end < s.size() && s[end] == '\'') {  // 'quoted value', with \' and \\ escapes
            ++end;
            while (end < s.size() && s[end] != '\'') end += s[end] == '\\' && end + 1 < s.size() ? 2 : 1;
            if (end < s.size()) ++end;
        } else {
            while (end < s.size() && !std::isspace(static_cast<unsigned char>(s[end]))) ++end;
        }
        out += s.substr(i, v - i);
        out += keyword == "password" ? std::string_view{"***"} : s.substr(v, end - v);
        i = end;
    }
    return out;
}

// Redacts the password of a URI's user info and of its `password` query parameter.
std::string redact_uri(std::string_view s) {
    std::string out(s);
    const std::size_t authority = out.find("://") + 3;
    const std::size_t authority_end = std::min(out.find_first_of("/?", authority), out.size());
    const std::size_t at = out.rfind('@', authority_end == out.size() ? std::string::npos : authority_end);
    if (at != std::string::npos && at >= authority) {
        const std::size_t colon = out.find(':', authority);
        if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
    for (std::size_t p = out.find('?'); p != std::string::npos; p = out.find('&', p + 1)) {
        if (out.compare(p + 1, 9, "password=") != 0) continue;
        const std::size_t value = p + 10;
        const std::size_t end = std::min(out.find('&', value), out.size());
        out.replace(value, end - value, "***");
    }
    return out;
}

std::uint64_t big_endian(const char* p, std::size_t n) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = v << 8 | static_cast<unsigned char>(p[i]);
    return v;
}

// The password a connection string gives, as libpq reads it; empty when it gives none or cannot be parsed.
std::string password_of(const std::string& conninfo) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
    PQfreemem(error);
    std::string password;
    if (options == nullptr) return password;
    for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
        if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr) password = o->val;
    }
    PQconninfoFree(options);
    return password;
}

constexpr Oid int8_oid = 20;
constexpr Oid bytea_oid = 17;

}  // namespace

bool pg_error::transient() const noexcept {
    if (connection_bad_) return true;
    const std::string_view state = sqlstate_;
    return state.starts_with("08") || state.starts_with("53") || state == "57P01" || state == "57P02" ||
           state == "57P03" || state == "40001";
}

database_kind database_kind_of(std::string_view database) noexcept {
    if (starts_with(database, "postgresql://") || starts_with(database, "postgres://")) return database_kind::postgresql;
    std::size_t i = 0;
    while (i < database.size() && database[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < database.size() && is_keyword_char(database[i])) ++i;
    if (i == start) return database_kind::sqlite_file;
    while (i < database.size() && database[i] == ' ') ++i;
    return i < database.size() && database[i] == '=' ? database_kind::postgresql : database_kind::sqlite_file;
}

std::string redact_conninfo(std::string_view conninfo) {
    if (starts_with(conninfo, "postgresql://") || starts_with(conninfo, "postgres://")) return redact_uri(conninfo);
    return redact_key_values(conninfo);
}

std::int64_t result::integer(int row, int column) const {
    const int len = PQgetlength(r_.get(), row, column);
    if (is_null(row, column) || (len != 2 && len != 4 && len != 8))
        throw pg_error("column " + std::to_string(column) + ": not an integer", "", false);
    const std::uint64_t raw = big_endian(PQgetvalue(r_.get(), row, column), static_cast<std::size_t>(len));
    // Sign-extend from the column's width.
    const int shift = 64 - 8 * len;
    return static_cast<std::int64_t>(raw << shift) >> shift;
}

bool result::boolean(int row, int column) const {
    if (is_null(row, column) || PQgetlength(r_.get(), row, column) != 1)
        throw pg_error("column " + std::to_string(column) + ": not a boolean", "", false);
    return PQgetvalue(r_.get(), row, column)[0] != 0;
}

std::string result::text(int row, int column) const {
    return {PQgetvalue(r_.get(), row, column), static_cast<std::size_t>(PQgetlength(r_.get(), row, column))};
}

std::vector<std::uint8_t> result::bytes(int row, int column) const {
    const auto* p = reinterpret_cast<const std::uint8_t*>(PQgetvalue(r_.get(), row, column));
    return {p, p + PQgetlength(r_.get(), row, column)};
}

std::int64_t result::affected() const {
    const char* n = PQcmdTuples(r_.get());
    return n == nullptr || *n == '\0' ? 0 : std::stoll(n);
}

connection::connection(const std::string& conninfo) : redacted_(redact_conninfo(conninfo)) {
    // Defaults first, the caller's string last (expand_dbname): what the operator wrote wins. Without a
    // connect timeout, a server behind a dropped route holds the connecting thread for minutes (the
    // kernel's SYN retries); without keepalives, a query on a half-open TCP connection never returns.
    static constexpr const char* keywords[] = {"connect_timeout",     "keepalives",          "keepalives_idle",
                                               "keepalives_interval", "keepalives_count",    "fallback_application_name",
                                               "dbname",              nullptr};
    const char* values[] = {"5", "1", "10", "5", "3", "ocspkit", conninfo.c_str(), nullptr};
    conn_.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
        std::string message = connection_message(conn_.get());
        // libpq's reasons quote parts of the string ("invalid value for parameter ..."): never the password.
        if (const auto password = password_of(conninfo); !password.empty()) {
            for (auto at = message.find(password); at != std::string::npos; at = message.find(password, at + 3))
                message.replace(at, password.size(), "***");
        }
        throw pg_error("cannot connect to PostgreSQL at " + redacted_ + ": " + message, "", true);
    }
}

void connection::fail(std::string_view context, const PGresult* r) const {
    std::string message = r != nullptr ? PQresultErrorMessage(r) : "";
    if (message.empty()) message = connection_message(conn_.get());
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    throw pg_error("PostgreSQL at " + redacted_ + ": " + std::string(context) + ": " + message, state ? state : "",
                   PQstatus(conn_.get()) != CONNECTION_OK);
}

void connection::exec(std::string_view sql) {
    const std::string text(sql);
    result_ptr r{PQexec(conn_.get(), text.c_str())};
    const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(sql.substr(0, 60), r.get());
}

const std::string& connection::prepared_name(const std::string& sql, const std::vector<Oid>& types) {
    static const std::string unprepared;
    // Statements without parameters (cursor FETCHes, counts, utility statements) run rarely or carry
    // names that change: they are not worth a server-side statement each.
    if (types.empty()) return unprepared;
    auto key = std::make_pair(sql, types);
    if (auto found = prepared_.find(key); found != prepared_.end()) return found->second;
    if (prepared_.size() >= max_prepared) return unprepared;
    // Prepared statements belong to the session, not to the transaction: one prepared inside a
    // transaction that rolls back stays usable.
    std::string name = "ocspkit_" + std::to_string(prepared_.size() + 1);
    result_ptr r{PQprepare(conn_.get(), name.c_str(), sql.c_str(), static_cast<int>(types.size()), types.data())};
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) fail(std::string_view(sql).substr(0, 60), r.get());
    return prepared_.emplace(std::move(key), std::move(name)).first->second;
}

result connection::query(std::string_view sql, std::initializer_list<param> params) {
    return query(sql, std::span<const param>(params.begin(), params.size()));
}

result connection::query(std::string_view sql, std::span<const param> params) {
    const std::size_t n = params.size();
    std::vector<Oid> types(n, 0);
    std::vector<const char*> values(n, nullptr);
    std::vector<int> lengths(n, 0);
    std::vector<int> formats(n, 0);
    std::vector<std::array<char, 8>> integers(n);
    std::vector<std::string> texts(n);  // text parameters need their terminating NUL
    for (std::size_t i = 0; i < n; ++i) {
        if (const auto* v = std::get_if<std::int64_t>(&params[i])) {
            const auto u = static_cast<std::uint64_t>(*v);
            for (int b = 0; b < 8; ++b) integers[i][static_cast<std::size_t>(b)] = static_cast<char>(u >> (56 - 8 * b));
            types[i] = int8_oid;
            values[i] = integers[i].data();
            lengths[i] = 8;
            formats[i] = 1;
        } else if (const auto* t = std::get_if<std::string_view>(&params[i])) {
            texts[i] = std::string(*t);
            values[i] = texts[i].c_str();
        } else if (const auto* b = std::get_if<std::span<const std::uint8_t>>(&params[i])) {
            types[i] = bytea_oid;
            values[i] = reinterpret_cast<const char*>(b->data());
            lengths[i] = static_cast<int>(b->size());
            formats[i] = 1;
        }
    }
    const std::string text(sql);
    const std::string& name = prepared_name(text, types);
    result_ptr r{name.empty() ? PQexecParams(conn_.get(), text.c_str(), static_cast<int>(n), types.data(),
                                             values.data(), lengths.data(), formats.data(), /*binary*/ 1)
                              : PQexecPrepared(conn_.get(), name.c_str(), static_cast<int>(n), values.data(),
                                               lengths.data(), formats.data(), /*binary*/ 1)};
    const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(sql.substr(0, 60), r.get());
    return result(std::move(r));
}

}  // namespace ocspkit::pg
