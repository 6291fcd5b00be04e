// decode_get_path / decode_base64_lenient: every spelling real clients use for GET requests
// (RFC 6960 Appendix A.1, RFC 5019 §5), built from a real OCSPRequest, and the inputs that must fail.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "common/openssl_error.hpp"
#include "protocol/get_path.hpp"
#include "protocol/ocsp_request.hpp"
#include "tests/unit/responder/responder_test_util.hpp"

namespace ocspkit::protocol {
namespace {

using namespace responder::test_util;

std::string base64(const bytes& der) {
    std::string out(4 * ((der.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), der.data(), static_cast<int>(der.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string replace_all(std::string s, char from, const std::string& to) {
    std::string out;
    for (const char c : s) {
        if (c == from) out += to;
        else out += c;
    }
    return out;
}

std::string strip_padding(std::string s) {
    while (!s.empty() && s.back() == '=') s.pop_back();
    return s;
}

// A real request whose base64 holds '+', '/' and padding, so every transformation below changes
// something. The nonce is varied until that is true (deterministically: the first that works).
const bytes& sample_request() {
    static const bytes der = [] {
        // The length decides the padding, the contents decide '+' and '/': vary both.
        for (std::size_t len = 16; len < 19; ++len) {
            for (int first = 0; first < 256; ++first) {
                request_spec spec{.certs = {{main_ca().cert.get(), "1234ABCD", hash_alg::sha256}},
                                  .nonce = filled(len, static_cast<std::uint8_t>(first))};
                bytes candidate = make_request_der(spec);
                const std::string b = base64(candidate);
                if (b.find('+') != std::string::npos && b.find('/') != std::string::npos && b.back() == '=')
                    return candidate;
            }
        }
        throw std::runtime_error("no sample request has +, / and padding");
    }();
    return der;
}

struct path_case {
    std::string name;
    std::string base_path;
    std::function<std::string(const std::string& b64)> target;
};

class get_path_decodes : public ::testing::TestWithParam<path_case> {};

TEST_P(get_path_decodes, to_the_original_der) {
    const auto& c = GetParam();
    const std::string b64 = base64(sample_request());
    const std::string target = c.target(b64);
    const auto der = decode_get_path(target, c.base_path);
    ASSERT_TRUE(der.has_value()) << target << ": " << der.error_message();
    EXPECT_EQ(*der, sample_request()) << target;
    // And it is a request the decoder accepts.
    EXPECT_TRUE(decode_request(*der).has_value());
}

std::string pct_upper(const std::string& b) {
    return replace_all(replace_all(replace_all(b, '+', "%2B"), '/', "%2F"), '=', "%3D");
}

INSTANTIATE_TEST_SUITE_P(
    forms, get_path_decodes,
    ::testing::Values(
        path_case{"raw_base64", "/", [](const std::string& b) { return "/" + b; }},
        path_case{"percent_upper", "/", [](const std::string& b) { return "/" + pct_upper(b); }},
        path_case{"percent_lower", "/",
                  [](const std::string& b) {
                      return "/" + replace_all(replace_all(replace_all(b, '+', "%2b"), '/', "%2f"), '=', "%3d");
                  }},
        path_case{"percent_mixed_case", "/",
                  [](const std::string& b) {
                      return "/" + replace_all(replace_all(replace_all(b, '+', "%2b"), '/', "%2F"), '=', "%3d");
                  }},
        path_case{"only_slash_escaped_plus_raw", "/",
                  [](const std::string& b) { return "/" + replace_all(b, '/', "%2F"); }},
        path_case{"every_character_escaped", "/",
                  [](const std::string& b) {
                      std::string out = "/";
                      for (const char ch : b) out += fmt::format("%{:02X}", static_cast<unsigned char>(ch));
                      return out;
                  }},
        path_case{"base64url", "/",
                  [](const std::string& b) { return "/" + replace_all(replace_all(b, '+', "-"), '/', "_"); }},
        path_case{"base64url_unpadded", "/",
                  [](const std::string& b) {
                      return "/" + strip_padding(replace_all(replace_all(b, '+', "-"), '/', "_"));
                  }},
        path_case{"unpadded", "/", [](const std::string& b) { return "/" + strip_padding(b); }},
        path_case{"prefix", "/ocsp", [](const std::string& b) { return "/ocsp/" + pct_upper(b); }},
        path_case{"prefix_base_with_trailing_slash", "/ocsp/", [](const std::string& b) { return "/ocsp/" + b; }},
        path_case{"deep_prefix", "/pki/ocsp/root", [](const std::string& b) { return "/pki/ocsp/root/" + b; }},
        path_case{"doubled_slash_at_root", "/", [](const std::string& b) { return "//" + b; }},
        path_case{"doubled_slash_after_prefix", "/ocsp", [](const std::string& b) { return "/ocsp//" + pct_upper(b); }},
        path_case{"empty_base_path", "", [](const std::string& b) { return "/" + b; }},
        path_case{"query_is_dropped", "/", [](const std::string& b) { return "/" + pct_upper(b) + "?cb=123"; }},
        path_case{"absolute_form_target", "/ocsp",
                  [](const std::string& b) { return "http://ocsp.example.test:8080/ocsp/" + pct_upper(b); }},
        path_case{"absolute_form_https_upper_scheme", "/",
                  [](const std::string& b) { return "HTTPS://ocsp.example.test/" + b; }}),
    [](const ::testing::TestParamInfo<path_case>& p) { return p.param.name; });

class get_path_refuses : public ::testing::TestWithParam<path_case> {};

TEST_P(get_path_refuses, with_an_error) {
    const auto& c = GetParam();
    const std::string target = c.target(base64(sample_request()));
    const auto der = decode_get_path(target, c.base_path);
    EXPECT_FALSE(der.has_value()) << target;
    if (!der.has_value()) {
        EXPECT_FALSE(der.error_message().empty());
    }
}

INSTANTIATE_TEST_SUITE_P(
    malformed, get_path_refuses,
    ::testing::Values(
        path_case{"percent_truncated_at_end", "/", [](const std::string& b) { return "/" + strip_padding(b) + "%3"; }},
        path_case{"percent_alone_at_end", "/", [](const std::string& b) { return "/" + strip_padding(b) + "%"; }},
        path_case{"percent_bad_hex", "/", [](const std::string& b) { return "/" + b.substr(0, 8) + "%G1" + b.substr(8); }},
        path_case{"percent_decodes_to_space", "/",
                  [](const std::string& b) { return "/" + b.substr(0, 8) + "%20" + b.substr(8); }},
        path_case{"plus_is_not_a_space", "/", [](const std::string& b) { return "/" + replace_all(b, '+', " "); }},
        path_case{"invalid_character", "/", [](const std::string& b) { return "/" + b.substr(0, 8) + "!" + b.substr(9); }},
        path_case{"padding_in_the_middle", "/", [](const std::string& b) { return "/" + b.substr(0, 8) + "=" + b.substr(9); }},
        path_case{"three_padding_characters", "/", [](const std::string& b) { return "/" + strip_padding(b) + "==="; }},
        path_case{"wrong_amount_of_padding", "/",
                  [](const std::string& b) {
                      // Two digits in the last group need "==", three need "=": give the other one.
                      const std::string s = strip_padding(b);
                      return "/" + s + (s.size() % 4 == 2 ? "=" : "==");
                  }},
        path_case{"impossible_length", "/",
                  [](const std::string& b) {
                      std::string s = strip_padding(b);
                      while (s.size() % 4 != 1) s += 'A';
                      return "/" + s;
                  }},
        path_case{"outside_base_path", "/ocsp", [](const std::string& b) { return "/other/" + b; }},
        path_case{"base_path_without_separator", "/ocsp", [](const std::string& b) { return "/ocsp" + b; }},
        path_case{"nothing_after_base_path", "/ocsp", [](const std::string&) { return std::string("/ocsp/"); }},
        path_case{"only_slashes", "/", [](const std::string&) { return std::string("///"); }},
        path_case{"empty_target", "/", [](const std::string&) { return std::string(); }},
        path_case{"absolute_form_without_path", "/", [](const std::string&) { return std::string("http://ocsp.example"); }}),
    [](const ::testing::TestParamInfo<path_case>& p) { return p.param.name; });

// RFC 4648 §10 test vectors, padded and unpadded, standard and url alphabet.
struct base64_case {
    std::string name;
    std::string text;
    std::string expect;
};
class base64_lenient : public ::testing::TestWithParam<base64_case> {};

TEST_P(base64_lenient, decodes) {
    const auto& c = GetParam();
    const auto out = decode_base64_lenient(c.text);
    ASSERT_TRUE(out.has_value()) << c.text << ": " << out.error_message();
    EXPECT_EQ(std::string(out->begin(), out->end()), c.expect);
}

INSTANTIATE_TEST_SUITE_P(
    rfc4648, base64_lenient,
    ::testing::Values(base64_case{"f_padded", "Zg==", "f"}, base64_case{"f_unpadded", "Zg", "f"},
                      base64_case{"fo_padded", "Zm8=", "fo"}, base64_case{"fo_unpadded", "Zm8", "fo"},
                      base64_case{"foo", "Zm9v", "foo"}, base64_case{"foob_padded", "Zm9vYg==", "foob"},
                      base64_case{"fooba_padded", "Zm9vYmE=", "fooba"}, base64_case{"foobar", "Zm9vYmFy", "foobar"},
                      base64_case{"high_bytes_standard", "+/+/", "\xfb\xff\xbf"},
                      base64_case{"high_bytes_url", "-_-_", "\xfb\xff\xbf"}),
    [](const ::testing::TestParamInfo<base64_case>& p) { return p.param.name; });

class base64_lenient_refuses : public ::testing::TestWithParam<base64_case> {};

TEST_P(base64_lenient_refuses, bad_input) {
    EXPECT_FALSE(decode_base64_lenient(GetParam().text).has_value()) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    malformed, base64_lenient_refuses,
    ::testing::Values(base64_case{"empty", "", ""}, base64_case{"only_padding", "==", ""},
                      base64_case{"single_digit", "Z", ""}, base64_case{"whitespace", "Zm9v Yg==", ""},
                      base64_case{"newline", "Zm9v\nYg==", ""}, base64_case{"nonzero_pad_bits", "Zh==", ""},
                      base64_case{"nonzero_pad_bits_unpadded", "Zm9", ""},
                      base64_case{"wrong_padding_amount", "Zm8==", ""}, base64_case{"padding_then_data", "Zg==Zg==", ""}),
    [](const ::testing::TestParamInfo<base64_case>& p) { return p.param.name; });

}  // namespace
}  // namespace ocspkit::protocol
