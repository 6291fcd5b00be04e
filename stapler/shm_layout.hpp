#pragma once
// The staple cache's format: one home for everything the writer (shm_writer.cpp, in the daemon) and the
// readers (shm_reader.cpp, in libocspstaple and therefore in every TLS server) must agree on.
// docs/stapler.md draws it; in short:
//
//   header (128 bytes)  magic "OCSPSTPL", layout version, header size, capacity, slot size, file size,
//                       generation (+1 at every writer open), flags (bit 0: replaced by a newer file)
//   capacity slots      open addressing with linear probing, keyed by SHA-256 of the leaf's DER;
//                       each slot: seq, meta (state, status, action, action once expired, DER length),
//                       key, thisUpdate, nextUpdate (unix seconds), then the DER response
//
// All multi-byte values are in host byte order: the file never leaves the host. Changing anything here
// changes the format: bump shm_layout_version so that old readers refuse the new file instead of
// misreading it.
//
// Concurrency: each slot is a sequence lock. The writer makes seq odd, stores the data, makes seq even
// again; a reader copies the slot and keeps the copy only if it saw the same even seq before and after.
// Every shared word is accessed through std::atomic_ref (release stores, acquire loads), so there is no
// data race in the C++ sense and ThreadSanitizer can check it.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <system_error>

#include "stapler/types.hpp"

