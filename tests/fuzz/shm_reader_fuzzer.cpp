// libFuzzer target: the staple cache's reader (stapler/shm_reader.hpp) over damaged regions. Every TLS
// server that links libocspstaple maps this file, so whatever is in it must never make the reader read
// outside the region, copy more than the caller's buffer holds, or hand out values out of range.
//
// The first octet picks how the region is made:
//   0: the rest of the input is the region, byte for byte (any header, any slots);
//   1: the input chooses a valid cache (geometry and entries, laid out with shm_layout.hpp as the writer
//      lays them out), then overwrites fuzz-chosen octets of it.
// The region sits in a heap block of exactly its size, so AddressSanitizer sees any read past its end.
// The same bytes are also opened as a file (a memfd): open() must accept and refuse exactly as over().
// Lookups use every key found in the first slots, the entries' own keys and a key that is absent, with
// buffers of fuzz-chosen sizes. Without damage, every entry is found with what was stored.
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stapler/shm_layout.hpp"
#include "stapler/shm_reader.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

namespace layout = ocspkit::stapler::shm_layout;
using ocspkit::fuzz::fuzz_input;
using ocspkit::stapler::cache_key;
using ocspkit::stapler::cert_status;
using ocspkit::stapler::lookup_result;
using ocspkit::stapler::shm_errc;
using ocspkit::stapler::shm_reader;
using ocspkit::stapler::staple_action;
using sys_seconds = std::chrono::sys_seconds;

constexpr sys_seconds now{std::chrono::seconds{1767225600}};

struct stored {
    cache_key key{};
    cert_status status = cert_status::good;
    staple_action action = staple_action::staple;
    staple_action expired = staple_action::no_staple;
    std::int64_t this_update = 0;
    std::int64_t next_update = 0;
    std::vector<std::uint8_t> der;
};

// A valid cache region as shm_writer lays it out, with the entries the input chooses.
std::vector<std::uint8_t> valid_region(fuzz_input& in, std::vector<stored>& entries) {
    const std::uint32_t capacity = 1u << in.in_range(0, 5);
    const std::uint32_t slot_size = static_cast<std::uint32_t>(ocspkit::stapler::shm_min_slot_size + 64 * in.in_range(0, 6));
    layout::header_fields h{ocspkit::stapler::shm_magic, ocspkit::stapler::shm_layout_version,
                            static_cast<std::uint32_t>(ocspkit::stapler::shm_header_size), capacity, slot_size,
                            ocspkit::stapler::shm_header_size + std::uint64_t{capacity} * slot_size};
    std::vector<std::uint8_t> region(h.file_size, 0);
    std::memcpy(region.data(), &h, sizeof h);
    const std::uint64_t generation = in.integer(1);
    std::memcpy(region.data() + layout::off_generation, &generation, 8);

    const std::size_t max_der = slot_size - ocspkit::stapler::shm_slot_header_size;
    const std::size_t count = in.in_range(0, capacity > 1 ? capacity - 1 : 0);  // one slot stays empty
    for (std::size_t i = 0; i < count; ++i) {
        stored e;
        const auto k = in.take(e.key.size());
        std::copy(k.begin(), k.end(), e.key.begin());
        e.key[31] = static_cast<std::uint8_t>(i);  // distinct keys
        e.status = static_cast<cert_status>(in.byte() % 3);
        e.action = static_cast<staple_action>(in.byte() % 3);
        e.expired = static_cast<staple_action>(in.byte() % 3);
        e.this_update = now.time_since_epoch().count() - static_cast<std::int64_t>(in.integer(2));
        e.next_update = now.time_since_epoch().count() + static_cast<std::int64_t>(in.integer(2)) - 32768;
        const auto der = in.take(in.in_range(1, max_der));
        e.der.assign(der.begin(), der.end());
        if (e.der.empty()) e.der.push_back(0x30);
        // Linear probing from the home slot, as the writer inserts.
        std::uint32_t index = layout::home_slot(e.key, capacity);
        while (layout::split_meta(layout::slot_at(region.data(), slot_size, index)[layout::w_meta]).state !=
               layout::state_empty)
            index = (index + 1) & (capacity - 1);
        std::uint64_t* s = layout::slot_at(region.data(), slot_size, index);
        s[layout::w_meta] = layout::make_meta(layout::state_full, e.status, e.action, e.expired,
                                              static_cast<std::uint32_t>(e.der.size()));
        const auto words = layout::key_words(e.key);
        std::memcpy(s + layout::w_key, words.data(), 32);
        std::memcpy(s + layout::w_this_update, &e.this_update, 8);
        std::memcpy(s + layout::w_next_update, &e.next_update, 8);
        std::memcpy(s + layout::w_der, e.der.data(), e.der.size());
        entries.push_back(std::move(e));
    }
    return region;
}

// open() over the same bytes, through a memfd (no file system involved).
std::error_code open_as_file(const std::vector<std::uint8_t>& bytes) {
    const int fd = ::memfd_create("ocspkit-fuzz-shm", MFD_CLOEXEC);
    OCSPKIT_FUZZ_CHECK(fd >= 0);
    std::size_t written = 0;
    while (written < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
        OCSPKIT_FUZZ_CHECK(n > 0);
        written += static_cast<std::size_t>(n);
    }
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    std::error_code ec;
    const auto reader = shm_reader::open(path.c_str(), ec);
    OCSPKIT_FUZZ_CHECK(reader.has_value() == !ec);
    ::close(fd);
    return ec;
}

