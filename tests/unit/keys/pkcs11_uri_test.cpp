// signer_key URIs (RFC 7512) and PIN files: what reaches the engine, what is refused and with which
// error, and the trailing newline libp11 0.4.12 would otherwise send as part of the PIN.
#include "keys/pkcs11_uri.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ocspkit::keys {
namespace {

// Readable test names from the table's first column (a function: a lambda trips -Wshadow in the macro).
template <class Case>
std::string case_name(const testing::TestParamInfo<Case>& info) {
    return info.param.name;
}

struct accepted_case {
    const char* name;
    const char* uri;
    const char* engine_uri;
    const char* token;
    const char* object;
    const char* pin_file;  // "" when none
};

class accepted : public testing::TestWithParam<accepted_case> {};

TEST_P(accepted, keeps_what_the_engine_needs_and_takes_the_pin_source_out) {
    const auto& c = GetParam();
    auto uri = parse_pkcs11_uri(c.uri);
    ASSERT_TRUE(uri) << uri.error_message();
    EXPECT_EQ(uri->engine_uri, c.engine_uri);
    EXPECT_EQ(uri->token, c.token);
    EXPECT_EQ(uri->object, c.object);
    EXPECT_EQ(uri->pin_file ? uri->pin_file->string() : std::string{}, c.pin_file);
}

INSTANTIATE_TEST_SUITE_P(
    table, accepted,
    testing::Values(
        accepted_case{"plain", "pkcs11:token=ocsp;object=signer;type=private", "pkcs11:token=ocsp;object=signer;type=private",
                      "ocsp", "signer", ""},
        accepted_case{"pin_source_in_query", "pkcs11:token=ocsp;object=signer?pin-source=file:/etc/ocspkit/pin",
                      "pkcs11:token=ocsp;object=signer", "ocsp", "signer", "/etc/ocspkit/pin"},
        accepted_case{"pin_source_in_path_as_libp11_reads_it",
                      "pkcs11:token=ocsp;pin-source=file:/run/pin;object=signer", "pkcs11:token=ocsp;object=signer",
                      "ocsp", "signer", "/run/pin"},
        accepted_case{"file_url_with_empty_host", "pkcs11:object=k?pin-source=file:///etc/pin", "pkcs11:object=k", "",
                      "k", "/etc/pin"},
        accepted_case{"relative_pin_file", "pkcs11:object=k?pin-source=file:token.pin", "pkcs11:object=k", "", "k",
                      "token.pin"},
        accepted_case{"percent_encoded_label_decoded_for_messages_kept_for_the_engine",
                      "pkcs11:token=My%20Token;object=key%3b1", "pkcs11:token=My%20Token;object=key%3b1", "My Token",
                      "key;1", ""},
        accepted_case{"id_only", "pkcs11:token=t;id=%01%02", "pkcs11:token=t;id=%01%02", "t", "", ""},
        accepted_case{"scheme_case_insensitive", "PKCS11:object=k", "pkcs11:object=k", "", "k", ""},
        accepted_case{"trailing_separator", "pkcs11:object=k;", "pkcs11:object=k", "", "k", ""}),
    case_name<accepted_case>);

struct refused_case {
    const char* name;
    const char* uri;
    errc code;
    const char* message_part;
};

class refused : public testing::TestWithParam<refused_case> {};

TEST_P(refused, with_the_error_that_says_what_to_write_instead) {
    const auto& c = GetParam();
    auto uri = parse_pkcs11_uri(c.uri);
    ASSERT_FALSE(uri) << c.uri;
    EXPECT_EQ(uri.code(), make_error_code(c.code)) << uri.error_message();
    EXPECT_NE(uri.error_message().find(c.message_part), std::string::npos) << uri.error_message();
}

INSTANTIATE_TEST_SUITE_P(
    table, refused,
    testing::Values(
        refused_case{"module_path", "pkcs11:object=k?module-path=/usr/lib/softhsm/libsofthsm2.so", errc::unsupported,
                     "[pkcs11] module = \"/usr/lib/softhsm/libsofthsm2.so\""},
        refused_case{"module_path_in_path", "pkcs11:object=k;module-path=/m.so", errc::unsupported, "[pkcs11] module"},
        refused_case{"module_name", "pkcs11:object=k?module-name=softhsm2", errc::unsupported, "[pkcs11] module"},
        refused_case{"pin_value", "pkcs11:object=k?pin-value=1234", errc::unsupported, "pin-source=file:"},
        refused_case{"pin_source_not_a_file", "pkcs11:object=k?pin-source=|/bin/get-pin", errc::unsupported,
                     "only file:"},
        refused_case{"pin_source_on_another_host", "pkcs11:object=k?pin-source=file://vault/pin", errc::unsupported,
                     "another host"},
        refused_case{"no_object_nor_id", "pkcs11:token=t", errc::config, "object=<label> or id="},
        refused_case{"public_key", "pkcs11:object=k;type=public", errc::config, "type=private"},
        refused_case{"unknown_attribute", "pkcs11:object=k;colour=blue", errc::unsupported, "'colour'"},
        refused_case{"twice", "pkcs11:object=k;object=j", errc::malformed, "twice"},
        refused_case{"bad_percent", "pkcs11:object=k%4", errc::malformed, "percent"},
        refused_case{"bad_percent_digit", "pkcs11:object=k%zz", errc::malformed, "percent"},
        refused_case{"no_equals", "pkcs11:object", errc::malformed, "name=value"},
        refused_case{"not_pkcs11", "/etc/ocspkit/key.pem", errc::malformed, "pkcs11:"}),
    case_name<refused_case>);

TEST(pkcs11_uri, pin_value_is_never_echoed) {
    auto uri = parse_pkcs11_uri("pkcs11:object=k?pin-value=S3cr3t-PIN");
    ASSERT_FALSE(uri);
    EXPECT_EQ(uri.error_message().find("S3cr3t"), std::string::npos);
}

TEST(pkcs11_uri, describe_names_token_and_object) {
    EXPECT_EQ(parse_pkcs11_uri("pkcs11:token=ocsp;object=signer")->describe(), "token 'ocsp' object 'signer'");
    EXPECT_EQ(parse_pkcs11_uri("pkcs11:id=%01")->describe(), "any token id %01");
}

TEST(pin_file_text, strips_one_line_end) {
    EXPECT_EQ(pin_from_file_text("1234").value(), "1234");
    EXPECT_EQ(pin_from_file_text("1234\n").value(), "1234");
    EXPECT_EQ(pin_from_file_text("1234\r\n").value(), "1234");
    EXPECT_EQ(pin_from_file_text(" 12 34 ").value(), " 12 34 ");  // spaces may be part of a PIN
    EXPECT_EQ(pin_from_file_text("").code(), make_error_code(errc::malformed));
    EXPECT_EQ(pin_from_file_text("\n").code(), make_error_code(errc::malformed));
    EXPECT_EQ(pin_from_file_text("1234\n\n").code(), make_error_code(errc::malformed));
    EXPECT_EQ(pin_from_file_text("1234\n5678\n").code(), make_error_code(errc::malformed));
}

class pin_file : public testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / ("ocspkit-pin-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::filesystem::path write(const std::string& text, unsigned mode) {
        const auto file = dir_ / "token.pin";
        std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
        ::chmod(file.c_str(), mode);
        return file;
    }
    std::filesystem::path dir_;
};

