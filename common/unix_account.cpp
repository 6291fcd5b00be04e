#include "common/unix_account.hpp"

#include <grp.h>
#include <pwd.h>

namespace ocspkit {

std::string user_name(unsigned uid) {
    struct passwd pw {};
    struct passwd* found = nullptr;
    char buffer[4096];
    if (::getpwuid_r(uid, &pw, buffer, sizeof buffer, &found) == 0 && found) return found->pw_name;
    return std::to_string(uid);
}

std::string group_name(unsigned gid) {
    struct group gr {};
    struct group* found = nullptr;
    char buffer[4096];
    if (::getgrgid_r(gid, &gr, buffer, sizeof buffer, &found) == 0 && found) return found->gr_name;
    return std::to_string(gid);
}

}  // namespace ocspkit
