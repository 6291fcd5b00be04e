// One writer rewrites entries as fast as it can while three readers check that every snapshot they get
// is one complete version: length, bytes, times and status all belong to the same write. Built twice:
// as part of stapler_test, and alone with -fsanitize=thread as stapler_shm_tsan. It depends on nothing
// but the cache so that the ThreadSanitizer build instruments everything it runs.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "stapler/shm_writer.hpp"

namespace ocspkit::stapler {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t key_count = 8;
constexpr sys_seconds read_time{std::chrono::seconds{1'000'000}};

class scratch_dir {
public:
    scratch_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "stapler-stress-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    std::filesystem::path operator/(const char* name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

cache_key key_of(std::uint32_t k) {
    cache_key key{};
    // Keys 0-3 share a home slot so that their chain is rewritten under the readers too.
    const std::uint64_t home = k < 4 ? 3 : 0x9e3779b97f4a7c15ULL * (k + 1);
    std::memcpy(key.data(), &home, sizeof home);
    std::memcpy(key.data() + 8, &k, sizeof k);
    return key;
}

// Version v of key k: its length, every byte, the times and the status are functions of (k, v).
std::size_t length_of(std::uint32_t k, std::uint64_t v) { return 16 + (v * 37 + k * 101) % 1000; }
std::uint8_t byte_of(std::uint32_t k, std::uint64_t v, std::size_t i) {
    return static_cast<std::uint8_t>(k * 31 + v * 7 + i);
}

std::vector<std::uint8_t> version(std::uint32_t k, std::uint64_t v) {
    std::vector<std::uint8_t> der(length_of(k, v));
    std::memcpy(der.data(), &v, sizeof v);
    der[8] = static_cast<std::uint8_t>(k);
    for (std::size_t i = 9; i < der.size(); ++i) der[i] = byte_of(k, v, i);
    return der;
}

// Empty when the snapshot is one complete version of key k, otherwise what is wrong with it.
std::string check(std::uint32_t k, const lookup_result& r, const std::uint8_t* der) {
    if (r.action != staple_action::staple) return "action is not staple";
    if (r.der_len < 16) return "too short";
    std::uint64_t v = 0;
    std::memcpy(&v, der, sizeof v);
    if (der[8] != k) return "another key's bytes";
    if (r.der_len != length_of(k, v)) return "length of another version";
    if (r.this_update.time_since_epoch().count() != static_cast<std::int64_t>(v)) return "thisUpdate of another version";
    if (r.next_update.time_since_epoch().count() != static_cast<std::int64_t>(v) + 10'000'000) {
        return "nextUpdate of another version";
    }
    if (r.status != static_cast<cert_status>(v % 3)) return "status of another version";
    for (std::size_t i = 9; i < r.der_len; ++i) {
        if (der[i] != byte_of(k, v, i)) return "torn bytes at offset " + std::to_string(i);
    }
    return {};
}

struct reader_stats {
    std::uint64_t good = 0;
    std::uint64_t misses = 0;  // not_found while the writer had removed the key
    std::uint64_t busy = 0;
    std::string first_error;
};

void run_reader(const shm_reader& r, const std::atomic<bool>& stop, reader_stats& stats) {
    std::vector<std::uint8_t> buf(r.max_der_len());
    std::uint32_t k = 0;
    while (!stop.load(std::memory_order_relaxed)) {
        k = (k + 1) % key_count;
        lookup_result res;
        const std::error_code ec = r.lookup(key_of(k), buf, read_time, res);
        if (ec == shm_errc::busy) {
            ++stats.busy;
        } else if (ec == shm_errc::not_found) {
            ++stats.misses;
        } else if (ec) {
            if (stats.first_error.empty()) stats.first_error = "lookup failed: " + ec.message();
        } else if (std::string why = check(k, res, buf.data()); !why.empty()) {
            if (stats.first_error.empty()) stats.first_error = why;
        } else {
            ++stats.good;
        }
    }
}

TEST(shm_stress, readers_only_ever_see_complete_versions) {
    scratch_dir dir;
    const auto path = dir / "cache";
    std::error_code ec;
    auto writer = shm_writer::open(path, {32, 1088}, ec);
    ASSERT_TRUE(writer) << ec.message();
    for (std::uint32_t k = 0; k < key_count; ++k) {
        const auto der = version(k, 0);
        ASSERT_FALSE(writer->put(key_of(k), {cert_status::good, staple_action::staple, staple_action::no_staple,
                                             sys_seconds{}, sys_seconds{10'000'000s}, der}));
    }

    // Two readers share the writer's mapping (so ThreadSanitizer sees every access at one address), one
    // maps the file itself as a TLS server process would.
    auto own = shm_reader::open(path.c_str(), ec);
    ASSERT_TRUE(own) << ec.message();
    const shm_reader attached_a = writer->reader();
    const shm_reader attached_b = writer->reader();
    const shm_reader* readers[] = {&attached_a, &attached_b, &*own};

    std::atomic<bool> stop{false};
    reader_stats stats[3];
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) threads.emplace_back([&, i] { run_reader(*readers[i], stop, stats[i]); });

    std::uint64_t writes = 0;
    std::string writer_error;
    const auto deadline = std::chrono::steady_clock::now() + 1500ms;
    for (std::uint64_t v = 1; std::chrono::steady_clock::now() < deadline; ++v) {
        const std::uint32_t k = static_cast<std::uint32_t>(v % key_count);
        const auto der = version(k, v);
        const cache_entry e{static_cast<cert_status>(v % 3), staple_action::staple, staple_action::no_staple,
                            sys_seconds{std::chrono::seconds{static_cast<std::int64_t>(v)}},
                            sys_seconds{std::chrono::seconds{static_cast<std::int64_t>(v) + 10'000'000}},
                            der};
        // Now and then a key disappears and comes back, exercising tombstones under the readers.
        if (v % 97 == 0) (void)writer->remove(key_of(k));
        if (const auto put_ec = writer->put(key_of(k), e); put_ec && writer_error.empty()) writer_error = put_ec.message();
        ++writes;
    }
    stop = true;
    for (auto& t : threads) t.join();

    EXPECT_TRUE(writer_error.empty()) << writer_error;
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(stats[i].first_error.empty()) << "reader " << i << ": " << stats[i].first_error;
        EXPECT_GT(stats[i].good, 100U) << "reader " << i;
        // busy is allowed (it is a miss, by design) but must stay the exception.
        EXPECT_LT(stats[i].busy, stats[i].good) << "reader " << i;
        std::printf("reader %d: %llu complete, %llu misses, %llu busy; writer: %llu writes\n", i,
                    static_cast<unsigned long long>(stats[i].good), static_cast<unsigned long long>(stats[i].misses),
                    static_cast<unsigned long long>(stats[i].busy), static_cast<unsigned long long>(writes));
    }
}

}  // namespace
}  // namespace ocspkit::stapler
