// The shared-memory cache, single-threaded: contents, restarts, and files that are not what they claim.
#include "stapler/shm_writer.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <gtest/gtest.h>

#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler {
namespace {

using namespace std::chrono_literals;
using ocspkit::test::reference_time;
using ocspkit::test::temp_dir;
using bytes = std::vector<std::uint8_t>;

constexpr sys_seconds now = reference_time;

cache_key key_n(std::uint32_t n, std::uint64_t home = 0) {
    cache_key k{};
    // The first eight octets choose the home slot; the rest tells keys apart.
    const std::uint64_t h = home != 0 ? home : 0x9e3779b97f4a7c15ULL * (n + 1);
    std::memcpy(k.data(), &h, sizeof h);
    std::memcpy(k.data() + 8, &n, sizeof n);
    k[31] = 0x5a;
    return k;
}

bytes der_n(std::size_t len, std::uint8_t seed) {
    bytes b(len);
    for (std::size_t i = 0; i < len; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
    return b;
}

cache_entry staple_entry(const bytes& der, staple_action when_expired = staple_action::no_staple) {
    cache_entry e;
    e.status = cert_status::good;
    e.action = staple_action::staple;
    e.action_when_expired = when_expired;
    e.this_update = now - 1h;
    e.next_update = now + 24h;
    e.der = der;
    return e;
}

std::unique_ptr<shm_writer> open_writer(const std::filesystem::path& path, shm_options o = {64, 512}) {
    std::error_code ec;
    auto w = shm_writer::open(path, o, ec);
    EXPECT_TRUE(w) << ec.message();
    return w;
}

shm_reader open_reader(const std::filesystem::path& path) {
    std::error_code ec;
    auto r = shm_reader::open(path.c_str(), ec);
    if (!r) throw std::runtime_error("cannot open reader: " + ec.message());
    return std::move(*r);
}

std::error_code open_error(const std::filesystem::path& path) {
    std::error_code ec;
    auto r = shm_reader::open(path.c_str(), ec);
    EXPECT_FALSE(r.has_value());
    return ec;
}

struct found {
    std::error_code ec;
    lookup_result result;
    bytes der;
};

found lookup(const shm_reader& r, const cache_key& key, sys_seconds at = now, std::size_t cap = 4096) {
    found f;
    f.der.resize(cap);
    f.ec = r.lookup(key, f.der, at, f.result);
    f.der.resize(!f.ec && f.result.action == staple_action::staple ? f.result.der_len : 0);
    return f;
}

void patch_file(const std::filesystem::path& path, std::size_t offset, const void* data, std::size_t len) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.is_open());
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(static_cast<const char*>(data), static_cast<std::streamsize>(len));
    ASSERT_TRUE(f.good());
}

std::size_t slot_offset(std::uint32_t index, std::uint32_t slot_size) { return shm_header_size + index * slot_size; }

TEST(shm_cache, put_then_lookup_copies_the_exact_bytes) {
    temp_dir dir;
    auto w = open_writer(dir / "cache");
    const bytes der = der_n(333, 1);
    ASSERT_FALSE(w->put(key_n(1), staple_entry(der)));
    EXPECT_EQ(w->size(), 1U);

    const shm_reader r = open_reader(dir / "cache");
    const found f = lookup(r, key_n(1));
    ASSERT_FALSE(f.ec) << f.ec.message();
    EXPECT_EQ(f.result.action, staple_action::staple);
    EXPECT_EQ(f.result.status, cert_status::good);
    EXPECT_EQ(f.result.this_update, now - 1h);
    EXPECT_EQ(f.result.next_update, now + 24h);
    EXPECT_EQ(f.der, der);
    EXPECT_EQ(lookup(r, key_n(2)).ec, shm_errc::not_found);
}

