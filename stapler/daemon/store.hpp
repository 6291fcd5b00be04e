#pragma once
// Persistence of the last published response of every certificate: `<state_dir>/<name>.der`, the exact
// DER that was stapled. Written atomically (tmp file, fsync, rename, fsync of the directory), so a
// crash leaves either the old or the new response, never a torn one. Read back and validated again at
// start-up; a file that no longer validates is removed so that it is refetched rather than retried.
//
// Blocking file I/O: the daemon calls these on its disk thread pool, never on the I/O thread.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/result.hpp"
#include "stapler/daemon/config.hpp"
#include "stapler/validate.hpp"

namespace ocspkit::stapler::daemon {

class state_store {
public:
    explicit state_store(std::filesystem::path dir) : dir_(std::move(dir)) {}

    const std::filesystem::path& dir() const noexcept { return dir_; }
    std::filesystem::path file_of(std::string_view name) const { return dir_ / (std::string(name) + ".der"); }

    // Creates the directory (mode 0700) when missing.
    std::error_code prepare() const;

    // nullopt with `ec` clear: no file; nullopt with `ec` set: unreadable.
    std::optional<std::vector<std::uint8_t>> read(std::string_view name, std::error_code& ec) const;
    // Atomic and durable (common/atomic_file.hpp); the error names the file and the failing step.
    status save(std::string_view name, std::span<const std::uint8_t> der) const;
    // Absent is fine.
    std::error_code remove(std::string_view name) const;

    struct restored {
        // Usable at `now`; or an expired permanent revocation (revoked, reason other than
        // certificateHold), kept so that the publishing rules still refuse a later `good` after a restart.
        std::optional<validated_response> response;
        std::optional<std::string> problem;  // why the file was not used (and was removed)
    };
    // Reads `<name>.der` and validates it for `cert` at `now` (no nonce: it was checked when fetched). A
    // file that is unreadable or does not validate is removed; an expired one too, unless it is a
    // permanent revocation (then it stays, and is returned).
    restored restore(const certificate& cert, sys_seconds now, std::chrono::seconds max_skew) const;

private:
    std::filesystem::path dir_;
};

}  // namespace ocspkit::stapler::daemon
