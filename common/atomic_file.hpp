#pragma once
// Replacing a file so that readers (nginx, the next start of the daemon) see either the old or the new
// content, never a torn file, and the new content survives a crash once the call returned.
#include <cstdint>
#include <filesystem>
#include <span>

#include <sys/types.h>

#include "common/result.hpp"

namespace ocspkit {

// Writes "<path>.tmp.<pid>" with exactly `mode` (the umask does not apply), fsyncs it, rename()s it over
// `path` and fsyncs the directory: rename is atomic within one file system, and the directory entry is
// durable only after the directory's fsync. The pid keeps two processes (an old and a new daemon during
// a restart) from sharing a temporary. On failure (errc::io) the temporary is removed and the message
// names the file and the failing step (create, chmod, write, fsync, close, rename, directory fsync);
// `path` is then either untouched or, if only the directory fsync failed, already replaced.
// Blocking: call it where blocking on the disk is allowed.
status write_file_atomically(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                             mode_t mode = 0644);

}  // namespace ocspkit