TEST(shm_cache, every_length_up_to_the_slot_survives_the_word_copy) {
    temp_dir dir;
    auto w = open_writer(dir / "cache", {64, 128});
    const shm_reader r = open_reader(dir / "cache");
    ASSERT_EQ(r.max_der_len(), 64U);
    for (std::size_t len = 1; len <= r.max_der_len(); ++len) {
        const bytes der = der_n(len, static_cast<std::uint8_t>(len));
        ASSERT_FALSE(w->put(key_n(7), staple_entry(der)));
        EXPECT_EQ(lookup(r, key_n(7)).der, der) << len;
    }
    EXPECT_EQ(w->put(key_n(7), staple_entry(der_n(65, 0))), shm_errc::entry_too_large);
}

TEST(shm_cache, overwrite_replaces_the_entry_in_place) {
    temp_dir dir;
    auto w = open_writer(dir / "cache");
    ASSERT_FALSE(w->put(key_n(1), staple_entry(der_n(400, 1))));
    const bytes shorter = der_n(100, 9);
    cache_entry e = staple_entry(shorter);
    e.status = cert_status::revoked;
    ASSERT_FALSE(w->put(key_n(1), e));
    EXPECT_EQ(w->size(), 1U);
    const found f = lookup(open_reader(dir / "cache"), key_n(1));
    ASSERT_FALSE(f.ec);
    EXPECT_EQ(f.der, shorter);
    EXPECT_EQ(f.result.status, cert_status::revoked);
}

TEST(shm_cache, verdicts_other_than_staple_copy_nothing) {
    temp_dir dir;
    auto w = open_writer(dir / "cache");
    cache_entry soft;
    soft.status = cert_status::unknown;
    soft.action = staple_action::no_staple;
    soft.next_update = now + 1h;
    cache_entry hard = soft;
    hard.action = staple_action::not_servable;
    hard.action_when_expired = staple_action::not_servable;
    ASSERT_FALSE(w->put(key_n(1), soft));
    ASSERT_FALSE(w->put(key_n(2), hard));
    const shm_reader r = open_reader(dir / "cache");
    const found a = lookup(r, key_n(1));
    const found b = lookup(r, key_n(2));
    ASSERT_FALSE(a.ec);
    ASSERT_FALSE(b.ec);
    EXPECT_EQ(a.result.action, staple_action::no_staple);
    EXPECT_EQ(b.result.action, staple_action::not_servable);
    EXPECT_EQ(a.result.der_len, 0U);
    EXPECT_EQ(b.result.der_len, 0U);
}

TEST(shm_cache, an_expired_entry_falls_back_and_is_never_stapled) {
    temp_dir dir;
    auto w = open_writer(dir / "cache");
    ASSERT_FALSE(w->put(key_n(1), staple_entry(der_n(50, 1), staple_action::no_staple)));
    ASSERT_FALSE(w->put(key_n(2), staple_entry(der_n(50, 2), staple_action::not_servable)));
    const shm_reader r = open_reader(dir / "cache");
    EXPECT_EQ(lookup(r, key_n(1), now + 24h - 1s).result.action, staple_action::staple);
    const found soft = lookup(r, key_n(1), now + 24h);
    ASSERT_FALSE(soft.ec);
    EXPECT_EQ(soft.result.action, staple_action::no_staple);
    EXPECT_TRUE(soft.der.empty());
    EXPECT_EQ(lookup(r, key_n(2), now + 25h).result.action, staple_action::not_servable);
}

TEST(shm_cache, small_buffer_reports_the_size_needed) {
    temp_dir dir;
    auto w = open_writer(dir / "cache");
    ASSERT_FALSE(w->put(key_n(1), staple_entry(der_n(300, 1))));
    const found f = lookup(open_reader(dir / "cache"), key_n(1), now, 299);
    EXPECT_EQ(f.ec, shm_errc::buffer_too_small);
    EXPECT_EQ(f.result.der_len, 300U);
    EXPECT_EQ(f.result.action, staple_action::no_staple);
}

