// OCSP request building (RFC 6960 §4.1.1, RFC 8954 nonce) and the RFC 5019 GET URL form.
#include <gtest/gtest.h>
#include <openssl/ocsp.h>

#include "common/cert_id.hpp"
#include "common/ossl_ptr.hpp"
#include "stapler/daemon/ocsp_request_builder.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler::daemon {
namespace {

using bytes_t = std::vector<std::uint8_t>;

bytes_t to_bytes(const ASN1_OCTET_STRING* s) {
    return {ASN1_STRING_get0_data(s), ASN1_STRING_get0_data(s) + ASN1_STRING_length(s)};
}

ossl::ocsp_request_ptr parse(const bytes_t& der) {
    const unsigned char* p = der.data();
    ossl::ocsp_request_ptr req{d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(der.size()))};
    EXPECT_EQ(p, der.data() + der.size()) << "trailing bytes after the OCSPRequest";
    return req;
}

struct builder_case {
    hash_alg hash;
    bool nonce;
};

void PrintTo(const builder_case& c, std::ostream* os) { *os << hash_name(c.hash) << (c.nonce ? "+nonce" : ""); }

class build_request : public testing::TestWithParam<builder_case> {
protected:
    static void SetUpTestSuite() {
        ca_ = new test::issued(test::make_ca("Builder CA"));
        leaf_ = new test::issued(test::make_cert(*ca_, "leaf", test::key_type::ec_p256, {.serial_hex = "8A0B0C"}));
    }
    static void TearDownTestSuite() {
        delete leaf_;
        delete ca_;
    }
    static inline test::issued* ca_ = nullptr;
    static inline test::issued* leaf_ = nullptr;
};

// Parsed back with OpenSSL: one Request whose CertID carries the issuer's hashes under the chosen
// algorithm and the leaf's serial; the nonce extension present iff asked for, in RFC 8954 form.
TEST_P(build_request, parses_back) {
    const auto [hash, with_nonce] = GetParam();
    auto built = build_ocsp_request(leaf_->cert.get(), ca_->cert.get(), hash, with_nonce);
    ASSERT_TRUE(built) << built.error_message();
    auto req = parse(built->der);
    ASSERT_TRUE(req);
    ASSERT_EQ(OCSP_request_onereq_count(req.get()), 1);
    OCSP_CERTID* id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req.get(), 0));
    ASN1_OCTET_STRING* name_hash = nullptr;
    ASN1_OBJECT* md = nullptr;
    ASN1_OCTET_STRING* key_hash = nullptr;
    ASN1_INTEGER* serial = nullptr;
    ASSERT_EQ(OCSP_id_get0_info(&name_hash, &md, &key_hash, &serial, id), 1);
    EXPECT_EQ(OBJ_obj2nid(md), hash_nid(hash));
    EXPECT_EQ(to_bytes(name_hash), issuer_name_hash(ca_->cert.get(), hash));
    EXPECT_EQ(to_bytes(key_hash), issuer_key_hash(ca_->cert.get(), hash));
    EXPECT_EQ(ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(leaf_->cert.get())), 0);
    EXPECT_FALSE(OCSP_request_is_signed(req.get()));

    const int idx = OCSP_REQUEST_get_ext_by_NID(req.get(), NID_id_pkix_OCSP_Nonce, -1);
    if (!with_nonce) {
        EXPECT_EQ(idx, -1);
        EXPECT_FALSE(built->nonce);
        return;
    }
    ASSERT_GE(idx, 0);
    ASSERT_TRUE(built->nonce);
    ASSERT_EQ(built->nonce->size(), nonce_size);
    // extnValue = DER of OCTET STRING { nonce } (RFC 8954 §2.1): 04 10 <16 octets>.
    bytes_t expected{0x04, static_cast<std::uint8_t>(nonce_size)};
    expected.insert(expected.end(), built->nonce->begin(), built->nonce->end());
    EXPECT_EQ(to_bytes(X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(req.get(), idx))), expected);
}

INSTANTIATE_TEST_SUITE_P(table, build_request,
                         testing::Values(builder_case{hash_alg::sha1, false}, builder_case{hash_alg::sha1, true},
                                         builder_case{hash_alg::sha256, false},
                                         builder_case{hash_alg::sha256, true}),
                         [](const auto& p) {
                             return std::string(hash_name(p.param.hash)) + (p.param.nonce ? "_nonce" : "_no_nonce");
                         });

TEST(build_request_misc, nonces_differ_and_null_is_an_error) {
    auto ca = test::make_ca("Builder CA");
    auto leaf = test::make_cert(ca, "leaf");
    auto a = build_ocsp_request(leaf.cert.get(), ca.cert.get(), hash_alg::sha1, true);
    auto b = build_ocsp_request(leaf.cert.get(), ca.cert.get(), hash_alg::sha1, true);
    ASSERT_TRUE(a && b);
    EXPECT_NE(*a->nonce, *b->nonce);
    EXPECT_FALSE(build_ocsp_request(nullptr, ca.cert.get(), hash_alg::sha1, false));
    EXPECT_FALSE(build_ocsp_request(leaf.cert.get(), nullptr, hash_alg::sha1, false));
}

