#include "common/atomic_file.hpp"

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ocspkit {

namespace {

error errno_error(std::string_view what, const std::filesystem::path& path, int err) {
    return error{errc::io, std::string(what) + " " + path.string() + ": " + std::strerror(err)};
}

// Closes on scope exit; the fd is -1 once closed explicitly.
class fd_guard {
public:
    explicit fd_guard(int fd) noexcept : fd_(fd) {}
    ~fd_guard() { reset(); }
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    int get() const noexcept { return fd_; }
    // close() can report a deferred write error (NFS), so the success path checks it.
    int reset() noexcept {
        int rc = 0;
        if (fd_ >= 0) rc = ::close(fd_);
        fd_ = -1;
        return rc;
    }

private:
    int fd_;
};

status write_all(int fd, std::span<const std::uint8_t> bytes, const std::filesystem::path& path) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error("cannot write", path, errno);
        }
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return success();
}

}  // namespace

status write_file_atomically(const std::filesystem::path& path, std::span<const std::uint8_t> bytes, mode_t mode) {
    std::filesystem::path tmp = path;
    tmp += ".tmp." + std::to_string(::getpid());
    fd_guard fd{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)};
    if (fd.get() < 0) return errno_error("cannot create", tmp, errno);
    auto fail = [&](error e) {
        fd.reset();
        ::unlink(tmp.c_str());
        return status{std::move(e)};
    };
    // open() applied the umask; readers such as nginx workers need exactly `mode`.
    if (::fchmod(fd.get(), mode) != 0) return fail(errno_error("cannot chmod", tmp, errno));
    if (auto w = write_all(fd.get(), bytes, tmp); !w) return fail(std::move(w).failure());
    if (::fsync(fd.get()) != 0) return fail(errno_error("cannot fsync", tmp, errno));
    if (fd.reset() != 0) return fail(errno_error("cannot close", tmp, errno));
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno_error("cannot rename onto", path, errno));

    std::filesystem::path dir = path.parent_path();
    if (dir.empty()) dir = ".";
    fd_guard dfd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (dfd.get() < 0) return errno_error("cannot open directory", dir, errno);
    if (::fsync(dfd.get()) != 0) return errno_error("cannot fsync directory", dir, errno);
    return success();
}

}  // namespace ocspkit
