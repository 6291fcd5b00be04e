#pragma once
// The shared-memory staple cache: a file that one writer (the stapling daemon) maps read-write and any
// number of TLS server processes map read-only. docs/stapler.md draws the layout; in short:
//
//   header (128 bytes)  magic "OCSPSTPL", layout version, header size, capacity, slot size, file size,
//                       generation (+1 at every writer open), flags (bit 0: replaced by a newer file)
//   capacity slots      open addressing with linear probing, keyed by SHA-256 of the leaf's DER;
//                       each slot: seq, meta (state, status, action, action once expired, DER length),
//                       key, thisUpdate, nextUpdate (unix seconds), then the DER response
//
// Concurrency: one writer per file, enforced with flock(). Each slot is a sequence lock: the writer makes
// seq odd, stores the data, makes seq even again; a reader copies the slot and keeps the copy only if it
// saw the same even seq before and after. Every shared word is accessed through std::atomic_ref (release
// stores, acquire loads), so there is no data race in the C++ sense and ThreadSanitizer can check it.
// Readers never block and never enter the kernel after open(): a slot that keeps changing under them is
// reported as `busy` after a bounded number of attempts, and callers treat it as a miss.
//
// Restarts: the writer re-opens the file in place when its header matches the requested geometry, and
// otherwise builds a new file under a temporary name, copies the live entries over, renames it into
// place and marks the old one "replaced"; readers keep their mapping of the old file until they reopen.
//
// Nothing here throws, logs or allocates on the reader's lookup path.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include <openssl/x509.h>

#include "stapler/types.hpp"

namespace ocspkit::stapler {

using sys_seconds = std::chrono::sys_seconds;

// SHA-256 of the leaf certificate's DER.
using cache_key = std::array<std::uint8_t, 32>;
std::optional<cache_key> cache_key_of_der(std::span<const std::uint8_t> cert_der) noexcept;
std::optional<cache_key> cache_key_of(X509* cert) noexcept;

// Values 1..12 are also the C API's OCSP_STAPLE_ERR_* codes (stapler/include/ocsp_staple.h).
// Failing system calls are reported as std::system_category() codes instead (errno).
enum class shm_errc : int {
    ok = 0,
    invalid_argument = 1,
    not_found = 2,            // no entry for this key
    buffer_too_small = 3,     // the response is larger than the caller's buffer
    busy = 4,                 // the slot kept changing under the reader; treat as a miss
    open_failed = 5,          // the file could not be opened or mapped
    bad_magic = 6,            // not a staple cache file
    unsupported_version = 7,  // written by another layout version
    truncated = 8,            // shorter than its header says
    corrupt = 9,              // header or slot values out of range
    replaced = 10,            // the writer moved to a newer file: reopen
    no_memory = 11,
    internal = 12,
    // Writer only.
    locked = 13,           // another writer holds the file
    full = 14,             // no free slot within the load limit
    entry_too_large = 15,  // the DER does not fit a slot
    bad_options = 16,      // capacity or slot size out of range
};
const std::error_category& shm_category() noexcept;
std::error_code make_error_code(shm_errc e) noexcept;

inline constexpr std::uint64_t shm_magic = 0x4C5054535053434FULL;  // "OCSPSTPL" read as little-endian
inline constexpr std::uint32_t shm_layout_version = 1;
inline constexpr std::size_t shm_header_size = 128;
inline constexpr std::size_t shm_slot_header_size = 64;
inline constexpr std::size_t shm_min_slot_size = 128;
inline constexpr std::size_t shm_max_slot_size = 1 << 20;
inline constexpr std::uint32_t shm_max_capacity = 1u << 24;

// The slot count a writer uses for a requested capacity: the next power of two (0 stays 0).
constexpr std::uint32_t shm_table_size(std::uint32_t requested) noexcept {
    if (requested == 0) return 0;
    std::uint32_t n = 1;
    while (n < requested && n < (1u << 31)) n <<= 1;
    return n;
}

// The most live entries a writer opened with `requested` slots accepts: 7/8 of the table, so that misses
// (every handshake of a certificate not in the cache) stay short, and never every slot: at least one
// stays empty so that a probe chain ends at an empty slot. With fewer than 8 slots, 7/8 rounds to all of
// them, hence the second rule (4 slots hold 3 entries, 2 hold 1, 1 holds none).
constexpr std::uint32_t shm_max_entries(std::uint32_t requested) noexcept {
    const std::uint32_t slots = shm_table_size(requested);
    const std::uint32_t reserved = slots / 8 > 1 ? slots / 8 : 1;
    return slots > reserved ? slots - reserved : 0;
}

struct shm_options {
    std::uint32_t capacity = 4096;  // slots; rounded up to a power of two; shm_max_entries() are ever filled
    std::uint32_t slot_size = 4096;  // bytes per slot including its 64-byte header; a multiple of 64
};

// What the writer publishes for one certificate.
struct cache_entry {
    cert_status status = cert_status::unknown;
    staple_action action = staple_action::no_staple;          // while now < next_update
    staple_action action_when_expired = staple_action::no_staple;  // once now >= next_update
    sys_seconds this_update{};
    sys_seconds next_update{};
    std::span<const std::uint8_t> der;  // the response to staple; may be empty unless action == staple
};

struct stored_entry {
    cert_status status = cert_status::unknown;
    staple_action action = staple_action::no_staple;
    staple_action action_when_expired = staple_action::no_staple;
    sys_seconds this_update{};
    sys_seconds next_update{};
    std::vector<std::uint8_t> der;
};

struct lookup_result {
    staple_action action = staple_action::no_staple;  // already resolved against `now`
    cert_status status = cert_status::unknown;
    sys_seconds this_update{};
    sys_seconds next_update{};
    std::size_t der_len = 0;  // bytes copied when action == staple; the size needed on buffer_too_small
};

class shm_writer;

// Read-only view of a cache file. Thread-safe: lookups from any number of threads at once.
class shm_reader {
public:
    // Maps `path` read-only (and pre-faults it). On failure returns nullopt and sets `ec`.
    static std::optional<shm_reader> open(const char* path, std::error_code& ec) noexcept;
    // A reader sharing the writer's own mapping, for the writer's process (and for ThreadSanitizer,
    // which only sees races on one virtual address). Does not own the mapping: `writer` must outlive it.
    static shm_reader attach(const shm_writer& writer) noexcept;

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