TEST_F(pin_file, reads_the_pin_without_its_newline) {
    EXPECT_EQ(read_pin_file(write("4321\n", 0600), false).value(), "4321");
    EXPECT_EQ(read_pin_file(write("4321\n", 0640), true).value(), "4321");
}

TEST_F(pin_file, refuses_modes_that_let_others_in_and_never_shows_the_pin) {
    for (unsigned mode : {0644u, 0604u, 0620u, 0602u}) {
        auto pin = read_pin_file(write("S3cr3t\n", mode), true);
        ASSERT_FALSE(pin) << std::oct << mode;
        EXPECT_EQ(pin.code(), make_error_code(errc::unauthorized));
        EXPECT_NE(pin.error_message().find("chmod 640"), std::string::npos) << pin.error_message();
        EXPECT_EQ(pin.error_message().find("S3cr3t"), std::string::npos);
    }
    auto group = read_pin_file(write("S3cr3t\n", 0640), false);
    ASSERT_FALSE(group);
    EXPECT_NE(group.error_message().find("chmod 600"), std::string::npos) << group.error_message();
}

TEST_F(pin_file, missing_file_is_an_io_error_naming_it) {
    auto pin = read_pin_file(dir_ / "absent.pin", false);
    ASSERT_FALSE(pin);
    EXPECT_EQ(pin.code(), make_error_code(errc::io));
    EXPECT_NE(pin.error_message().find("absent.pin"), std::string::npos);
}

}  // namespace
}  // namespace ocspkit::keys
