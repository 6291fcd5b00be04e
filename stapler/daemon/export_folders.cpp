// check_export_folders (config.hpp): the start-up and SIGHUP check that every export can be written.
// Without it a missing nginx_file folder was found only by the first write, after readiness, and nginx
// then refused to start for want of its ssl_stapling_file (issue 10).
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <string>

#include <fcntl.h>
#include <fmt/format.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stapler/daemon/config.hpp"

namespace ocspkit::stapler::daemon {
namespace fs = std::filesystem;

namespace {

// "root (uid 0)": the user the check ran as, which is the one that matters (the daemon checks again
// as its own user at start-up and on SIGHUP).
std::string effective_user() {
    const uid_t uid = ::geteuid();
    passwd pw{};
    passwd* found = nullptr;
    char buffer[1024];
    if (::getpwuid_r(uid, &pw, buffer, sizeof buffer, &found) == 0 && found)
        return fmt::format("{} (uid {})", found->pw_name, uid);
    return fmt::format("uid {}", uid);
}

// Why `file` cannot be written atomically (a temporary in its folder, then rename), with the fix; nullopt
// when it can.
std::optional<std::string> export_problem(const fs::path& file) {
    fs::path folder = file.parent_path();
    if (folder.empty()) folder = ".";
    struct stat st {};
    if (::stat(folder.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT)
            return fmt::format("the folder {0} does not exist; create it, writable by the user ocsp-stapler runs as "
                               "(e.g. install -d -o ocsp-stapler -g ocsp-stapler -m 0755 {0})",
                               folder.string());
        if (err == ENOTDIR)
            return fmt::format("a part of {} is not a folder; point the export at a folder", folder.string());
        return fmt::format("cannot reach the folder {}: {} (checked as {}); let the daemon's user search every "
                           "folder on the way",
                           folder.string(), std::strerror(err), effective_user());
    }
    if (!S_ISDIR(st.st_mode))
        return fmt::format("{} is not a folder; point the export at a folder", folder.string());
    // AT_EACCESS: the effective IDs, the ones open() and rename() use.
    if (::faccessat(AT_FDCWD, folder.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
        const int err = errno;
        if (err == EROFS)
            return fmt::format("the folder {0} is on a read-only file system; under systemd (ProtectSystem=strict) "
                               "add ReadWritePaths={0} to the unit",
                               folder.string());
        return fmt::format("the folder {0} is not writable by {1}: {2}; give the daemon's user write access "
                           "(e.g. chown ocsp-stapler {0}, or a group with g+w), and under systemd add "
                           "ReadWritePaths={0} to the unit",
                           folder.string(), effective_user(), std::strerror(err));
    }
    if (::stat(file.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        return fmt::format("{} is a folder; name a file in it instead", file.string());
    return std::nullopt;
}

}  // namespace

void check_export_folders(const stapler_config& config, const inventory& inv) {
    std::string problems;
    // One line per problem: a missing folder shared by 100 exports (a [[directory]] with haproxy = true)
    // is named once, with the first certificate that needs it.
    std::set<std::string> reported;
    const auto check = [&](const certificate& c, const fs::path& file, const key_location& at) {
        if (file.empty()) return;
        auto problem = export_problem(file);
        if (!problem || !reported.insert(*problem).second) return;
        if (!problems.empty()) problems += '\n';
        problems += fmt::format("{}: certificate '{}': cannot write {}: {}", config_location(config, at), c.name,
                                file.string(), *problem);
    };
    for (const auto& c : inv.certificates) {
        check(c, c.nginx_file, c.nginx_file_at);
        check(c, c.haproxy_file, c.haproxy_at);
    }
    if (!problems.empty()) throw config_error(problems);
}

}  // namespace ocspkit::stapler::daemon