TEST(shm_cache, remove_and_reinsert) {
    temp_dir dir;
    auto w = open_writer(dir / "cache");
    ASSERT_FALSE(w->put(key_n(1), staple_entry(der_n(10, 1))));
    const shm_reader r = open_reader(dir / "cache");
    EXPECT_TRUE(w->remove(key_n(1)));
    EXPECT_FALSE(w->remove(key_n(1)));
    EXPECT_EQ(w->size(), 0U);
    EXPECT_EQ(lookup(r, key_n(1)).ec, shm_errc::not_found);
    EXPECT_FALSE(w->get(key_n(1)).has_value());
    ASSERT_FALSE(w->put(key_n(1), staple_entry(der_n(10, 2))));
    EXPECT_EQ(lookup(r, key_n(1)).der, der_n(10, 2));
}

TEST(shm_cache, colliding_keys_stay_reachable_across_removals) {
    temp_dir dir;
    auto w = open_writer(dir / "cache", {16, 128});
    const shm_reader r = open_reader(dir / "cache");
    // Six keys with the same home slot (the last one of the table, so the chain wraps around).
    constexpr std::uint64_t home = 15;
    for (std::uint32_t i = 0; i < 6; ++i) ASSERT_FALSE(w->put(key_n(i, home), staple_entry(der_n(8, static_cast<std::uint8_t>(i)))));
    // Remove from the middle (tombstones), then check everyone behind them.
    EXPECT_TRUE(w->remove(key_n(1, home)));
    EXPECT_TRUE(w->remove(key_n(3, home)));
    for (std::uint32_t i : {0u, 2u, 4u, 5u}) EXPECT_EQ(lookup(r, key_n(i, home)).der, der_n(8, static_cast<std::uint8_t>(i))) << i;
    EXPECT_EQ(lookup(r, key_n(1, home)).ec, shm_errc::not_found);
    EXPECT_EQ(lookup(r, key_n(99, home)).ec, shm_errc::not_found);
    // Reinsertion reuses a tombstone rather than growing the chain.
    ASSERT_FALSE(w->put(key_n(7, home), staple_entry(der_n(8, 7))));
    EXPECT_EQ(lookup(r, key_n(7, home)).der, der_n(8, 7));
    // Removing the tail of the chain empties it, together with the tombstones before it.
    for (std::uint32_t i : {0u, 2u, 4u, 5u, 7u}) EXPECT_TRUE(w->remove(key_n(i, home))) << i;
    EXPECT_EQ(w->size(), 0U);
    EXPECT_TRUE(w->entries().empty());
}

TEST(shm_cache, refuses_to_fill_beyond_seven_eighths) {
    temp_dir dir;
    auto w = open_writer(dir / "cache", {16, 128});
    for (std::uint32_t i = 0; i < 14; ++i) ASSERT_FALSE(w->put(key_n(i), staple_entry(der_n(8, 1)))) << i;
    EXPECT_EQ(w->put(key_n(100), staple_entry(der_n(8, 1))), shm_errc::full);
    // Overwriting an existing key is still fine.
    EXPECT_FALSE(w->put(key_n(3), staple_entry(der_n(8, 2))));
    // Misses in a nearly full table terminate.
    EXPECT_EQ(lookup(open_reader(dir / "cache"), key_n(200)).ec, shm_errc::not_found);
}

// Below 8 slots "7/8" rounds to every slot; one must stay empty all the same, so that a probe chain
// (the writer's and every reader's) ends at an empty slot instead of walking the whole table.
TEST(shm_cache, small_tables_always_keep_one_slot_empty) {
    for (const std::uint32_t capacity : {1U, 2U, 3U, 4U, 7U, 8U}) {
        SCOPED_TRACE(capacity);
        temp_dir dir;
        auto w = open_writer(dir / "cache", {capacity, 128});
        ASSERT_TRUE(w);
        std::uint32_t stored = 0;
        for (std::uint32_t i = 0; i < w->capacity(); ++i) {
            // Every key has the same home slot: the worst case for probe chains.
            if (w->put(key_n(i, 0x77), staple_entry(der_n(8, 1)))) break;
            ++stored;
        }
        EXPECT_EQ(stored, w->capacity() - 1);
        EXPECT_EQ(w->size(), stored);
        EXPECT_EQ(w->put(key_n(100, 0x77), staple_entry(der_n(8, 1))), shm_errc::full);
        EXPECT_EQ(lookup(open_reader(dir / "cache"), key_n(200, 0x77)).ec, shm_errc::not_found);
    }
}