void check_lookup(const shm_reader& reader, const cache_key& key, std::size_t buffer_size,
                  const stored* expected) {
    // Exactly buffer_size bytes on the heap: a copy past its end is an ASan report.
    const auto buffer = std::make_unique<std::uint8_t[]>(buffer_size == 0 ? 1 : buffer_size);
    lookup_result out;
    const std::error_code ec = reader.lookup(key, {buffer.get(), buffer_size}, now, out);
    if (!ec) {
        OCSPKIT_FUZZ_CHECK(static_cast<std::uint8_t>(out.status) <= 2 && static_cast<std::uint8_t>(out.action) <= 2);
        if (out.action == staple_action::staple) {
            OCSPKIT_FUZZ_CHECK(out.der_len > 0 && out.der_len <= buffer_size && out.der_len <= reader.max_der_len());
        }
    } else {
        OCSPKIT_FUZZ_CHECK(ec.category() == ocspkit::stapler::shm_category());
        OCSPKIT_FUZZ_CHECK(out.action != staple_action::staple);
        if (ec == shm_errc::buffer_too_small) OCSPKIT_FUZZ_CHECK(out.der_len > buffer_size);
    }
    if (expected == nullptr) return;
    // Undamaged: what was stored comes back (unless the buffer is too small for it).
    const bool live = now.time_since_epoch().count() < expected->next_update;
    const staple_action action = live ? expected->action : expected->expired;
    if (action == staple_action::staple && expected->der.size() > buffer_size) {
        OCSPKIT_FUZZ_CHECK(ec == shm_errc::buffer_too_small && out.der_len == expected->der.size());
        return;
    }
    OCSPKIT_FUZZ_CHECK(!ec);
    OCSPKIT_FUZZ_CHECK(out.action == action && out.status == expected->status);
    OCSPKIT_FUZZ_CHECK(out.this_update.time_since_epoch().count() == expected->this_update);
    OCSPKIT_FUZZ_CHECK(out.next_update.time_since_epoch().count() == expected->next_update);
    if (action == staple_action::staple) {
        OCSPKIT_FUZZ_CHECK(out.der_len == expected->der.size());
        OCSPKIT_FUZZ_CHECK(std::memcmp(buffer.get(), expected->der.data(), out.der_len) == 0);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz_input in(data, size);
    const int mode = in.byte() % 2;
    const std::size_t buffer_size = in.in_range(0, 4200);
    std::vector<stored> entries;
    std::vector<std::uint8_t> bytes;
    bool damaged = true;
    if (mode == 0) {
        const auto rest = in.rest();
        bytes.assign(rest.begin(), rest.end());
    } else {
        bytes = valid_region(in, entries);
        const std::size_t edits = in.byte() % 8;
        damaged = edits > 0;
        for (std::size_t i = 0; i < edits; ++i) {
            const std::size_t at = in.integer(3) % bytes.size();
            bytes[at] = in.byte();
        }
    }

    // A heap block of exactly the region's size (new[] is suitably aligned for the 8-byte words).
    const std::size_t n = bytes.size();
    const auto region = std::make_unique<std::uint8_t[]>(n == 0 ? 1 : n);
    if (n != 0) std::memcpy(region.get(), bytes.data(), n);
    std::error_code ec;
    const auto reader = shm_reader::over({region.get(), n}, ec);
    OCSPKIT_FUZZ_CHECK(reader.has_value() == !ec);
    OCSPKIT_FUZZ_CHECK(open_as_file(bytes) == ec);
    if (!reader) {
        OCSPKIT_FUZZ_CHECK(damaged);
        return 0;
    }
    // Accepted: the geometry it will index with fits the region.
    layout::header_fields h{};
    OCSPKIT_FUZZ_CHECK(n >= sizeof h);
    std::memcpy(&h, region.get(), sizeof h);
    OCSPKIT_FUZZ_CHECK(reader->capacity() == h.capacity && (h.capacity & (h.capacity - 1)) == 0);
    OCSPKIT_FUZZ_CHECK(ocspkit::stapler::shm_header_size + std::uint64_t{h.capacity} * h.slot_size <= n);
    OCSPKIT_FUZZ_CHECK(reader->max_der_len() + ocspkit::stapler::shm_slot_header_size == h.slot_size);

    for (std::uint32_t i = 0; i < h.capacity && i < 64; ++i) {
        cache_key key;
        std::memcpy(key.data(), layout::slot_at(region.get(), h.slot_size, i) + layout::w_key, key.size());
        check_lookup(*reader, key, buffer_size, nullptr);
    }
    for (const auto& e : entries) check_lookup(*reader, e.key, buffer_size, damaged ? nullptr : &e);
    cache_key absent{};
    absent.fill(0xEE);
    lookup_result out;
    const auto buffer = std::make_unique<std::uint8_t[]>(64);
    const std::error_code miss = reader->lookup(absent, {buffer.get(), 64}, now, out);
    if (!damaged) OCSPKIT_FUZZ_CHECK(miss == shm_errc::not_found);
    return 0;
}