    std::size_t max_der_len() const noexcept { return slot_size_ - shm_slot_header_size; }
    std::uint32_t capacity() const noexcept { return capacity_; }
    std::uint64_t generation() const noexcept;
    bool replaced() const noexcept;

private:
    shm_reader() = default;
    void release() noexcept;

    std::uint8_t* base_ = nullptr;
    std::size_t map_len_ = 0;  // 0: not ours to unmap
    std::uint32_t capacity_ = 0;
    std::uint32_t slot_size_ = shm_min_slot_size;
};

// The single writer. Not thread-safe: the daemon calls it from one thread (or under its own lock).
class shm_writer {
public:
    // Opens `path` in place if its header matches `options`, otherwise creates a new file (moving the
    // live entries of a readable old one over) and atomically renames it into place. Fails with `locked`
    // if another writer holds the file.
    static std::unique_ptr<shm_writer> open(const std::filesystem::path& path, shm_options options,
                                            std::error_code& ec) noexcept;
    ~shm_writer();
    shm_writer(const shm_writer&) = delete;
    shm_writer& operator=(const shm_writer&) = delete;

    // Inserts or overwrites. Fails with entry_too_large, full, or invalid_argument (action staple with no
    // DER, or a value out of range).
    std::error_code put(const cache_key& key, const cache_entry& entry) noexcept;
    // Leaves a tombstone (or an empty slot when that keeps every probe chain intact). False if absent.
    bool remove(const cache_key& key) noexcept;
    // The writer's own read-back, e.g. to restore "last good response" state after a restart.
    std::optional<stored_entry> get(const cache_key& key) const;
    // Every live entry; for the daemon's restart and for diagnostics.
    std::vector<std::pair<cache_key, stored_entry>> entries() const;

    std::size_t size() const noexcept { return live_; }
    std::uint32_t capacity() const noexcept { return capacity_; }
    std::size_t max_der_len() const noexcept { return slot_size_ - shm_slot_header_size; }
    std::uint64_t generation() const noexcept;
    // True if open() built a new file rather than reusing the existing one.
    bool created() const noexcept { return created_; }

private:
    friend class shm_reader;
    shm_writer() = default;
    std::uint64_t* slot(std::uint32_t index) const noexcept;
    std::optional<std::uint32_t> find(const cache_key& key) const noexcept;
    void write_slot(std::uint32_t index, std::uint64_t meta, const cache_key& key, std::int64_t this_update,
                    std::int64_t next_update, std::span<const std::uint8_t> der) noexcept;
    void write_state(std::uint32_t index, std::uint8_t state) noexcept;
    void recover() noexcept;

    int fd_ = -1;
    std::uint8_t* base_ = nullptr;
    std::size_t map_len_ = 0;
    std::uint32_t capacity_ = 0;
    std::uint32_t slot_size_ = 0;
    std::size_t live_ = 0;
    bool created_ = false;
};

}  // namespace ocspkit::stapler

template <>
struct std::is_error_code_enum<ocspkit::stapler::shm_errc> : std::true_type {};
