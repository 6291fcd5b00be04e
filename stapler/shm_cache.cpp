#include "stapler/shm_cache.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

namespace ocspkit::stapler {

// ---------------------------------------------------------------------------------------------------
// Keys and errors

std::optional<cache_key> cache_key_of_der(std::span<const std::uint8_t> cert_der) noexcept {
    cache_key key{};
    unsigned int len = 0;
    if (cert_der.empty() || EVP_Digest(cert_der.data(), cert_der.size(), key.data(), &len, EVP_sha256(), nullptr) != 1 ||
        len != key.size()) {
        ERR_clear_error();
        return std::nullopt;
    }
    return key;
}

std::optional<cache_key> cache_key_of(X509* cert) noexcept {
    cache_key key{};
    unsigned int len = 0;
    // X509_digest hashes the certificate's DER encoding, as cache_key_of_der() does.
    if (cert == nullptr || X509_digest(cert, EVP_sha256(), key.data(), &len) != 1 || len != key.size()) {
        ERR_clear_error();
        return std::nullopt;
    }
    return key;
}

namespace {

class shm_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "ocspkit.shm"; }
    std::string message(int value) const override {
        switch (static_cast<shm_errc>(value)) {
        case shm_errc::ok: return "success";
        case shm_errc::invalid_argument: return "invalid argument";
        case shm_errc::not_found: return "no entry for this certificate";
        case shm_errc::buffer_too_small: return "buffer too small for the response";
        case shm_errc::busy: return "entry was being rewritten; try again";
        case shm_errc::open_failed: return "cannot open or map the cache file";
        case shm_errc::bad_magic: return "not a staple cache file";
        case shm_errc::unsupported_version: return "unsupported cache layout version";
        case shm_errc::truncated: return "cache file is truncated";
        case shm_errc::corrupt: return "cache file is corrupt";
        case shm_errc::replaced: return "cache file was replaced; reopen it";
        case shm_errc::no_memory: return "out of memory";
        case shm_errc::internal: return "internal error";
        case shm_errc::locked: return "another writer holds the cache";
        case shm_errc::full: return "cache is full";
        case shm_errc::entry_too_large: return "response does not fit a cache slot";
        case shm_errc::bad_options: return "capacity or slot size out of range";
        }
        return "unknown error";
    }
};

}  // namespace

const std::error_category& shm_category() noexcept {
    static const shm_category_impl category;
    return category;
}

std::error_code make_error_code(shm_errc e) noexcept { return {static_cast<int>(e), shm_category()}; }

// ---------------------------------------------------------------------------------------------------
// Layout (docs/stapler.md). All multi-byte values are in host byte order: the file never leaves the host.

