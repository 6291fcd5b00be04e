#include "responder/index_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/pem.hpp"
#include "common/unix_account.hpp"

namespace ocspkit::responder {
namespace {

// An fd closed on every path out.
struct fd_owner {
    int fd = -1;
    ~fd_owner() {
        if (fd >= 0) ::close(fd);
    }
};

std::string describe(const struct stat& st) {
    return fmt::format("owner {}, group {}, mode 0{:03o}", user_name(st.st_uid), group_name(st.st_gid),
                       st.st_mode & 0777);
}

std::string describe_path(const std::filesystem::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return p.string();
    return fmt::format("{} ({})", p.string(), describe(st));
}

// Who we run as, for messages, and the chown that makes the index theirs. Root passes every access
// check, so a problem seen as root (a missing file) is about the packaged service user instead.
struct running_as {
    std::string user = ::geteuid() == 0 ? "ocspkit" : user_name(::geteuid());
    std::string group = ::geteuid() == 0 ? "ocspkit" : group_name(::getegid());

    std::string fix(const std::filesystem::path& folder, const std::filesystem::path& database) const {
        return fmt::format("fix: `chown {0}:{1} {2} {3}*` (or make the index with `ocspctl init --db {3} --owner {0}:{1}`, "
                           "or run ocspctl as that user)",
                           user, group, folder.string(), database.string());
    }
};

// SQLite file header (https://www.sqlite.org/fileformat.html §1.3): bytes 18 and 19 are the read and
// write format versions, 2 for WAL. Only a WAL database needs its readers to write the -shm.
bool is_wal_database(int fd) {
    std::array<unsigned char, 20> header{};
    if (::pread(fd, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size())) return false;
    if (std::memcmp(header.data(), "SQLite format 3", 16) != 0) return false;
    return header[18] == 2 || header[19] == 2;
}

}  // namespace

result<file_identity> identify_file(const std::filesystem::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return error{std::error_code(errno, std::generic_category())};
    return file_identity{st.st_dev, st.st_ino};
}

std::string index_access_problem(const std::filesystem::path& database) {
    const running_as me;
    std::filesystem::path folder = database.parent_path();
    if (folder.empty()) folder = ".";
    const std::string who = fmt::format("user {} (that ocsp-responder runs as)", me.user);

    struct stat st {};
    if (::stat(folder.c_str(), &st) != 0) {
        const int e = errno;
        if (e == ENOENT)
            return fmt::format("index folder {} does not exist; create it: `install -d -o {} -g {} -m 0750 {}`, then "
                               "`ocspctl init --db {} --owner {}:{}`",
                               folder.string(), me.user, me.group, folder.string(), database.string(), me.user,
                               me.group);
        return fmt::format("index folder {}: {} cannot reach it: {}; {}", folder.string(), who, std::strerror(e),
                           me.fix(folder, database));
    }
    if (!S_ISDIR(st.st_mode)) return fmt::format("index folder {} is not a folder", folder.string());
    if (::stat(database.c_str(), &st) != 0) {
        const int e = errno;
        if (e == ENOENT)
            return fmt::format("index {} does not exist; make it with `ocspctl init --db {} --owner {}:{}`",
                               database.string(), database.string(), me.user, me.group);
        return fmt::format("index {}: {} cannot reach it: {} (folder {}); {}", database.string(), who,
                           std::strerror(e), describe_path(folder), me.fix(folder, database));
    }
    if (!S_ISREG(st.st_mode)) return fmt::format("index {} is not a regular file", database.string());

    fd_owner db{::open(database.c_str(), O_RDONLY | O_CLOEXEC)};
    if (db.fd < 0)
        return fmt::format("index {} ({}) cannot be read by {}: {}; {}", database.string(), describe(st), who,
                           std::strerror(errno), me.fix(folder, database));
    if (!is_wal_database(db.fd)) return {};

    // In WAL mode every reader maps the -shm read-write to take read locks (even SQLITE_OPEN_READONLY
    // connections), and creates it when it is missing; without that, reads fail with "attempt to write a
    // readonly database" as soon as a writer is active.
    const std::filesystem::path wal = database.string() + "-wal";
    const std::filesystem::path shm = database.string() + "-shm";
    if (::access(wal.c_str(), F_OK) == 0) {
        fd_owner f{::open(wal.c_str(), O_RDONLY | O_CLOEXEC)};
        if (f.fd < 0)
            return fmt::format("index {}: {} cannot read {}: {}; {}", database.string(), who, describe_path(wal),
                               std::strerror(errno), me.fix(folder, database));
    }
    if (::access(shm.c_str(), F_OK) == 0) {
        fd_owner f{::open(shm.c_str(), O_RDWR | O_CLOEXEC)};
        if (f.fd < 0)
            return fmt::format("index {}: {} cannot write {}: {}; SQLite needs every reader of a WAL database to write "
                               "its -shm file; {}",
                               database.string(), who, describe_path(shm), std::strerror(errno),
                               me.fix(folder, database));
    } else if (::faccessat(AT_FDCWD, folder.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
        return fmt::format("index {}: {} cannot create {} in {}: {}; SQLite needs every reader of a WAL database to "
                           "write its -shm file; {}",
                           database.string(), who, shm.filename().string(), describe_path(folder),
                           std::strerror(errno), me.fix(folder, database));
    }
    return {};
}

std::string index_file_problem(const std::filesystem::path& database, const file_identity& opened) {
    auto now = identify_file(database);
    if (!now) return fmt::format("index {}: {}; still answering from the file opened before", database.string(),
                                 now.error_message());
    if (*now != opened)
        return fmt::format("index {} was replaced (inode {}, now {}) and is not reopened yet; answers come from the "
                           "file opened before",
                           database.string(), opened.inode, now->inode);
    return index_access_problem(database);
}

}  // namespace ocspkit::responder
