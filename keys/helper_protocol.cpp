#include "keys/helper_protocol.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ocspkit::keys {
namespace {

void put_u32(std::string& out, std::size_t v) {
    for (int shift : {24, 16, 8, 0}) out += static_cast<char>((v >> shift) & 0xff);
}

std::uint32_t get_u32(std::string_view in) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(in[static_cast<std::size_t>(i)]);
    return v;
}

bool known(std::uint8_t kind) {
    for (auto k : {frame_kind::load, frame_kind::sign, frame_kind::ok, frame_kind::failed})
        if (static_cast<std::uint8_t>(k) == kind) return true;
    return false;
}

// Waits until fd is ready for `events` or the deadline passes.
status wait_ready(int fd, short events, std::optional<deadline> until) {
    while (true) {
        int timeout_ms = -1;
        if (until) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*until - std::chrono::steady_clock::now());
            if (left.count() <= 0) return error{errc::timeout, "the PKCS#11 helper did not answer in time"};
            timeout_ms = static_cast<int>(std::min<std::int64_t>(left.count() + 1, 1 << 30));
        }
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, timeout_ms);
        if (n > 0) return success();
        if (n < 0 && errno != EINTR) return error{errc::io, fmt::format("poll: {}", std::strerror(errno))};
    }
}

status read_exact(int fd, char* out, std::size_t len, std::optional<deadline> until) {
    while (len > 0) {
        if (auto ready = wait_ready(fd, POLLIN, until); !ready) return ready;
        const ssize_t n = ::read(fd, out, len);
        if (n == 0) return error{errc::io, "the PKCS#11 helper closed the connection"};
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return error{errc::io, fmt::format("reading from the PKCS#11 helper: {}", std::strerror(errno))};
        }
        out += n;
        len -= static_cast<std::size_t>(n);
    }
    return success();
}

}  // namespace

std::string encode_frame(const frame& f) {
    std::string body;
    body += static_cast<char>(f.kind);
    for (const auto& field : f.fields) {
        put_u32(body, field.size());
        body += field;
    }
    std::string out;
    out.reserve(4 + body.size());
    put_u32(out, body.size());
    out += body;
    OPENSSL_cleanse(body.data(), body.size());  // it may hold a PIN
    return out;
}

result<frame> decode_frame_body(std::string_view body) {
    if (body.empty() || !known(static_cast<std::uint8_t>(body[0])))
        return error{errc::malformed, "PKCS#11 helper frame of unknown kind"};
    frame f;
    f.kind = static_cast<frame_kind>(body[0]);
    body.remove_prefix(1);
    while (!body.empty()) {
        if (body.size() < 4) return error{errc::malformed, "PKCS#11 helper frame: truncated field length"};
        const std::uint32_t len = get_u32(body);
        body.remove_prefix(4);
        if (len > body.size()) return error{errc::malformed, "PKCS#11 helper frame: field runs past the end"};
        f.fields.emplace_back(body.substr(0, len));
        body.remove_prefix(len);
    }
    return f;
}

status write_frame(int fd, const frame& f, std::optional<deadline> until) {
    std::string bytes = encode_frame(f);
    std::size_t done = 0;
    status result = success();
    while (done < bytes.size()) {
        if (auto ready = wait_ready(fd, POLLOUT, until); !ready) {
            result = ready;
            break;
        }
        // MSG_NOSIGNAL: a dead helper is an error to handle, not a SIGPIPE that ends the program.
        const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            result = error{errc::io, fmt::format("writing to the PKCS#11 helper: {}", std::strerror(errno))};
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return result;
}

result<frame> read_frame(int fd, std::optional<deadline> until) {
    char head[4];
    if (auto s = read_exact(fd, head, sizeof head, until); !s) return std::move(s).failure();
    const std::uint32_t len = get_u32(std::string_view(head, sizeof head));
    if (len == 0 || len > max_frame_bytes)
        return error{errc::malformed, fmt::format("PKCS#11 helper frame of {} bytes", len)};
    std::string body(len, '\0');
    if (auto s = read_exact(fd, body.data(), len, until); !s) return std::move(s).failure();
    auto decoded = decode_frame_body(body);
    OPENSSL_cleanse(body.data(), body.size());
    return decoded;
}

}  // namespace ocspkit::keys
