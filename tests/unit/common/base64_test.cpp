// base64_encode (RFC 4648 §10 test vectors, every length mod 3) and decode_base64_lenient (what GET
// clients send; the responder's GET path tests cover the spellings in context).
#include "common/base64.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ocspkit {
namespace {

using bytes = std::vector<std::uint8_t>;

bytes of(std::string_view s) { return bytes(s.begin(), s.end()); }

struct vector_case {
    std::string_view plain;
    std::string_view encoded;
};

class base64_vectors : public ::testing::TestWithParam<vector_case> {};

// RFC 4648 §10.
INSTANTIATE_TEST_SUITE_P(rfc4648, base64_vectors,
                         ::testing::Values(vector_case{"", ""}, vector_case{"f", "Zg=="}, vector_case{"fo", "Zm8="},
                                           vector_case{"foo", "Zm9v"}, vector_case{"foob", "Zm9vYg=="},
                                           vector_case{"fooba", "Zm9vYmE="}, vector_case{"foobar", "Zm9vYmFy"}));

TEST_P(base64_vectors, encodes) { EXPECT_EQ(base64_encode(of(GetParam().plain)), GetParam().encoded); }

TEST_P(base64_vectors, decodes_with_and_without_padding) {
    if (GetParam().plain.empty()) {
        // Empty base64 is refused: an empty request is no request.
        EXPECT_FALSE(decode_base64_lenient(GetParam().encoded));
        return;
    }
    auto padded = decode_base64_lenient(GetParam().encoded);
    ASSERT_TRUE(padded) << padded.error_message();
    EXPECT_EQ(*padded, of(GetParam().plain));
    std::string_view bare = GetParam().encoded;
    while (bare.ends_with('=')) bare.remove_suffix(1);
    auto unpadded = decode_base64_lenient(bare);
    ASSERT_TRUE(unpadded) << unpadded.error_message();
    EXPECT_EQ(*unpadded, of(GetParam().plain));
}

TEST(base64, every_byte_value_round_trips_in_both_alphabets) {
    bytes all(256);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i);
    for (std::size_t len = 1; len <= all.size(); len += 37) {
        const bytes in(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(len));
        const std::string standard = base64_encode(in);
        EXPECT_EQ(standard.size() % 4, 0u);
        std::string url = standard;
        for (char& c : url) c = c == '+' ? '-' : c == '/' ? '_' : c;
        for (const std::string& text : {standard, url}) {
            auto out = decode_base64_lenient(text);
            ASSERT_TRUE(out) << text << ": " << out.error_message();
            EXPECT_EQ(*out, in);
        }
    }
    EXPECT_EQ(base64_encode(bytes{0xfb, 0xff}), "+/8=");  // the two alphabet-specific digits
}

TEST(base64, refuses_what_is_not_canonical_base64) {
    for (const std::string_view bad : {"", "=", "Zg===", "Z", "Zm9vY", "Zg=", "Zm8==", "Zm 9v", "Zm9v\n", "Zh==",
                                       "Zm9=v", "Zm9v%2B", "****"}) {
        EXPECT_FALSE(decode_base64_lenient(bad)) << "'" << bad << "'";
    }
}

}  // namespace
}  // namespace ocspkit
