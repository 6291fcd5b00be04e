#pragma once
// The write side of the shared-memory staple cache: one writer (the stapling daemon) maps the file
// read-write; TLS servers read it through shm_reader (libocspstaple). The format is in
// stapler/shm_layout.hpp.
//
// One writer per file, enforced with flock() on "<path>.lock". Restarts: the writer re-opens the file in
// place when its header matches the requested geometry, and otherwise builds a new file under a
// temporary name, copies the live entries over, renames it into place and marks the old one "replaced";
// readers keep their mapping of the old file until they reopen. Nothing here throws or logs.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include "stapler/shm_layout.hpp"
#include "stapler/shm_reader.hpp"
#include "stapler/types.hpp"

namespace ocspkit::stapler {

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

    // A reader sharing this writer's mapping, for the writer's process (and for ThreadSanitizer, which
    // only sees races on one virtual address). It does not own the mapping: the writer must outlive it.
    shm_reader reader() const noexcept;

    std::size_t size() const noexcept { return live_; }
    std::uint32_t capacity() const noexcept { return capacity_; }
    std::size_t max_der_len() const noexcept { return slot_size_ - shm_slot_header_size; }
    std::uint64_t generation() const noexcept;
    // True if open() built a new file rather than reusing the existing one.
    bool created() const noexcept { return created_; }

private:
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