namespace {

// The immutable part of the header, written once before the file is renamed into place.
struct header_fields {
    std::uint64_t magic;
    std::uint32_t layout_version;
    std::uint32_t header_size;
    std::uint32_t capacity;
    std::uint32_t slot_size;
    std::uint64_t file_size;
};
static_assert(sizeof(header_fields) == 32);
constexpr std::size_t off_generation = 32;  // u64, +1 at every writer open
constexpr std::size_t off_flags = 40;       // u64, bit 0: replaced
constexpr std::uint64_t flag_replaced = 1;

// Slot words.
constexpr std::size_t w_seq = 0;
constexpr std::size_t w_meta = 1;  // state | status << 8 | action << 16 | action_when_expired << 24 | der_len << 32
constexpr std::size_t w_key = 2;   // four words
constexpr std::size_t w_this_update = 6;
constexpr std::size_t w_next_update = 7;
constexpr std::size_t w_der = 8;
static_assert(w_der * 8 == shm_slot_header_size);

constexpr std::uint8_t state_empty = 0;
constexpr std::uint8_t state_full = 1;
constexpr std::uint8_t state_tombstone = 2;

// A reader gives up on a lookup after this many inconsistent snapshots (see `busy`).
constexpr int max_read_attempts = 256;

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

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

std::uint64_t make_meta(std::uint8_t state, cert_status status, staple_action action, staple_action expired,
                        std::uint32_t der_len) noexcept {
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
meta_fields split_meta(std::uint64_t m) noexcept {
    return {static_cast<std::uint8_t>(m), static_cast<std::uint8_t>(m >> 8), static_cast<std::uint8_t>(m >> 16),
            static_cast<std::uint8_t>(m >> 24), static_cast<std::uint32_t>(m >> 32)};
}
bool valid_status(std::uint8_t v) noexcept { return v <= static_cast<std::uint8_t>(cert_status::unknown); }
bool valid_action(std::uint8_t v) noexcept { return v <= static_cast<std::uint8_t>(staple_action::not_servable); }

std::array<std::uint64_t, 4> key_words(const cache_key& key) noexcept {
    std::array<std::uint64_t, 4> w{};
    std::memcpy(w.data(), key.data(), key.size());
    return w;
}

// Keys are SHA-256 outputs, so their first eight bytes are already uniformly distributed.
std::uint32_t home_slot(const cache_key& key, std::uint32_t capacity) noexcept {
    std::uint64_t h = 0;
    std::memcpy(&h, key.data(), sizeof h);
    return static_cast<std::uint32_t>(h & (capacity - 1));
}

std::size_t words_for(std::size_t bytes) noexcept { return (bytes + 7) / 8; }

// Copies `len` bytes of DER out of slot words into `out` (which may be unaligned).
void copy_der_out(const std::uint64_t* src, std::size_t len, std::uint8_t* out) noexcept {
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

std::error_code sys_error() noexcept { return {errno, std::system_category()}; }

// Geometry checks shared by reader and writer. Returns ok, or why the header cannot be used.
shm_errc check_header(const header_fields& h, std::uint64_t actual_size) noexcept {
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

// Reads a header with pread(); `size` is the file's size. Short files are truncated unless their first
// bytes already show they are not ours at all.
shm_errc read_header(int fd, std::uint64_t size, header_fields& h) noexcept {
    std::memset(&h, 0, sizeof h);
    const std::size_t want = size < sizeof h ? static_cast<std::size_t>(size) : sizeof h;
    const ssize_t got = ::pread(fd, &h, want, 0);
    if (got < 0) return shm_errc::open_failed;
    if (static_cast<std::size_t>(got) < sizeof h.magic) return shm_errc::truncated;
    if (h.magic != shm_magic) return shm_errc::bad_magic;
    if (static_cast<std::size_t>(got) < sizeof h) return shm_errc::truncated;
    return check_header(h, size);
}

struct fd_owner {
    int fd = -1;
    fd_owner() = default;
    explicit fd_owner(int f) : fd(f) {}
    fd_owner(const fd_owner&) = delete;
    fd_owner& operator=(const fd_owner&) = delete;
    ~fd_owner() {
        if (fd >= 0) ::close(fd);
    }
    int release() noexcept { return std::exchange(fd, -1); }
};

struct mapping {
    std::uint8_t* base = nullptr;
    std::size_t len = 0;
    mapping() = default;
    mapping(const mapping&) = delete;
    mapping& operator=(const mapping&) = delete;
    ~mapping() {
        if (base != nullptr) ::munmap(base, len);
    }
};

std::uint64_t* header_word(std::uint8_t* base, std::size_t offset) noexcept {
    return reinterpret_cast<std::uint64_t*>(base + offset);
}

std::uint64_t* slot_at(std::uint8_t* base, std::uint32_t slot_size, std::uint32_t index) noexcept {
    return reinterpret_cast<std::uint64_t*>(base + shm_header_size + std::size_t{index} * slot_size);
}

// A consistent copy of one slot of a mapping only this process writes (the writer's own reads).
std::optional<std::pair<cache_key, stored_entry>> read_own_slot(const std::uint64_t* s, std::size_t max_der) {
    const meta_fields m = split_meta(load_relaxed(s + w_meta));
    if (m.state != state_full || m.der_len > max_der || !valid_status(m.status) || !valid_action(m.action) ||
        !valid_action(m.expired)) {
        return std::nullopt;
    }
    std::pair<cache_key, stored_entry> out;
    std::array<std::uint64_t, 4> kw{};
    for (std::size_t i = 0; i < 4; ++i) kw[i] = load_relaxed(s + w_key + i);
    std::memcpy(out.first.data(), kw.data(), out.first.size());
    stored_entry& e = out.second;
    e.status = static_cast<cert_status>(m.status);
    e.action = static_cast<staple_action>(m.action);
    e.action_when_expired = static_cast<staple_action>(m.expired);
    e.this_update = sys_seconds{std::chrono::seconds{static_cast<std::int64_t>(load_relaxed(s + w_this_update))}};
    e.next_update = sys_seconds{std::chrono::seconds{static_cast<std::int64_t>(load_relaxed(s + w_next_update))}};
    e.der.resize(m.der_len);
    copy_der_out(s + w_der, m.der_len, e.der.data());
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Reader

std::optional<shm_reader> shm_reader::open(const char* path, std::error_code& ec) noexcept {
    ec.clear();
    if (path == nullptr || *path == '\0') {
        ec = shm_errc::invalid_argument;
        return std::nullopt;
    }
    fd_owner fd{::open(path, O_RDONLY | O_CLOEXEC)};
    if (fd.fd < 0) {
        ec = sys_error();
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(fd.fd, &st) != 0) {
        ec = sys_error();
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        ec = shm_errc::open_failed;
        return std::nullopt;
    }
    header_fields h{};
    if (const shm_errc e = read_header(fd.fd, static_cast<std::uint64_t>(st.st_size), h); e != shm_errc::ok) {
        ec = e;
        return std::nullopt;
    }
    // MAP_POPULATE faults the pages in now, so that lookups do not take page faults later.
    void* p = ::mmap(nullptr, h.file_size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd.fd, 0);
    if (p == MAP_FAILED) {
        ec = sys_error();
        return std::nullopt;
    }
    shm_reader r;
    r.base_ = static_cast<std::uint8_t*>(p);
    r.map_len_ = h.file_size;
    r.capacity_ = h.capacity;
    r.slot_size_ = h.slot_size;
    // The descriptor is closed on return; the mapping keeps the file (and its inode) alive.
    return r;
}

shm_reader shm_reader::attach(const shm_writer& writer) noexcept {
    shm_reader r;
    r.base_ = writer.base_;
    r.map_len_ = 0;
    r.capacity_ = writer.capacity_;
    r.slot_size_ = writer.slot_size_;
    return r;
}

shm_reader::shm_reader(shm_reader&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      map_len_(std::exchange(other.map_len_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      slot_size_(other.slot_size_) {}

shm_reader& shm_reader::operator=(shm_reader&& other) noexcept {
    if (this != &other) {
        release();
        base_ = std::exchange(other.base_, nullptr);
        map_len_ = std::exchange(other.map_len_, 0);
        capacity_ = std::exchange(other.capacity_, 0);
        slot_size_ = other.slot_size_;
    }
    return *this;
}

shm_reader::~shm_reader() { release(); }

void shm_reader::release() noexcept {
    if (base_ != nullptr && map_len_ != 0) ::munmap(base_, map_len_);
    base_ = nullptr;
    map_len_ = 0;
}

std::uint64_t shm_reader::generation() const noexcept {
    return base_ != nullptr ? load_acquire(header_word(base_, off_generation)) : 0;
}

bool shm_reader::replaced() const noexcept {
    return base_ != nullptr && (load_acquire(header_word(base_, off_flags)) & flag_replaced) != 0;
}

std::error_code shm_reader::lookup(const cache_key& key, std::span<std::uint8_t> buffer, sys_seconds now,
                                   lookup_result& out) const noexcept {
    out = lookup_result{};
    if (base_ == nullptr) return shm_errc::invalid_argument;
    if (replaced()) return shm_errc::replaced;

    const auto want = key_words(key);
    const std::size_t max_der = max_der_len();
    const std::int64_t now_s = now.time_since_epoch().count();
    std::uint32_t index = home_slot(key, capacity_);
    int attempts = 0;

    for (std::uint32_t probe = 0; probe < capacity_; ++probe, index = (index + 1) & (capacity_ - 1)) {
        const std::uint64_t* s = slot_at(base_, slot_size_, index);
        for (;;) {
            if (++attempts > max_read_attempts) return shm_errc::busy;
            const std::uint64_t seq = load_acquire(s + w_seq);
            if ((seq & 1) != 0) {  // the writer is inside this slot
                cpu_relax();
                continue;
            }
            const meta_fields m = split_meta(load_acquire(s + w_meta));
            bool same_key = m.state == state_full;
            for (std::size_t i = 0; same_key && i < 4; ++i) same_key = load_acquire(s + w_key + i) == want[i];

            if (!same_key) {
                if (load_relaxed(s + w_seq) != seq) continue;  // torn: read this slot again
                if (m.state == state_empty) return shm_errc::not_found;
                if (m.state == state_full || m.state == state_tombstone) break;  // next slot of the chain
                return shm_errc::corrupt;
            }

            // Our key. Everything below is read in the same seq window and discarded if it changed.
            if (!valid_status(m.status) || !valid_action(m.action) || !valid_action(m.expired) ||
                m.der_len > max_der) {
                if (load_relaxed(s + w_seq) != seq) continue;
                return shm_errc::corrupt;
            }
            lookup_result r;
            r.status = static_cast<cert_status>(m.status);
            r.this_update = sys_seconds{std::chrono::seconds{static_cast<std::int64_t>(load_acquire(s + w_this_update))}};
            const auto next = static_cast<std::int64_t>(load_acquire(s + w_next_update));
            r.next_update = sys_seconds{std::chrono::seconds{next}};
            // House rule 11: an expired response is never stapled, even if the daemon is gone.
            r.action = static_cast<staple_action>(now_s < next ? m.action : m.expired);
            std::error_code result;
            if (r.action == staple_action::staple) {
                r.der_len = m.der_len;
                if (m.der_len == 0) {
                    result = shm_errc::corrupt;
                } else if (m.der_len > buffer.size()) {
                    result = shm_errc::buffer_too_small;
                } else {
                    copy_der_out(s + w_der, m.der_len, buffer.data());
                }
            }
            if (load_relaxed(s + w_seq) != seq) continue;
            out = r;
            if (result) out.action = staple_action::no_staple;
            return result;
        }
    }
    return shm_errc::not_found;
}

// ---------------------------------------------------------------------------------------------------
// Writer

namespace {

// Creates `path` afresh: a zero-filled file under a temporary name, initialised, then renamed into place
// so that a reader only ever opens a complete header. Returns the new file's descriptor and mapping.
std::error_code create_file(const std::filesystem::path& path, const header_fields& h, std::uint64_t generation,
                            fd_owner& fd_out, mapping& map_out, std::string& tmp_out) {
    tmp_out = path.string() + ".tmp." + std::to_string(::getpid());
    fd_owner fd{::open(tmp_out.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (fd.fd < 0) return sys_error();
    // Readers run as other users (the web server's); the daemon's umask must not hide the file from them.
    if (::fchmod(fd.fd, 0644) != 0) return sys_error();
    // Allocating the blocks now turns "disk full" into an error here instead of SIGBUS on a later store.
    if (const int e = ::posix_fallocate(fd.fd, 0, static_cast<off_t>(h.file_size)); e != 0) {
        return {e, std::system_category()};
    }
    void* p = ::mmap(nullptr, h.file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd, 0);
    if (p == MAP_FAILED) return sys_error();
    map_out.base = static_cast<std::uint8_t*>(p);
    map_out.len = h.file_size;
    std::memcpy(map_out.base, &h, sizeof h);
    store_release(header_word(map_out.base, off_generation), generation);
    fd_out.fd = fd.release();
    return {};
}

}  // namespace

std::unique_ptr<shm_writer> shm_writer::open(const std::filesystem::path& path, shm_options options,
                                             std::error_code& ec) noexcept {
    ec.clear();
    std::string tmp;
    try {
        if (options.capacity == 0 || options.capacity > shm_max_capacity || options.slot_size < shm_min_slot_size ||
            options.slot_size > shm_max_slot_size || options.slot_size % 64 != 0) {
            ec = shm_errc::bad_options;
            return nullptr;
        }
        const std::uint32_t capacity = shm_table_size(options.capacity);
        const header_fields want{shm_magic, shm_layout_version, shm_header_size, capacity, options.slot_size,
                                 shm_header_size + std::uint64_t{capacity} * options.slot_size};

        auto w = std::unique_ptr<shm_writer>(new shm_writer);
        // One writer per cache: a lock on a side file, which (unlike the cache file) is never replaced.
        const std::string lock_path = path.string() + ".lock";
        fd_owner lock{::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)};
        if (lock.fd < 0) {
            ec = sys_error();
            return nullptr;
        }
        if (::flock(lock.fd, LOCK_EX | LOCK_NB) != 0) {
            ec = errno == EWOULDBLOCK ? std::error_code{shm_errc::locked} : sys_error();
            return nullptr;
        }

        fd_owner old_fd{::open(path.c_str(), O_RDWR | O_CLOEXEC)};
        if (old_fd.fd < 0 && errno != ENOENT) {
            ec = sys_error();
            return nullptr;
        }
        mapping old_map;
        std::uint64_t old_generation = 0;
        if (old_fd.fd >= 0) {
            struct stat st {};
            if (::fstat(old_fd.fd, &st) != 0) {
                ec = sys_error();
                return nullptr;
            }
            header_fields have{};
            const shm_errc e = read_header(old_fd.fd, static_cast<std::uint64_t>(st.st_size), have);
            if (e == shm_errc::ok) {
                void* p = ::mmap(nullptr, have.file_size, PROT_READ | PROT_WRITE, MAP_SHARED, old_fd.fd, 0);
                if (p == MAP_FAILED) {
                    ec = sys_error();
                    return nullptr;
                }
                old_map.base = static_cast<std::uint8_t*>(p);
                old_map.len = have.file_size;
                old_generation = load_acquire(header_word(old_map.base, off_generation));
                if (have.capacity == want.capacity && have.slot_size == want.slot_size &&
                    (load_acquire(header_word(old_map.base, off_flags)) & flag_replaced) == 0) {
                    // Same geometry: keep the file, and with it every reader's mapping.
                    w->base_ = std::exchange(old_map.base, nullptr);
                    w->map_len_ = have.file_size;
                    w->capacity_ = have.capacity;
                    w->slot_size_ = have.slot_size;
                    w->fd_ = lock.release();
                    store_release(header_word(w->base_, off_generation), old_generation + 1);
                    w->recover();
                    return w;
                }
            }
            // Otherwise: a different geometry (entries are moved below) or an unusable file (dropped).
        }

        fd_owner new_fd;
        mapping new_map;
        if (auto e = create_file(path, want, old_generation + 1, new_fd, new_map, tmp)) {
            ::unlink(tmp.c_str());
            ec = e;
            return nullptr;
        }
        w->base_ = std::exchange(new_map.base, nullptr);
        w->map_len_ = want.file_size;
        w->capacity_ = want.capacity;
        w->slot_size_ = want.slot_size;
        w->fd_ = lock.release();
        w->created_ = true;

        if (old_map.base != nullptr) {
            const auto* old_h = reinterpret_cast<const header_fields*>(old_map.base);
            const std::size_t old_max_der = old_h->slot_size - shm_slot_header_size;
            for (std::uint32_t i = 0; i < old_h->capacity; ++i) {
                auto entry = read_own_slot(slot_at(old_map.base, old_h->slot_size, i), old_max_der);
                if (!entry) continue;
                const stored_entry& e = entry->second;
                // Entries that no longer fit (a smaller slot size) are dropped; the daemon refetches them.
                (void)w->put(entry->first, cache_entry{e.status, e.action, e.action_when_expired, e.this_update,
                                                       e.next_update, e.der});
            }
        }
        if (::rename(tmp.c_str(), path.c_str()) != 0) {
            ec = sys_error();
            ::unlink(tmp.c_str());
            return nullptr;
        }
        tmp.clear();
        // Readers still mapping the old file learn that nothing will be published there any more.
        if (old_map.base != nullptr) {
            auto* flags = header_word(old_map.base, off_flags);
            store_release(flags, load_relaxed(flags) | flag_replaced);
        }
        return w;
    } catch (const std::bad_alloc&) {
        ec = shm_errc::no_memory;
    } catch (...) {
        ec = shm_errc::internal;
    }
    if (!tmp.empty()) ::unlink(tmp.c_str());
    return nullptr;
}

shm_writer::~shm_writer() {
    if (base_ != nullptr) ::munmap(base_, map_len_);
    if (fd_ >= 0) ::close(fd_);  // releases the writer lock
}

std::uint64_t* shm_writer::slot(std::uint32_t index) const noexcept { return slot_at(base_, slot_size_, index); }

std::uint64_t shm_writer::generation() const noexcept { return load_acquire(header_word(base_, off_generation)); }

void shm_writer::recover() noexcept {
    // A previous writer that died inside a slot left its seq odd and its data torn; a damaged file may
    // hold values no writer stores. Either way the entry is dropped (the daemon fetches it again).
    live_ = 0;
    const std::size_t max_der = max_der_len();
    for (std::uint32_t i = 0; i < capacity_; ++i) {
        std::uint64_t* s = slot(i);
        const std::uint64_t seq = load_relaxed(s + w_seq);
        const meta_fields m = split_meta(load_relaxed(s + w_meta));
        const bool sane = m.state == state_empty || m.state == state_tombstone ||
                          (m.state == state_full && valid_status(m.status) && valid_action(m.action) &&
                           valid_action(m.expired) && m.der_len <= max_der &&
                           (m.der_len != 0 || m.action != static_cast<std::uint8_t>(staple_action::staple)));
        if ((seq & 1) != 0 || !sane) {
            store_relaxed(s + w_seq, seq | 1);
            store_release(s + w_meta, make_meta(state_tombstone, cert_status::unknown, staple_action::no_staple,
                                                staple_action::no_staple, 0));
            store_release(s + w_seq, (seq | 1) + 1);
        } else if (m.state == state_full) {
            ++live_;
        }
    }
}

std::optional<std::uint32_t> shm_writer::find(const cache_key& key) const noexcept {
    const auto want = key_words(key);
    std::uint32_t index = home_slot(key, capacity_);
    for (std::uint32_t probe = 0; probe < capacity_; ++probe, index = (index + 1) & (capacity_ - 1)) {
        const std::uint64_t* s = slot(index);
        const std::uint8_t state = split_meta(load_relaxed(s + w_meta)).state;
        if (state == state_empty) return std::nullopt;
        if (state != state_full) continue;
        bool same = true;
        for (std::size_t i = 0; same && i < 4; ++i) same = load_relaxed(s + w_key + i) == want[i];
        if (same) return index;
    }
    return std::nullopt;
}

void shm_writer::write_slot(std::uint32_t index, std::uint64_t meta, const cache_key& key, std::int64_t this_update,
                            std::int64_t next_update, std::span<const std::uint8_t> der) noexcept {
    std::uint64_t* s = slot(index);
    const std::uint64_t seq = load_relaxed(s + w_seq);
    // Odd first. Each data store below is a release, so a reader that sees any new data word also sees
    // the odd seq and rejects its snapshot when it re-reads seq.
    store_relaxed(s + w_seq, seq + 1);
    store_release(s + w_meta, meta);
    const auto kw = key_words(key);
    for (std::size_t i = 0; i < 4; ++i) store_release(s + w_key + i, kw[i]);
    store_release(s + w_this_update, static_cast<std::uint64_t>(this_update));
    store_release(s + w_next_update, static_cast<std::uint64_t>(next_update));
    const std::size_t n = words_for(der.size());
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t w = 0;
        std::memcpy(&w, der.data() + i * 8, std::min<std::size_t>(8, der.size() - i * 8));
        store_release(s + w_der + i, w);
    }
    store_release(s + w_seq, seq + 2);
}

void shm_writer::write_state(std::uint32_t index, std::uint8_t state) noexcept {
    std::uint64_t* s = slot(index);
    const std::uint64_t seq = load_relaxed(s + w_seq);
    store_relaxed(s + w_seq, seq + 1);
    store_release(s + w_meta,
                  make_meta(state, cert_status::unknown, staple_action::no_staple, staple_action::no_staple, 0));
    store_release(s + w_seq, seq + 2);
}

std::error_code shm_writer::put(const cache_key& key, const cache_entry& entry) noexcept {
    if (!valid_status(static_cast<std::uint8_t>(entry.status)) ||
        !valid_action(static_cast<std::uint8_t>(entry.action)) ||
        !valid_action(static_cast<std::uint8_t>(entry.action_when_expired)) ||
        (entry.action == staple_action::staple && entry.der.empty())) {
        return shm_errc::invalid_argument;
    }
    if (entry.der.size() > max_der_len()) return shm_errc::entry_too_large;

    std::optional<std::uint32_t> target = find(key);
    const bool existing = target.has_value();
    if (!existing) {
        // At most 7/8 full and never completely full (shm_max_entries), so that misses stay short.
        if (live_ + 1 > shm_max_entries(capacity_)) return shm_errc::full;
        std::uint32_t index = home_slot(key, capacity_);
        for (std::uint32_t probe = 0; probe < capacity_; ++probe, index = (index + 1) & (capacity_ - 1)) {
            // find() has shown the key absent, so the first non-full slot of the chain will do.
            if (split_meta(load_relaxed(slot(index) + w_meta)).state != state_full) {
                target = index;
                break;
            }
        }
        if (!target) return shm_errc::full;
    }
    const std::uint64_t meta = make_meta(state_full, entry.status, entry.action, entry.action_when_expired,
                                         static_cast<std::uint32_t>(entry.der.size()));
    write_slot(*target, meta, key, entry.this_update.time_since_epoch().count(),
               entry.next_update.time_since_epoch().count(), entry.der);
    if (!existing) ++live_;
    return {};
}

bool shm_writer::remove(const cache_key& key) noexcept {
    const auto found = find(key);
    if (!found) return false;
    const std::uint32_t mask = capacity_ - 1;
    const std::uint32_t next = (*found + 1) & mask;
    if (split_meta(load_relaxed(slot(next) + w_meta)).state != state_empty) {
        write_state(*found, state_tombstone);
    } else {
        // Every chain through this slot ends at the empty one after it, so this slot can be empty too,
        // and so can the tombstones right before it.
        std::uint32_t i = *found;
        write_state(i, state_empty);
        for (std::uint32_t n = 1; n < capacity_; ++n) {
            i = (i - 1) & mask;
            if (split_meta(load_relaxed(slot(i) + w_meta)).state != state_tombstone) break;
            write_state(i, state_empty);
        }
    }
    --live_;
    return true;
}

std::optional<stored_entry> shm_writer::get(const cache_key& key) const {
    const auto found = find(key);
    if (!found) return std::nullopt;
    auto entry = read_own_slot(slot(*found), max_der_len());
    if (!entry) return std::nullopt;
    return std::move(entry->second);
}

std::vector<std::pair<cache_key, stored_entry>> shm_writer::entries() const {
    std::vector<std::pair<cache_key, stored_entry>> out;
    for (std::uint32_t i = 0; i < capacity_; ++i) {
        if (auto e = read_own_slot(slot(i), max_der_len())) out.push_back(std::move(*e));
    }
    return out;
}

}  // namespace ocspkit::stapler