TEST(shm_cache, max_entries_follows_the_rounded_capacity) {
    static_assert(shm_table_size(10) == 16 && shm_table_size(16) == 16 && shm_table_size(1) == 1);
    EXPECT_EQ(shm_max_entries(1), 0U);
    EXPECT_EQ(shm_max_entries(2), 1U);
    EXPECT_EQ(shm_max_entries(3), 3U);  // 4 slots
    EXPECT_EQ(shm_max_entries(4), 3U);
    EXPECT_EQ(shm_max_entries(8), 7U);
    EXPECT_EQ(shm_max_entries(10), 14U);  // 16 slots
    EXPECT_EQ(shm_max_entries(4096), 3584U);
    EXPECT_EQ(shm_max_entries(shm_max_capacity), shm_max_capacity - shm_max_capacity / 8);
}

TEST(shm_cache, rejects_bad_options_and_entries) {
    temp_dir dir;
    std::error_code ec;
    EXPECT_FALSE(shm_writer::open(dir / "a", {0, 4096}, ec));
    EXPECT_EQ(ec, shm_errc::bad_options);
    EXPECT_FALSE(shm_writer::open(dir / "b", {16, 100}, ec));
    EXPECT_EQ(ec, shm_errc::bad_options);
    EXPECT_FALSE(shm_writer::open(dir / "c", {16, 64}, ec));
    EXPECT_EQ(ec, shm_errc::bad_options);

    auto w = open_writer(dir / "cache", {10, 256});  // rounded up
    EXPECT_EQ(w->capacity(), 16U);
    EXPECT_EQ(w->max_der_len(), 192U);
    cache_entry no_bytes;
    no_bytes.action = staple_action::staple;
    EXPECT_EQ(w->put(key_n(1), no_bytes), shm_errc::invalid_argument);
    cache_entry bad_action;
    bad_action.action = static_cast<staple_action>(7);
    EXPECT_EQ(w->put(key_n(1), bad_action), shm_errc::invalid_argument);
}

TEST(shm_cache, survives_a_writer_restart_in_place) {
    temp_dir dir;
    const auto path = dir / "cache";
    std::uint64_t first_generation = 0;
    {
        auto w = open_writer(path);
        EXPECT_TRUE(w->created());
        first_generation = w->generation();
        ASSERT_FALSE(w->put(key_n(1), staple_entry(der_n(100, 1))));
        ASSERT_FALSE(w->put(key_n(2), staple_entry(der_n(200, 2))));
        EXPECT_TRUE(w->remove(key_n(2)));
    }
    const shm_reader reader_before = open_reader(path);
    auto w = open_writer(path);
    EXPECT_FALSE(w->created());
    EXPECT_EQ(w->generation(), first_generation + 1);
    EXPECT_EQ(reader_before.generation(), first_generation + 1);  // same file, same mapping
    EXPECT_EQ(w->size(), 1U);
    const auto e = w->get(key_n(1));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->der, der_n(100, 1));
    EXPECT_EQ(e->next_update, now + 24h);
    // Readers that mapped the file before the restart see the new writer's updates.
    ASSERT_FALSE(w->put(key_n(3), staple_entry(der_n(30, 3))));
    EXPECT_EQ(lookup(reader_before, key_n(3)).der, der_n(30, 3));
    EXPECT_FALSE(reader_before.replaced());
}

