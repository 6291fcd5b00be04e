// libFuzzer target: decode_get_path on arbitrary request-targets, under two mount points. What decodes
// must decode the same from its canonical spelling, and then goes through decode_request and answer().
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <openssl/evp.h>

#include "protocol/get_path.hpp"
#include "protocol/ocsp_request.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

std::string canonical_base64(const std::vector<std::uint8_t>& der) {
    std::string out(4 * ((der.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), der.data(), static_cast<int>(der.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// RFC 6960 Appendix A.1: the url-encoding of the base64. Escaping '/' matters for arbitrary bytes: a
// raw leading '/' is read as a separator (see get_path.cpp).
std::string url_encoded(const std::string& b64) {
    std::string out;
    for (const char c : b64) {
        if (c == '+') out += "%2B";
        else if (c == '/') out += "%2F";
        else if (c == '=') out += "%3D";
        else out += c;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ocspkit::protocol;
    const std::string_view target(reinterpret_cast<const char*>(data), size);
    for (const std::string_view base : {std::string_view{"/"}, std::string_view{"/ocsp"}}) {
        const auto der = decode_get_path(target, base);
        if (!der) continue;
        OCSPKIT_FUZZ_CHECK(!der->empty());
        const std::string canonical = canonical_base64(*der);
        const auto again = decode_get_path(std::string(base) + "/" + url_encoded(canonical), base);
        OCSPKIT_FUZZ_CHECK(again && *again == *der);
        const auto plain = ocspkit::decode_base64_lenient(canonical);
        OCSPKIT_FUZZ_CHECK(plain && *plain == *der);
        const request_limits limits{};
        ocspkit::fuzz::check_decoded_and_answer(decode_request(*der, limits), limits);
    }
    return 0;
}
