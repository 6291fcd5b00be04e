#include "stapler/daemon/store.hpp"

#include <cerrno>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <sys/stat.h>

#include "common/atomic_file.hpp"
#include "stapler/daemon/cert_state.hpp"

namespace ocspkit::stapler::daemon {
namespace fs = std::filesystem;

std::error_code state_store::prepare() const {
    std::error_code ec;
    if (fs::create_directories(dir_, ec)) {
        if (::chmod(dir_.c_str(), 0700) != 0) return {errno, std::generic_category()};
    }
    return ec;
}

std::optional<std::vector<std::uint8_t>> state_store::read(std::string_view name, std::error_code& ec) const {
    ec.clear();
    const fs::path file = file_of(name);
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        std::error_code exists_ec;
        if (fs::exists(file, exists_ec)) ec = std::make_error_code(std::errc::permission_denied);
        return std::nullopt;
    }
    std::vector<std::uint8_t> der{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) {
        ec = std::make_error_code(std::errc::io_error);
        return std::nullopt;
    }
    return der;
}

status state_store::save(std::string_view name, std::span<const std::uint8_t> der) const {
    return write_file_atomically(file_of(name), der, 0644);
}

std::error_code state_store::remove(std::string_view name) const {
    std::error_code ec;
    fs::remove(file_of(name), ec);
    return ec;
}

state_store::restored state_store::restore(const certificate& cert, sys_seconds now,
                                           std::chrono::seconds max_skew) const {
    restored out;
    std::error_code ec;
    auto der = read(cert.name, ec);
    if (!der) {
        if (ec) {
            out.problem = fmt::format("{}: unreadable ({}), removed", file_of(cert.name).string(), ec.message());
            remove(cert.name);
        }
        return out;
    }
    validation_options options;
    options.max_skew = max_skew;
    options.max_size = cert.settings.max_response_bytes;
    auto v = validate_response(cert.leaf.get(), cert.issuer.get(), *der, now, options);
    if (!v && reject_reason_of(v) == reject_reason::expired) {
        options.allow_expired = true;
        auto kept = validate_response(cert.leaf.get(), cert.issuer.get(), *der, now, options);
        if (kept && is_permanent_revocation(kept.value())) {
            out.response = std::move(kept).value();
            return out;
        }
    }
    if (!v) {
        out.problem = fmt::format("{}: {} ({}), removed", file_of(cert.name).string(), to_string(reject_reason_of(v)),
                                  v.failure().message);
        remove(cert.name);
        return out;
    }
    out.response = std::move(v).value();
    return out;
}

}  // namespace ocspkit::stapler::daemon