// An independent reader: the openssl command line prints what it parsed.
TEST(build_request_misc, openssl_cli_reads_it) {
    auto ca = test::make_ca("Builder CA");
    auto leaf = test::make_cert(ca, "leaf", test::key_type::ec_p256, {.serial_hex = "1234AB"});
    auto built = build_ocsp_request(leaf.cert.get(), ca.cert.get(), hash_alg::sha256, true);
    ASSERT_TRUE(built) << built.error_message();
    test::temp_dir dir;
    const auto file = dir / "req.der";
    {
        std::FILE* f = std::fopen(file.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        std::fwrite(built->der.data(), 1, built->der.size(), f);
        std::fclose(f);
    }
    auto out = test::run_command("openssl ocsp -reqin '" + file.string() + "' -req_text -noverify");
    ASSERT_EQ(out.exit_code, 0) << out.output;
    EXPECT_NE(out.output.find("Hash Algorithm: sha256"), std::string::npos) << out.output;
    EXPECT_NE(out.output.find("Serial Number: 1234AB"), std::string::npos) << out.output;
    EXPECT_NE(out.output.find("OCSP Nonce"), std::string::npos) << out.output;
    const auto key_hash = to_hex(issuer_key_hash(ca.cert.get(), hash_alg::sha256));
    std::string upper;
    for (char c : key_hash) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_NE(out.output.find(upper), std::string::npos) << "issuer key hash " << upper << " in\n" << out.output;
}

struct b64_case {
    const char* in;
    const char* out;
};
// Named, so GoogleTest does not dump the struct's bytes (padding included) as the parameter.
void PrintTo(const b64_case& c, std::ostream* os) { *os << c.in; }

class base64 : public testing::TestWithParam<b64_case> {};
TEST_P(base64, rfc4648_vectors) {
    const std::string in = GetParam().in;
    EXPECT_EQ(base64_encode(bytes_t(in.begin(), in.end())), GetParam().out);
}
INSTANTIATE_TEST_SUITE_P(rfc4648, base64,
                         testing::Values(b64_case{"", ""}, b64_case{"f", "Zg=="}, b64_case{"fo", "Zm8="},
                                         b64_case{"foo", "Zm9v"}, b64_case{"foob", "Zm9vYg=="},
                                         b64_case{"fooba", "Zm9vYmE="}, b64_case{"foobar", "Zm9vYmFy"}));

TEST(get_url, escapes_plus_slash_equals_and_joins_with_one_slash) {
    const bytes_t der{0xfb, 0xff};  // base64 "+/8="
    EXPECT_EQ(get_url("http://h/ocsp", der), "http://h/ocsp/%2B%2F8%3D");
    EXPECT_EQ(get_url("http://h/ocsp/", der), "http://h/ocsp/%2B%2F8%3D");
    EXPECT_EQ(get_url("http://h", der), "http://h/%2B%2F8%3D");
    EXPECT_EQ(get_url("http://h:8080/", bytes_t{'f', 'o', 'o'}), "http://h:8080/Zm9v");
}

// RFC 5019 §5: 255 bytes is the last size that may use GET.
TEST(get_url, rule_of_255_bytes) {
    const bytes_t der(60, 0x41);  // base64: 80 characters, no escapes
    const std::string prefix = "http://h/";
    ASSERT_EQ(get_url(prefix, der).size(), prefix.size() + 80);
    const std::string at_limit = prefix + std::string(max_get_url_size - prefix.size() - 80 - 1, 'p') + "/";
    ASSERT_EQ(get_url(at_limit, der).size(), 255u);
    EXPECT_TRUE(get_fits(at_limit, der));
    const std::string over = prefix + std::string(max_get_url_size - prefix.size() - 80, 'p') + "/";
    ASSERT_EQ(get_url(over, der).size(), 256u);
    EXPECT_FALSE(get_fits(over, der));
    EXPECT_FALSE(get_fits("http://h/?q=1", der)) << "a query cannot take a path suffix";

    // A real request without nonce for a short URL fits; the same one under a long path does not.
    auto ca = test::make_ca("Builder CA");
    auto leaf = test::make_cert(ca, "leaf");
    auto built = build_ocsp_request(leaf.cert.get(), ca.cert.get(), hash_alg::sha1, false);
    ASSERT_TRUE(built);
    EXPECT_TRUE(get_fits("http://ocsp.example.com", built->der));
    EXPECT_FALSE(get_fits("http://ocsp.example.com/" + std::string(200, 'x'), built->der));
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
