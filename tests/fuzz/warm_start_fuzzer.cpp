// libFuzzer target: the warm-start file (responder/warm_start.hpp), which ocsp-responder reads back at
// start. Each input is decoded twice: as it is (a file as found on disk), and with its correct SHA-256
// appended (so that mutations reach the entry parser behind the checksum, which random bytes never pass).
// Invariants: no crash, leak or overread; whatever decodes encodes back to a file that decodes to the same
// entries, and every decoded entry respects the format's bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include <openssl/sha.h>

#include "responder/warm_start.hpp"

namespace {

using ocspkit::responder::decode_warm_start;
using ocspkit::responder::encode_warm_start;
using ocspkit::responder::warm_entry;

void check(std::span<const std::uint8_t> file) {
    auto decoded = decode_warm_start(file);
    if (!decoded) {
        if (decoded.error_message().empty()) std::abort();  // a refusal always says why
        return;
    }
    for (const warm_entry& e : *decoded) {
        if (e.request_der.empty() || e.request_der.size() > ocspkit::responder::warm_max_der) std::abort();
        if (e.response_der.empty() || e.response_der.size() > ocspkit::responder::warm_max_der) std::abort();
        if (e.signer_sha256.size() != SHA256_DIGEST_LENGTH) std::abort();
        if (e.statuses.empty() || e.next_update <= e.this_update) std::abort();
    }
    auto again = decode_warm_start(encode_warm_start(*decoded));
    if (!again || *again != *decoded) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);
    check(input);
    std::vector<std::uint8_t> sealed(data, data + size);
    sealed.resize(size + SHA256_DIGEST_LENGTH);
    SHA256(data, size, sealed.data() + size);
    check(sealed);
    return 0;
}
