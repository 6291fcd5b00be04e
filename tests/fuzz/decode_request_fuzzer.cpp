// libFuzzer target: decode_request on arbitrary bytes, then answer() on whatever it accepted.
// Differential: decode_request first tries the single-pass reader of plain requests
// (protocol/ocsp_request_fast.hpp); whatever that reader accepts, the full OpenSSL decoder must accept
// too and read the same CertIDs, nonce and form, or the input is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "protocol/ocsp_request.hpp"
#include "protocol/ocsp_request_fast.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using ocspkit::protocol::decoded_request;

bool same_reading(const decoded_request& a, const decoded_request& b) {
    if (a.certs.size() != b.certs.size() || a.nonce != b.nonce || a.nonce_unwrapped != b.nonce_unwrapped ||
        a.has_signature != b.has_signature)
        return false;
    for (std::size_t i = 0; i < a.certs.size(); ++i) {
        const auto& x = a.certs[i];
        const auto& y = b.certs[i];
        if (x.alg != y.alg || x.issuer_name_hash != y.issuer_name_hash || x.issuer_key_hash != y.issuer_key_hash ||
            x.serial.bytes() != y.serial.bytes() || x.hash_params_null != y.hash_params_null)
            return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ocspkit::protocol::request_limits limits{};
    const auto decoded = ocspkit::protocol::decode_request({data, size}, limits);
    ocspkit::fuzz::check_decoded_and_answer(decoded, limits);
    if (const auto plain = ocspkit::protocol::decode_plain_request({data, size}, limits)) {
        const auto full = ocspkit::protocol::decode_request_with_openssl({data, size}, limits);
        if (!full || !same_reading(*plain, *full)) std::abort();
    }
    return 0;
}