TEST(shm_cache, a_new_geometry_rebuilds_the_file_and_retires_the_old_one) {
    temp_dir dir;
    const auto path = dir / "cache";
    {
        auto w = open_writer(path, {16, 256});
        ASSERT_FALSE(w->put(key_n(1), staple_entry(der_n(100, 1))));
        ASSERT_FALSE(w->put(key_n(2), staple_entry(der_n(180, 2))));
    }
    const shm_reader old_reader = open_reader(path);
    auto w = open_writer(path, {64, 192});  // bigger table, smaller slots: key 2 no longer fits
    EXPECT_TRUE(w->created());
    EXPECT_EQ(w->size(), 1U);
    EXPECT_TRUE(old_reader.replaced());
    EXPECT_EQ(lookup(old_reader, key_n(1)).ec, shm_errc::replaced);
    const shm_reader r = open_reader(path);
    EXPECT_EQ(r.capacity(), 64U);
    EXPECT_EQ(lookup(r, key_n(1)).der, der_n(100, 1));
    EXPECT_EQ(lookup(r, key_n(2)).ec, shm_errc::not_found);
    EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp." + std::to_string(::getpid())));
}

TEST(shm_cache, only_one_writer_at_a_time) {
    temp_dir dir;
    auto w = open_writer(dir / "cache");
    std::error_code ec;
    EXPECT_FALSE(shm_writer::open(dir / "cache", {64, 512}, ec));
    EXPECT_EQ(ec, shm_errc::locked);
    w.reset();
    EXPECT_TRUE(shm_writer::open(dir / "cache", {64, 512}, ec)) << ec.message();
}

TEST(shm_cache, writer_recovers_a_slot_left_mid_write) {
    temp_dir dir;
    const auto path = dir / "cache";
    const shm_options o{16, 128};
    const cache_key k = key_n(0, 5);  // home slot 5
    {
        auto w = open_writer(path, o);
        ASSERT_FALSE(w->put(k, staple_entry(der_n(40, 1))));
    }
    // A writer that died between "seq odd" and "seq even".
    const std::uint64_t odd = 3;
    patch_file(path, slot_offset(5, o.slot_size), &odd, sizeof odd);
    {
        const shm_reader r = open_reader(path);
        EXPECT_EQ(lookup(r, k).ec, shm_errc::busy);
    }
    auto w = open_writer(path, o);
    EXPECT_FALSE(w->created());
    EXPECT_EQ(w->size(), 0U);
    EXPECT_EQ(lookup(open_reader(path), k).ec, shm_errc::not_found);
}

// --- files that are not what they should be: an error, never a crash ---

TEST(shm_cache_reader, missing_file) {
    temp_dir dir;
    const auto ec = open_error(dir / "absent");
    EXPECT_EQ(ec, std::errc::no_such_file_or_directory);
}

TEST(shm_cache_reader, directory) {
    temp_dir dir;
    EXPECT_EQ(open_error(dir.path()), shm_errc::open_failed);
}

TEST(shm_cache_reader, empty_and_short_files_are_truncated) {
    temp_dir dir;
    { std::ofstream(dir / "empty"); }
    EXPECT_EQ(open_error(dir / "empty"), shm_errc::truncated);
    { std::ofstream(dir / "short") << "OCS"; }
    EXPECT_EQ(open_error(dir / "short"), shm_errc::truncated);
}

TEST(shm_cache_reader, foreign_file_has_bad_magic) {
    temp_dir dir;
    { std::ofstream(dir / "text") << std::string(4096, 'x'); }
    EXPECT_EQ(open_error(dir / "text"), shm_errc::bad_magic);
}

TEST(shm_cache_reader, newer_layout_version) {
    temp_dir dir;
    { auto w = open_writer(dir / "cache"); }
    const std::uint32_t v2 = shm_layout_version + 1;
    patch_file(dir / "cache", 8, &v2, sizeof v2);
    EXPECT_EQ(open_error(dir / "cache"), shm_errc::unsupported_version);
}

