// The read side of the staple cache (stapler/shm_reader.hpp). Linked into libocspstaple: no writer code
// here, and nothing that creates, locks, renames or writes a file.
#include "stapler/shm_reader.hpp"

#include <cerrno>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

namespace ocspkit::stapler {

using namespace shm_layout;

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
// Reader

namespace {

// A reader gives up on a lookup after this many inconsistent snapshots (see `busy`).
constexpr int max_read_attempts = 256;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

std::error_code sys_error() noexcept { return {errno, std::system_category()}; }

class fd_closer {
public:
    explicit fd_closer(int fd) noexcept : fd_(fd) {}
    fd_closer(const fd_closer&) = delete;
    fd_closer& operator=(const fd_closer&) = delete;
    ~fd_closer() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const noexcept { return fd_; }

private:
    int fd_;
};

}  // namespace

std::optional<shm_reader> shm_reader::open(const char* path, std::error_code& ec) noexcept {
    ec.clear();
    if (path == nullptr || *path == '\0') {
        ec = shm_errc::invalid_argument;
        return std::nullopt;
    }
    fd_closer fd{::open(path, O_RDONLY | O_CLOEXEC)};
    if (fd.get() < 0) {
        ec = sys_error();
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        ec = sys_error();
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        ec = shm_errc::open_failed;
        return std::nullopt;
    }
    // The header is checked with pread() before mapping: mapping a file shorter than its header claims
    // would turn a read past its end into SIGBUS.
    std::array<std::uint8_t, sizeof(header_fields)> first{};
    const ssize_t got = ::pread(fd.get(), first.data(), first.size(), 0);
    if (got < 0) {
        ec = shm_errc::open_failed;
        return std::nullopt;
    }
    header_fields h{};
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (const shm_errc e = parse_header({first.data(), static_cast<std::size_t>(got)}, size, h); e != shm_errc::ok) {
        ec = e;
        return std::nullopt;
    }
    // MAP_POPULATE faults the pages in now, so that lookups do not take page faults later.
    void* p = ::mmap(nullptr, h.file_size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd.get(), 0);
    if (p == MAP_FAILED) {
        ec = sys_error();
        return std::nullopt;
    }
    shm_reader r;
    r.base_ = static_cast<const std::uint8_t*>(p);
    r.map_len_ = h.file_size;
    r.capacity_ = h.capacity;
    r.slot_size_ = h.slot_size;
    // The descriptor is closed on return; the mapping keeps the file (and its inode) alive.
    return r;
}

std::optional<shm_reader> shm_reader::over(std::span<const std::uint8_t> region, std::error_code& ec) noexcept {
    ec.clear();
    // Slot words are read with std::atomic_ref, which needs 8-byte alignment.
    if (region.data() == nullptr || reinterpret_cast<std::uintptr_t>(region.data()) % alignof(std::uint64_t) != 0) {
        ec = shm_errc::invalid_argument;
        return std::nullopt;
    }
    header_fields h{};
    if (const shm_errc e = parse_header(region, region.size(), h); e != shm_errc::ok) {
        ec = e;
        return std::nullopt;
    }
    shm_reader r;
    r.base_ = region.data();
    r.map_len_ = 0;
    r.capacity_ = h.capacity;
    r.slot_size_ = h.slot_size;
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
    if (base_ != nullptr && map_len_ != 0) ::munmap(const_cast<std::uint8_t*>(base_), map_len_);
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
    return find(key, &buffer, now, out);
}

std::error_code shm_reader::lookup_status(const cache_key& key, sys_seconds now, lookup_result& out) const noexcept {
    return find(key, nullptr, now, out);
}

std::error_code shm_reader::find(const cache_key& key, std::span<std::uint8_t>* buffer, sys_seconds now,
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
                } else if (buffer == nullptr) {
                    // lookup_status(): the caller wants the verdict, not the bytes.
                } else if (m.der_len > buffer->size()) {
                    result = shm_errc::buffer_too_small;
                } else {
                    copy_der_out(s + w_der, m.der_len, buffer->data());
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

}  // namespace ocspkit::stapler
