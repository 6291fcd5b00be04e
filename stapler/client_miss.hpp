#pragma once
// The stapler's side of a libocspstaple miss (stapler/client_check.hpp has the format): the datagram
// decoded, pure. Anyone who can write to the socket can send one, so it is parsed as untrusted bytes
// (fuzz target client_miss) and only ever leads to a fetch for a configured issuer.
#include <cstdint>
#include <span>

#include "common/result.hpp"
#include "common/serial.hpp"
#include "stapler/client_check.hpp"

namespace ocspkit::stapler {

struct client_miss {
    sha1_digest issuer_name_sha1{};
    sha1_digest issuer_key_sha1{};
    serial_number serial;
};

// errc::malformed for a wrong size, magic or version, or a serial that is not one DER INTEGER filling
// the rest; errc::out_of_range for a serial_number refuses (negative, longer than 20 octets).
result<client_miss> decode_client_miss(std::span<const std::uint8_t> datagram);

}  // namespace ocspkit::stapler
