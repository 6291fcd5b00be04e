#pragma once
// The index as a file: whether the user the responder runs as can use it (read the database, write
// the -shm that SQLite readers of a WAL database need), and whether the path still names the file
// the responder opened. An SQLite connection keeps reading the inode it opened, so a database
// replaced by `mv` or `cp` over it would otherwise go unnoticed for ever.
//
// Problems are returned as text that names the path, the user and the fix; "" means fine. These run
// at start-up, in --check-config, on /health and on each change poll: a few stat()/open() calls.
#include <sys/types.h>

#include <filesystem>
#include <string>

#include "common/result.hpp"

namespace ocspkit::responder {

struct file_identity {
    dev_t device = 0;
    ino_t inode = 0;
    friend bool operator==(const file_identity&, const file_identity&) = default;
};

// The identity of what `file` names now, or the reason it cannot be stat'ed ("No such file or directory").
result<file_identity> identify_file(const std::filesystem::path& file);

// Whether the effective user can open `database` read-only for good: the folder and file exist and are
// readable, and for a WAL database the -wal is readable and the -shm writable (or creatable in the folder).
std::string index_access_problem(const std::filesystem::path& database);

// index_access_problem() plus "the path still names the file opened as `opened`".
std::string index_file_problem(const std::filesystem::path& database, const file_identity& opened);

}  // namespace ocspkit::responder
