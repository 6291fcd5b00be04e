#include "responder/warm_start.hpp"

#include <array>
#include <cstring>
#include <string_view>

#include <fmt/format.h>
#include <openssl/sha.h>

namespace ocspkit::responder {
namespace {

constexpr std::string_view magic = "OCSPKIT-WARM-START\n";
constexpr std::uint32_t version = 1;

enum status_flags : std::uint8_t {
    has_revocation_time = 1,
    has_reason = 2,
    has_invalidity_date = 4,
    extended_revoked = 8,
    expired = 16,
};

class writer {
public:
    explicit writer(bytes& out) : out_(out) {}
    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v) { little(v, 2); }
    void u32(std::uint32_t v) { little(v, 4); }
    void i64(std::int64_t v) { little(static_cast<std::uint64_t>(v), 8); }
    void raw(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
    void block(std::span<const std::uint8_t> b) {
        u32(static_cast<std::uint32_t>(b.size()));
        raw(b);
    }

private:
    void little(std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    bytes& out_;
};

class reader {
public:
    explicit reader(std::span<const std::uint8_t> in) : in_(in) {}
    bool at_end() const { return pos_ == in_.size(); }
    std::uint8_t u8() { return static_cast<std::uint8_t>(little(1)); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(little(2)); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(little(4)); }
    std::int64_t i64() { return static_cast<std::int64_t>(little(8)); }
    std::span<const std::uint8_t> raw(std::size_t n, std::string_view what) {
        if (in_.size() - pos_ < n) throw truncated{std::string(what)};
        auto out = in_.subspan(pos_, n);
        pos_ += n;
        return out;
    }
    bytes block(std::size_t max, std::string_view what) {
        const std::uint32_t n = u32();
        if (n == 0 || n > max) throw bad_field{fmt::format("{} of {} bytes", what, n)};
        auto b = raw(n, what);
        return bytes(b.begin(), b.end());
    }
    struct truncated {
        std::string what;
    };
    struct bad_field {
        std::string what;
    };

private:
    std::uint64_t little(int n) {
        auto b = raw(static_cast<std::size_t>(n), "an integer");
        std::uint64_t v = 0;
        for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(b[static_cast<std::size_t>(i)]) << (8 * i);
        return v;
    }
    std::span<const std::uint8_t> in_;
    std::size_t pos_ = 0;
};

std::array<std::uint8_t, SHA256_DIGEST_LENGTH> checksum(std::span<const std::uint8_t> b) {
    std::array<std::uint8_t, SHA256_DIGEST_LENGTH> d{};
    SHA256(b.data(), b.size(), d.data());
    return d;
}

bool known_reason(std::uint8_t r) { return r <= 10 && r != 7; }

void write_status(writer& w, const single_status& s) {
    std::uint8_t flags = 0;
    if (s.revocation_time) flags |= has_revocation_time;
    if (s.reason) flags |= has_reason;
    if (s.invalidity_date) flags |= has_invalidity_date;
    if (s.extended_revoked) flags |= extended_revoked;
    if (s.expired) flags |= expired;
    w.u8(static_cast<std::uint8_t>(s.state));
    w.u8(flags);
    w.i64(s.revocation_time ? s.revocation_time->time_since_epoch().count() : 0);
    w.u8(s.reason ? static_cast<std::uint8_t>(*s.reason) : 0);
    w.i64(s.invalidity_date ? s.invalidity_date->time_since_epoch().count() : 0);
}

single_status read_status(reader& r) {
    single_status s;
    const std::uint8_t state = r.u8();
    if (state > static_cast<std::uint8_t>(cert_state::unknown)) throw reader::bad_field{fmt::format("state {}", state)};
    s.state = static_cast<cert_state>(state);
    const std::uint8_t flags = r.u8();
    if ((flags & ~0x1fu) != 0) throw reader::bad_field{fmt::format("status flags {:#x}", flags)};
    const auto revocation_time = r.i64();
    const std::uint8_t reason = r.u8();
    const auto invalidity = r.i64();
    if ((flags & has_revocation_time) != 0) s.revocation_time = sys_seconds{std::chrono::seconds{revocation_time}};
    if ((flags & has_reason) != 0) {
        if (!known_reason(reason)) throw reader::bad_field{fmt::format("revocation reason {}", reason)};
        s.reason = static_cast<schema::revocation_reason>(reason);
    }
    if ((flags & has_invalidity_date) != 0) s.invalidity_date = sys_seconds{std::chrono::seconds{invalidity}};
    s.extended_revoked = (flags & extended_revoked) != 0;
    s.expired = (flags & expired) != 0;
    return s;
}

}  // namespace

bytes encode_warm_start(std::span<const warm_entry> entries) {
    bytes out;
    writer w(out);
    w.raw(std::span(reinterpret_cast<const std::uint8_t*>(magic.data()), magic.size()));
    w.u32(version);
    w.u32(static_cast<std::uint32_t>(entries.size()));
    for (const auto& e : entries) {
        w.block(e.request_der);
        w.block(e.response_der);
        w.raw(e.signer_sha256);
        w.i64(e.this_update.time_since_epoch().count());
        w.i64(e.next_update.time_since_epoch().count());
        w.i64(e.refresh_at.time_since_epoch().count());
        w.u16(static_cast<std::uint16_t>(e.statuses.size()));
        for (const auto& s : e.statuses) write_status(w, s);
    }
    const auto sum = checksum(out);
    w.raw(sum);
    return out;
}

result<std::vector<warm_entry>> decode_warm_start(std::span<const std::uint8_t> file) {
    if (file.size() < magic.size() + 8 + SHA256_DIGEST_LENGTH ||
        std::memcmp(file.data(), magic.data(), magic.size()) != 0)
        return error{errc::malformed, "not a warm-start file (no OCSPKIT-WARM-START header)"};
    const auto body = file.first(file.size() - SHA256_DIGEST_LENGTH);
    const auto sum = checksum(body);
    if (std::memcmp(sum.data(), file.data() + body.size(), sum.size()) != 0)
        return error{errc::malformed, "checksum mismatch (a damaged or truncated file)"};
    reader r(body.subspan(magic.size()));
    std::vector<warm_entry> entries;
    try {
        if (const auto v = r.u32(); v != version)
            return error{errc::malformed, fmt::format("version {} (this responder reads version {})", v, version)};
        const std::uint32_t count = r.u32();
        for (std::uint32_t i = 0; i < count; ++i) {
            warm_entry e;
            e.request_der = r.block(warm_max_der, "request");
            e.response_der = r.block(warm_max_der, "response");
            auto sha = r.raw(SHA256_DIGEST_LENGTH, "signer hash");
            e.signer_sha256.assign(sha.begin(), sha.end());
            e.this_update = sys_seconds{std::chrono::seconds{r.i64()}};
            e.next_update = sys_seconds{std::chrono::seconds{r.i64()}};
            e.refresh_at = sys_seconds{std::chrono::seconds{r.i64()}};
            if (e.next_update <= e.this_update)
                return error{errc::malformed, fmt::format("entry {}: nextUpdate not after thisUpdate", i)};
            const std::uint16_t n = r.u16();
            if (n == 0 || n > warm_max_statuses)
                return error{errc::malformed, fmt::format("entry {}: {} statuses", i, n)};
            e.statuses.reserve(n);
            for (std::uint16_t k = 0; k < n; ++k) e.statuses.push_back(read_status(r));
            entries.push_back(std::move(e));
        }
        if (!r.at_end()) return error{errc::malformed, "bytes after the last entry"};
    } catch (const reader::truncated& t) {
        return error{errc::malformed, fmt::format("truncated at {} of entry {}", t.what, entries.size())};
    } catch (const reader::bad_field& b) {
        return error{errc::malformed, fmt::format("entry {}: {}", entries.size(), b.what)};
    }
    return entries;
}

}  // namespace ocspkit::responder