TEST(shm_cache_reader, truncated_after_the_header) {
    temp_dir dir;
    { auto w = open_writer(dir / "cache"); }
    std::filesystem::resize_file(dir / "cache", shm_header_size + 512 * 3);
    EXPECT_EQ(open_error(dir / "cache"), shm_errc::truncated);
    std::filesystem::resize_file(dir / "cache", 100);
    EXPECT_EQ(open_error(dir / "cache"), shm_errc::truncated);
}

TEST(shm_cache_reader, impossible_geometry_is_corrupt) {
    temp_dir dir;
    { auto w = open_writer(dir / "cache"); }
    const std::uint32_t not_power_of_two = 63;
    patch_file(dir / "cache", 16, &not_power_of_two, sizeof not_power_of_two);
    EXPECT_EQ(open_error(dir / "cache"), shm_errc::corrupt);
}

TEST(shm_cache_reader, corrupt_slot_values_are_reported_not_followed) {
    temp_dir dir;
    const auto path = dir / "cache";
    const shm_options o{16, 128};
    const cache_key k = key_n(0, 9);
    {
        auto w = open_writer(path, o);
        ASSERT_FALSE(w->put(k, staple_entry(der_n(40, 1))));
    }
    const shm_reader r = open_reader(path);
    // A DER length far beyond the slot: copying it would read past the mapping.
    const std::uint64_t huge_len = std::uint64_t{1} | std::uint64_t{0xfffff} << 32;
    patch_file(path, slot_offset(9, o.slot_size) + 8, &huge_len, sizeof huge_len);
    EXPECT_EQ(lookup(r, k).ec, shm_errc::corrupt);
    // A state that is none of empty, full, tombstone.
    const std::uint64_t bad_state = 0x77;
    patch_file(path, slot_offset(9, o.slot_size) + 8, &bad_state, sizeof bad_state);
    EXPECT_EQ(lookup(r, k).ec, shm_errc::corrupt);
    // A verdict out of range.
    const std::uint64_t bad_action = std::uint64_t{1} | std::uint64_t{9} << 16 | std::uint64_t{40} << 32;
    patch_file(path, slot_offset(9, o.slot_size) + 8, &bad_action, sizeof bad_action);
    EXPECT_EQ(lookup(r, k).ec, shm_errc::corrupt);
}

TEST(shm_cache_reader, random_garbage_slots_never_crash) {
    temp_dir dir;
    const auto path = dir / "cache";
    const shm_options o{64, 128};
    { auto w = open_writer(path, o); }
    // Fill every slot with pseudo-random words (even seqs so that readers look at them).
    std::vector<std::uint64_t> words((o.capacity * o.slot_size) / 8);
    std::uint64_t x = 0x2545F4914F6CDD1DULL;
    for (std::size_t i = 0; i < words.size(); ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        words[i] = (i % (o.slot_size / 8) == 0) ? (x & ~std::uint64_t{1}) : x;
        if (i % (o.slot_size / 8) == 1 && (x & 3) == 0) words[i] = (x & ~std::uint64_t{0xff}) | 1;  // some "full"
    }
    patch_file(path, shm_header_size, words.data(), words.size() * 8);
    const shm_reader r = open_reader(path);
    for (std::uint32_t i = 0; i < 2000; ++i) {
        const found f = lookup(r, key_n(i));
        EXPECT_TRUE(f.ec == shm_errc::not_found || f.ec == shm_errc::corrupt || !f.ec) << f.ec.message();
    }
    // A writer on the same file starts over cleanly from whatever it finds.
    std::error_code ec;
    auto w = shm_writer::open(path, o, ec);
    ASSERT_TRUE(w) << ec.message();
    EXPECT_FALSE(w->created());  // the header is intact; only the slots were damaged
    for (const auto& [key, entry] : w->entries()) EXPECT_LE(entry.der.size(), w->max_der_len());
    EXPECT_FALSE(w->put(key_n(1), staple_entry(der_n(20, 1))));
    EXPECT_EQ(lookup(open_reader(path), key_n(1)).der, der_n(20, 1));
}