namespace ocspkit::stapler {

// SHA-256 of the leaf certificate's DER.
using cache_key = std::array<std::uint8_t, 32>;

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
// Defined in shm_reader.cpp: the readers need it, and the writer links the reader.
const std::error_category& shm_category() noexcept;
std::error_code make_error_code(shm_errc e) noexcept;

inline constexpr std::uint64_t shm_magic = 0x4C5054535053434FULL;  // "OCSPSTPL" read as little-endian
inline constexpr std::uint32_t shm_layout_version = 1;
inline constexpr std::size_t shm_header_size = 128;
inline constexpr std::size_t shm_slot_header_size = 64;
inline constexpr std::size_t shm_min_slot_size = 128;
inline constexpr std::size_t shm_max_slot_size = 1 << 20;
inline constexpr std::uint32_t shm_max_capacity = 1u << 24;

// The layout's internals: shared by reader and writer, and by tests and fuzz targets that build or
// damage regions by hand. Not part of libocspstaple's interface.
namespace shm_layout {

// The immutable part of the header, written once before the file is renamed into place.
struct header_fields {
    std::uint64_t magic;
    std::uint32_t layout_version;
    std::uint32_t header_size;
    std::uint32_t capacity;  // slots; a power of two
    std::uint32_t slot_size;  // bytes per slot, a multiple of 64
    std::uint64_t file_size;  // header_size + capacity * slot_size
};
static_assert(sizeof(header_fields) == 32);
inline constexpr std::size_t off_generation = 32;  // u64, +1 at every writer open
inline constexpr std::size_t off_flags = 40;       // u64, bit 0: replaced
inline constexpr std::uint64_t flag_replaced = 1;

// Slot words (8 bytes each).
inline constexpr std::size_t w_seq = 0;
inline constexpr std::size_t w_meta = 1;  // state | status << 8 | action << 16 | action_when_expired << 24 | der_len << 32
inline constexpr std::size_t w_key = 2;   // four words
inline constexpr std::size_t w_this_update = 6;
inline constexpr std::size_t w_next_update = 7;
inline constexpr std::size_t w_der = 8;
static_assert(w_der * 8 == shm_slot_header_size);

inline constexpr std::uint8_t state_empty = 0;
inline constexpr std::uint8_t state_full = 1;
inline constexpr std::uint8_t state_tombstone = 2;

static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free,
              "readers map the file read-only: 64-bit atomic loads must be plain loads");

// Readers' mappings are PROT_READ; a lock-free 64-bit atomic load never writes, so casting away const
// for std::atomic_ref (which has no const specialisation in C++20) is sound.
inline std::uint64_t load_acquire(const std::uint64_t* p) noexcept {
    return std::atomic_ref<std::uint64_t>(*const_cast<std::uint64_t*>(p)).load(std::memory_order_acquire);
}
inline std::uint64_t load_relaxed(const std::uint64_t* p) noexcept {
    return std::atomic_ref<std::uint64_t>(*const_cast<std::uint64_t*>(p)).load(std::memory_order_relaxed);
}
inline void store_relaxed(std::uint64_t* p, std::uint64_t v) noexcept {
    std::atomic_ref<std::uint64_t>(*p).store(v, std::memory_order_relaxed);
}
inline void store_release(std::uint64_t* p, std::uint64_t v) noexcept {
    std::atomic_ref<std::uint64_t>(*p).store(v, std::memory_order_release);
}

inline std::uint64_t make_meta(std::uint8_t state, cert_status status, staple_action action,
                               staple_action expired, std::uint32_t der_len) noexcept {
    return std::uint64_t{state} | std::uint64_t{static_cast<std::uint8_t>(status)} << 8 |
           std::uint64_t{static_cast<std::uint8_t>(action)} << 16 |
           std::uint64_t{static_cast<std::uint8_t>(expired)} << 24 | std::uint64_t{der_len} << 32;
}

struct meta_fields {
    std::uint8_t state;
    std::uint8_t status;
    std::uint8_t action;
    std::uint8_t expired;
    std::uint32_t der_len;
};
inline meta_fields split_meta(std::uint64_t m) noexcept {
    return {static_cast<std::uint8_t>(m), static_cast<std::uint8_t>(m >> 8), static_cast<std::uint8_t>(m >> 16),
            static_cast<std::uint8_t>(m >> 24), static_cast<std::uint32_t>(m >> 32)};
}
inline bool valid_status(std::uint8_t v) noexcept { return v <= static_cast<std::uint8_t>(cert_status::unknown); }
inline bool valid_action(std::uint8_t v) noexcept {
    return v <= static_cast<std::uint8_t>(staple_action::not_servable);
}

inline std::array<std::uint64_t, 4> key_words(const cache_key& key) noexcept {
    std::array<std::uint64_t, 4> w{};
    std::memcpy(w.data(), key.data(), key.size());
    return w;
}

// Keys are SHA-256 outputs, so their first eight bytes are already uniformly distributed.
inline std::uint32_t home_slot(const cache_key& key, std::uint32_t capacity) noexcept {
    std::uint64_t h = 0;
    std::memcpy(&h, key.data(), sizeof h);
    return static_cast<std::uint32_t>(h & (capacity - 1));
}

inline std::size_t words_for(std::size_t bytes) noexcept { return (bytes + 7) / 8; }

inline std::uint64_t* header_word(std::uint8_t* base, std::size_t offset) noexcept {
    return reinterpret_cast<std::uint64_t*>(base + offset);
}
inline const std::uint64_t* header_word(const std::uint8_t* base, std::size_t offset) noexcept {
    return reinterpret_cast<const std::uint64_t*>(base + offset);
}

inline std::uint64_t* slot_at(std::uint8_t* base, std::uint32_t slot_size, std::uint32_t index) noexcept {
    return reinterpret_cast<std::uint64_t*>(base + shm_header_size + std::size_t{index} * slot_size);
}
inline const std::uint64_t* slot_at(const std::uint8_t* base, std::uint32_t slot_size, std::uint32_t index) noexcept {
    return reinterpret_cast<const std::uint64_t*>(base + shm_header_size + std::size_t{index} * slot_size);
}

// Copies `len` bytes of DER out of slot words into `out` (which may be unaligned).
inline void copy_der_out(const std::uint64_t* src, std::size_t len, std::uint8_t* out) noexcept {
    const std::size_t full = len / 8;
    for (std::size_t i = 0; i < full; ++i) {
        const std::uint64_t w = load_acquire(src + i);
        std::memcpy(out + i * 8, &w, 8);
    }
    if (const std::size_t rest = len % 8; rest != 0) {
        const std::uint64_t w = load_acquire(src + full);
        std::memcpy(out + full * 8, &w, rest);
    }
}

// Geometry checks shared by reader and writer. Returns ok, or why the header cannot be used.
inline shm_errc check_header(const header_fields& h, std::uint64_t actual_size) noexcept {
    if (h.magic != shm_magic) return shm_errc::bad_magic;
    if (h.layout_version != shm_layout_version) return shm_errc::unsupported_version;
    if (h.header_size != shm_header_size) return shm_errc::corrupt;
    if (h.capacity == 0 || h.capacity > shm_max_capacity || (h.capacity & (h.capacity - 1)) != 0) {
        return shm_errc::corrupt;
    }
    if (h.slot_size < shm_min_slot_size || h.slot_size > shm_max_slot_size || h.slot_size % 64 != 0) {
        return shm_errc::corrupt;
    }
    if (h.file_size != shm_header_size + std::uint64_t{h.capacity} * h.slot_size) return shm_errc::corrupt;
    if (actual_size < h.file_size) return shm_errc::truncated;
    return shm_errc::ok;
}

// Parses the header from `first_bytes` (the start of a file or region whose full size is `size`). A short
// start is `truncated` unless its first bytes already show that it is not ours at all.
inline shm_errc parse_header(std::span<const std::uint8_t> first_bytes, std::uint64_t size,
                             header_fields& h) noexcept {
    std::memset(&h, 0, sizeof h);
    const std::size_t got = first_bytes.size() < sizeof h ? first_bytes.size() : sizeof h;
    if (got != 0) std::memcpy(&h, first_bytes.data(), got);
    if (got < sizeof h.magic) return shm_errc::truncated;
    if (h.magic != shm_magic) return shm_errc::bad_magic;
    if (got < sizeof h) return shm_errc::truncated;
    return check_header(h, size);
}

}  // namespace shm_layout
}  // namespace ocspkit::stapler

template <>
struct std::is_error_code_enum<ocspkit::stapler::shm_errc> : std::true_type {};
