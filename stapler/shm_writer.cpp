// The write side of the staple cache (stapler/shm_writer.hpp): the daemon's. libocspstaple does not link it.
#include "stapler/shm_writer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ocspkit::stapler {

using namespace shm_layout;

namespace {

std::error_code sys_error() noexcept { return {errno, std::system_category()}; }

// Reads the header of an existing file with pread(); `size` is the file's size.
shm_errc read_header(int fd, std::uint64_t size, header_fields& h) noexcept {
    std::array<std::uint8_t, sizeof(header_fields)> first{};
    const ssize_t got = ::pread(fd, first.data(), first.size(), 0);
    if (got < 0) return shm_errc::open_failed;
    return parse_header({first.data(), static_cast<std::size_t>(got)}, size, h);
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

shm_reader shm_writer::reader() const noexcept {
    std::error_code ec;
    // The writer checked this header when it opened or created the file, so this cannot fail.
    return *shm_reader::over({base_, map_len_}, ec);
}

}  // namespace ocspkit::stapler
