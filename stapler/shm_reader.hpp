#pragma once
// The read side of the shared-memory staple cache: what libocspstaple (and so every TLS server that
// staples) links. It holds no writer code; a ctest (stapler.libocspstaple_links_no_writer) checks that
// on the built library. The format is in stapler/shm_layout.hpp, the writer in stapler/shm_writer.hpp.
//
// The whole interface:
//   shm_reader::open(path, ec)   map a cache file read-only
//   shm_reader::over(region, ec) read a region already in memory (the writer's own mapping, a fuzz input)
//   reader.lookup(key, buffer, now, out)
//   reader.lookup_status(key, now, out)   the same without copying the response (client checks)
// Both constructors check the header against the region's size; lookup() checks every slot value it
// follows, so a damaged or hostile region yields an error (corrupt, truncated, ...), never a read
// outside the region. Nothing here throws, logs or allocates, and after open() nothing enters the
// kernel: a slot that keeps changing under the reader is reported as `busy` after a bounded number of
// attempts, and callers treat it as a miss.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>

#include <openssl/x509.h>

#include "stapler/shm_layout.hpp"
#include "stapler/types.hpp"

namespace ocspkit::stapler {

using sys_seconds = std::chrono::sys_seconds;

// The key of a certificate's entry: SHA-256 of its DER. nullopt for an empty input or a digest failure.
std::optional<cache_key> cache_key_of_der(std::span<const std::uint8_t> cert_der) noexcept;
std::optional<cache_key> cache_key_of(X509* cert) noexcept;

struct lookup_result {
    staple_action action = staple_action::no_staple;  // already resolved against `now`
    cert_status status = cert_status::unknown;
    sys_seconds this_update{};
    sys_seconds next_update{};
    std::size_t der_len = 0;  // bytes copied when action == staple; the size needed on buffer_too_small
};

// Read-only view of a cache. Thread-safe: lookups from any number of threads at once.
class shm_reader {
public:
    // Maps `path` read-only (and pre-faults it). On failure returns nullopt and sets `ec`: a
    // std::system_category() errno, or shm_errc invalid_argument, open_failed (not a regular file),
    // bad_magic, unsupported_version, truncated or corrupt. The mapping lives as long as the reader.
    static std::optional<shm_reader> open(const char* path, std::error_code& ec) noexcept;

    // A reader over `region`, which must start with a cache header, be 8-byte aligned, and outlive the
    // reader (it is not copied and not owned). Same header checks and errors as open(), plus
    // invalid_argument for a misaligned region.
    static std::optional<shm_reader> over(std::span<const std::uint8_t> region, std::error_code& ec) noexcept;

    shm_reader(shm_reader&& other) noexcept;
    shm_reader& operator=(shm_reader&& other) noexcept;
    shm_reader(const shm_reader&) = delete;
    shm_reader& operator=(const shm_reader&) = delete;
    ~shm_reader();

    // Finds `key`. On success `out.action` is the action at `now` (the stored action before nextUpdate,
    // the stored fallback after it) and, when it is `staple`, the DER was copied into `buffer`. Returns
    // not_found, busy, buffer_too_small (out.der_len = size needed), replaced or corrupt otherwise. The
    // contents of `buffer` are unspecified unless the call succeeds with action == staple.
    std::error_code lookup(const cache_key& key, std::span<std::uint8_t> buffer, sys_seconds now,
                           lookup_result& out) const noexcept;
    // As lookup(), for a caller that needs the verdict and not the response: nothing is copied, and
    // out.der_len is the stored response's size.
    std::error_code lookup_status(const cache_key& key, sys_seconds now, lookup_result& out) const noexcept;

    std::size_t max_der_len() const noexcept { return slot_size_ - shm_slot_header_size; }
    std::uint32_t capacity() const noexcept { return capacity_; }
    std::uint64_t generation() const noexcept;
    // True once the writer has moved to a newer file; lookups then fail with `replaced`.
    bool replaced() const noexcept;

private:
    shm_reader() = default;
    void release() noexcept;
    // lookup() with `buffer`, lookup_status() with nullptr.
    std::error_code find(const cache_key& key, std::span<std::uint8_t>* buffer, sys_seconds now,
                         lookup_result& out) const noexcept;

    const std::uint8_t* base_ = nullptr;
    std::size_t map_len_ = 0;  // 0: not ours to unmap
    std::uint32_t capacity_ = 0;
    std::uint32_t slot_size_ = shm_min_slot_size;
};

}  // namespace ocspkit::stapler
