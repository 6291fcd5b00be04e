// libFuzzer target: decode_client_miss (stapler/client_miss.hpp) on arbitrary datagrams, as any local
// process can send them to the proxy's miss socket. What decodes must encode back (encode_client_miss,
// libocspstaple's side) into a datagram that decodes to the same miss, with a serial of at most 20
// octets.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "stapler/client_miss.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ocspkit::stapler;
    const auto miss = decode_client_miss(std::span<const std::uint8_t>(data, size));
    if (!miss) return 0;
    OCSPKIT_FUZZ_CHECK(!miss->serial.bytes().empty() && miss->serial.bytes().size() <= ocspkit::serial_number::max_octets);
    std::array<std::uint8_t, client_miss_max_size> again{};
    const auto serial = miss->serial.to_asn1();
    const std::size_t n = encode_client_miss(miss->issuer_name_sha1, miss->issuer_key_sha1, serial.get(), again);
    OCSPKIT_FUZZ_CHECK(n > client_miss_header_size);
    const auto decoded = decode_client_miss(std::span<const std::uint8_t>(again.data(), n));
    OCSPKIT_FUZZ_CHECK(decoded.has_value());
    OCSPKIT_FUZZ_CHECK(decoded->issuer_name_sha1 == miss->issuer_name_sha1);
    OCSPKIT_FUZZ_CHECK(decoded->issuer_key_sha1 == miss->issuer_key_sha1);
    OCSPKIT_FUZZ_CHECK(decoded->serial == miss->serial);
    return 0;
}