// shm_reader::over() reads a region already in memory (what the shm fuzz target feeds it): the same
// header checks as open(), against the region's own size.
TEST(shm_cache_reader, a_region_in_memory_is_checked_like_a_file) {
    temp_dir dir;
    const auto path = dir / "cache";
    const shm_options o{16, 128};
    {
        auto w = open_writer(path, o);
        ASSERT_FALSE(w->put(key_n(3), staple_entry(der_n(40, 3))));
    }
    const auto size = static_cast<std::size_t>(std::filesystem::file_size(path));
    std::vector<std::uint64_t> words(size / 8 + 1);  // 8-byte aligned, one spare word
    auto* region = reinterpret_cast<std::uint8_t*>(words.data());
    {
        std::ifstream in(path, std::ios::binary);
        in.read(reinterpret_cast<char*>(region), static_cast<std::streamsize>(size));
        ASSERT_TRUE(in.good());
    }
    std::error_code ec;
    auto r = shm_reader::over({region, size}, ec);
    ASSERT_TRUE(r) << ec.message();
    EXPECT_EQ(lookup(*r, key_n(3)).der, der_n(40, 3));
    EXPECT_EQ(lookup(*r, key_n(4)).ec, shm_errc::not_found);

    EXPECT_FALSE(shm_reader::over({region, size - 1}, ec));
    EXPECT_EQ(ec, shm_errc::truncated);
    EXPECT_FALSE(shm_reader::over({region, 20}, ec));
    EXPECT_EQ(ec, shm_errc::truncated);
    EXPECT_FALSE(shm_reader::over({region + 1, size}, ec));  // misaligned
    EXPECT_EQ(ec, shm_errc::invalid_argument);
    EXPECT_FALSE(shm_reader::over({}, ec));
    EXPECT_EQ(ec, shm_errc::invalid_argument);
    region[0] ^= 0xff;
    EXPECT_FALSE(shm_reader::over({region, size}, ec));
    EXPECT_EQ(ec, shm_errc::bad_magic);
}

// The writer's own reader shares its mapping and sees each put at once.
TEST(shm_cache, the_writers_reader_shares_its_mapping) {
    temp_dir dir;
    auto w = open_writer(dir / "cache");
    const shm_reader r = w->reader();
    EXPECT_EQ(lookup(r, key_n(5)).ec, shm_errc::not_found);
    ASSERT_FALSE(w->put(key_n(5), staple_entry(der_n(33, 5))));
    EXPECT_EQ(lookup(r, key_n(5)).der, der_n(33, 5));
    EXPECT_EQ(r.generation(), w->generation());
}

TEST(shm_cache, writer_replaces_a_foreign_file) {
    temp_dir dir;
    { std::ofstream(dir / "cache") << "not a cache"; }
    auto w = open_writer(dir / "cache");
    EXPECT_TRUE(w->created());
    ASSERT_FALSE(w->put(key_n(1), staple_entry(der_n(20, 1))));
    EXPECT_EQ(lookup(open_reader(dir / "cache"), key_n(1)).der, der_n(20, 1));
}

TEST(shm_cache, error_messages_name_every_code) {
    for (int v = 0; v <= static_cast<int>(shm_errc::bad_options); ++v) {
        EXPECT_NE(make_error_code(static_cast<shm_errc>(v)).message(), "unknown error") << v;
    }
}

TEST(shm_cache, keys_are_the_sha256_of_the_certificate_der) {
    auto ca = ocspkit::test::make_ca("Key CA");
    const bytes der = [&] {
        const int len = i2d_X509(ca.cert.get(), nullptr);
        bytes b(static_cast<std::size_t>(len));
        unsigned char* p = b.data();
        i2d_X509(ca.cert.get(), &p);
        return b;
    }();
    const auto a = cache_key_of_der(der);
    const auto b = cache_key_of(ca.cert.get());
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b);
    EXPECT_FALSE(cache_key_of_der({}).has_value());
    EXPECT_FALSE(cache_key_of(nullptr).has_value());
}

}  // namespace
}  // namespace ocspkit::stapler
