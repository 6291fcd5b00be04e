#pragma once
// `ocspctl init --owner USER[:GROUP] --group GROUP`: hand the index to the service user. The responder
// runs as that user and, in WAL mode, needs write access to the -shm file even to read (docs/ocspctl.md
// "Ownership").
#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

namespace ocspkit::ocspctl {

struct file_owner {
    uid_t uid;
    gid_t gid;
    std::string user_name;
    std::string group_name;
};

// "ocspkit", "ocspkit:ocspkit", "ocspkit:" (the user's primary group) or numeric ids; --group overrides
// the group. Throws command_error (bad input) naming the unknown user or group.
file_owner resolve_owner(const std::string& owner, const std::string& group);

// chown + chmod 0640 of the database and of its -wal/-shm files when they exist; returns the files
// changed. Throws command_error naming the file and the reason (e.g. "Operation not permitted: run as
// root").
std::vector<std::filesystem::path> apply_owner(const std::filesystem::path& db, const file_owner& owner);

}  // namespace ocspkit::ocspctl
