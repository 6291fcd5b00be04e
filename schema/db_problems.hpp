#pragma once
// Why a database cannot be used, said with its path and the command that fixes it (issue 10 "Bad
// input": never an SQLite code alone). The *_message functions are pure, for tests; access_problem()
// and explain() look at the file system.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/sqlite.hpp"

namespace ocspkit::schema {

// What the messages show about a file or folder: its owner, group and permission bits.
struct file_facts {
    std::string owner;
    std::string group;
    unsigned mode = 0;  // permission bits only
};

std::string missing_file_message(const std::filesystem::path& db);
// The folder of `db` is missing; `owner`/`group` go into the suggested `install -d` (the service user).
std::string missing_folder_message(const std::filesystem::path& db, std::string_view owner = "ocspkit",
                                   std::string_view group = "ocspkit");
std::string unreadable_message(const std::filesystem::path& file, const file_facts& facts);
// `what` names the file's role when it is not the database itself ("folder", "WAL index").
std::string unwritable_message(const std::filesystem::path& file, const file_facts& facts, std::string_view what = {});
std::string busy_message(const std::filesystem::path& db, std::chrono::milliseconds waited);
std::string corrupt_message(const std::filesystem::path& db, std::string_view sqlite_says);

// What stands in the way of opening `db` in `mode` as this process's effective user: a missing file or
// folder, no read permission, no write permission on the file, its folder or an existing -wal/-shm (for
// writes). nullopt when nothing visibly stands in the way.
std::optional<std::string> access_problem(const std::filesystem::path& db, sqlite::open_mode mode);

// An SQLite failure on `db` told as the problem behind it: busy, read-only (with the owner and mode of
// the file or folder in the way), corrupt, cannot open. Falls back to SQLite's own words with the path.
std::string explain(const std::filesystem::path& db, const sqlite::sqlite_error& e, sqlite::open_mode mode,
                    std::chrono::milliseconds busy_timeout);

// The facts of an existing file, or nullopt.
std::optional<file_facts> facts_of(const std::filesystem::path& file);

}  // namespace ocspkit::schema
