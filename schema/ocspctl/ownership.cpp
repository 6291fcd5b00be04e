#include "schema/ocspctl/ownership.hpp"

#include <cerrno>
#include <cstring>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/unix_account.hpp"
#include "schema/db_problems.hpp"
#include "schema/ocspctl/internal.hpp"

namespace ocspkit::ocspctl {

namespace {

bool numeric(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() < 10;
}

}  // namespace

file_owner resolve_owner(const std::string& owner, const std::string& group) {
    std::string user_part = owner;
    std::string group_part = group;
    if (const auto colon = owner.find(':'); colon != std::string::npos) {
        user_part = owner.substr(0, colon);
        if (group_part.empty()) group_part = owner.substr(colon + 1);
    }
    file_owner out{static_cast<uid_t>(-1), static_cast<gid_t>(-1), {}, {}};
    if (!user_part.empty()) {
        struct passwd pw {};
        struct passwd* found = nullptr;
        char buffer[4096];
        if (::getpwnam_r(user_part.c_str(), &pw, buffer, sizeof buffer, &found) == 0 && found) {
            out.uid = found->pw_uid;
            if (group_part.empty()) out.gid = found->pw_gid;  // "USER" and "USER:" take the primary group
        } else if (numeric(user_part)) {
            out.uid = static_cast<uid_t>(std::stoul(user_part));
        } else {
            bad_input(fmt::format("--owner {}: no such user (create it first, e.g. `adduser --system --group {}`)",
                                  user_part, user_part));
        }
    }
    if (!group_part.empty()) {
        struct group gr {};
        struct group* found = nullptr;
        char buffer[4096];
        if (::getgrnam_r(group_part.c_str(), &gr, buffer, sizeof buffer, &found) == 0 && found) {
            out.gid = found->gr_gid;
        } else if (numeric(group_part)) {
            out.gid = static_cast<gid_t>(std::stoul(group_part));
        } else {
            bad_input(fmt::format("--group {}: no such group", group_part));
        }
    }
    // Unchanged parts keep the file's current owner or group (chown with -1); names are for messages.
    out.user_name = out.uid == static_cast<uid_t>(-1) ? std::string{"(unchanged)"} : user_name(out.uid);
    out.group_name = out.gid == static_cast<gid_t>(-1) ? std::string{"(unchanged)"} : group_name(out.gid);
    return out;
}

std::vector<std::filesystem::path> apply_owner(const std::filesystem::path& db, const file_owner& owner) {
    std::vector<std::filesystem::path> changed;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        const std::filesystem::path file = db.string() + suffix;
        struct stat st {};
        if (::lstat(file.c_str(), &st) != 0) {
            if (errno == ENOENT && *suffix != '\0') continue;  // -wal/-shm exist only while in use
            bad_input(fmt::format("{}: cannot stat: {}", file.string(), std::strerror(errno)));
        }
        // Refuse symlinks: chown would follow one to whatever it names.
        if (!S_ISREG(st.st_mode)) bad_input(fmt::format("{}: not a regular file; ownership not changed", file.string()));
        if (::chown(file.c_str(), owner.uid, owner.gid) != 0) {
            const int e = errno;
            bad_input(fmt::format("{}: cannot change the owner to {}:{}: {}{}", file.string(), owner.user_name,
                                  owner.group_name, std::strerror(e),
                                  e == EPERM ? " (run ocspctl init --owner as root)" : ""));
        }
        if (::chmod(file.c_str(), 0640) != 0) {
            bad_input(fmt::format("{}: cannot change the mode to 0640: {}", file.string(), std::strerror(errno)));
        }
        changed.push_back(file);
    }
    return changed;
}

}  // namespace ocspkit::ocspctl
