#pragma once
// The frames a program and its PKCS#11 helper processes exchange over a socket pair (token_key.cpp on
// the program's side, pkcs11_helper.cpp on the helper's):
//
//   frame  = length (u32, big-endian, of what follows) | kind (u8) | field*
//   field  = length (u32, big-endian) | bytes
//
//   load  module, uri, pin          -> ok  public key (SubjectPublicKeyInfo DER)  | failed  text
//   sign  digest name, padding, digest -> ok  signature                            | failed  text
//
// One request at a time per helper; a helper that breaks the protocol is killed, never trusted.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace ocspkit::keys {

enum class frame_kind : std::uint8_t { load = 'L', sign = 'S', ok = 'K', failed = 'E' };

struct frame {
    frame_kind kind = frame_kind::failed;
    std::vector<std::string> fields;  // binary-safe
};

// Larger frames are refused: the biggest legitimate one is a 16384-bit RSA signature or a long URI.
constexpr std::size_t max_frame_bytes = 64 * 1024;

std::string encode_frame(const frame& f);
// A frame's body (after the length): errc::malformed for an unknown kind or a field running past the end.
result<frame> decode_frame_body(std::string_view body);

using deadline = std::chrono::steady_clock::time_point;
// Blocking I/O on a stream socket bounded by `until` (none: wait as long as it takes). errc::timeout
// when the deadline passes, errc::io when the peer closed or the socket failed.
status write_frame(int fd, const frame& f, std::optional<deadline> until);
result<frame> read_frame(int fd, std::optional<deadline> until);

}  // namespace ocspkit::keys
