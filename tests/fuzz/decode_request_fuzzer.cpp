// libFuzzer target: decode_request on arbitrary bytes, then answer() on whatever it accepted.
#include <cstddef>
#include <cstdint>

#include "protocol/ocsp_request.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ocspkit::protocol::request_limits limits{};
    const auto decoded = ocspkit::protocol::decode_request({data, size}, limits);
    ocspkit::fuzz::check_decoded_and_answer(decoded, limits);
    return 0;
}
