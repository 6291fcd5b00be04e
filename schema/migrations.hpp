#pragma once
// Versioned schema migrations. PRAGMA user_version holds the version a database is at; migration N
// takes it from N-1 to N. Entries are only ever appended: a released migration is never edited, because
// databases in the field have already run it.
#include <span>
#include <string_view>

namespace ocspkit::schema {

struct migration {
    int version;
    std::string_view sql;  // one or more statements, run inside the caller's transaction
};

std::span<const migration> migrations();

// Written to PRAGMA application_id so that a foreign SQLite file is refused instead of migrated ("OCSK").
inline constexpr int application_id = 0x4f43534b;

}  // namespace ocspkit::schema
