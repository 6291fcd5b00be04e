#include "stapler/daemon/proxy_store.hpp"

#include <fstream>
#include <iterator>
#include <system_error>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "common/atomic_file.hpp"
#include "common/cert_id.hpp"

namespace ocspkit::stapler::daemon {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view magic = "OCSPKIT-PROXY 1\n";
constexpr std::size_t max_part = 1 << 20;

void put_part(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& part) {
    const auto n = static_cast<std::uint32_t>(part.size());
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(n >> shift));
    out.insert(out.end(), part.begin(), part.end());
}

result<std::vector<std::uint8_t>> get_part(std::span<const std::uint8_t>& in, std::string_view what) {
    if (in.size() < 4) return error(errc::malformed, fmt::format("the {} length is cut short", what));
    const std::uint32_t n = (std::uint32_t{in[0]} << 24) | (std::uint32_t{in[1]} << 16) | (std::uint32_t{in[2]} << 8) | in[3];
    in = in.subspan(4);
    if (n == 0 || n > max_part || n > in.size())
        return error(errc::malformed, fmt::format("the {} length {} does not fit the file", what, n));
    std::vector<std::uint8_t> part(in.begin(), in.begin() + n);
    in = in.subspan(n);
    return part;
}

}  // namespace

std::vector<std::uint8_t> encode_proxy_record(const proxy_record& record) {
    std::vector<std::uint8_t> out(magic.begin(), magic.end());
    put_part(out, record.request_der);
    put_part(out, record.response_der);
    return out;
}

result<proxy_record> decode_proxy_record(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < magic.size() || !std::equal(magic.begin(), magic.end(), bytes.begin()))
        return error(errc::malformed, "not a proxy cache file (wrong header)");
    auto rest = bytes.subspan(magic.size());
    auto request = get_part(rest, "request");
    if (!request) return std::move(request).failure();
    auto response = get_part(rest, "response");
    if (!response) return std::move(response).failure();
    if (!rest.empty()) return error(errc::malformed, fmt::format("{} bytes after the response", rest.size()));
    return proxy_record{std::move(request).value(), std::move(response).value()};
}

std::string proxy_file_name(std::string_view key) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(key.data(), key.size(), md, &len, EVP_sha256(), nullptr);
    return to_hex(md, len) + ".ocsp";
}

status proxy_store::open() const {
    std::error_code ec;
    fs::create_directories(folder_, ec);
    if (ec) return error(errc::io, fmt::format("cannot create {}: {}", folder_.string(), ec.message()));
    fs::permissions(folder_, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) return error(errc::io, fmt::format("cannot restrict {} to its owner: {}", folder_.string(), ec.message()));
    return success();
}

status proxy_store::save(std::string_view key, const proxy_record& record) const {
    return write_file_atomically(folder_ / proxy_file_name(key), encode_proxy_record(record), 0600);
}

void proxy_store::remove(std::string_view key) const { remove_file(folder_ / proxy_file_name(key)); }

void proxy_store::remove_file(const fs::path& file) const {
    std::error_code ignored;
    fs::remove(file, ignored);
}

std::vector<proxy_store::loaded> proxy_store::load_all() const {
    std::vector<loaded> out;
    std::error_code ec;
    for (fs::directory_iterator it(folder_, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().extension() != ".ocsp" || !it->is_regular_file()) continue;
        if (std::error_code size_ec; it->file_size(size_ec) > magic.size() + 2 * (4 + max_part) || size_ec) {
            out.push_back({it->path(), error(errc::malformed, "larger than any proxy cache file")});
            continue;
        }
        std::ifstream in(it->path(), std::ios::binary);
        std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in.good() && !in.eof()) {
            out.push_back({it->path(), error(errc::io, "cannot read it")});
            continue;
        }
        out.push_back({it->path(), decode_proxy_record(bytes)});
    }
    return out;
}

}  // namespace ocspkit::stapler::daemon
