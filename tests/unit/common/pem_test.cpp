// Loading certificates and keys: format detection, bundles, the key-permission rule, and error messages
// that name the file (they are what an operator sees at start-up).
#include "common/pem.hpp"

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/pem.h>

#include "common/unix_account.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit {
namespace {

namespace fs = std::filesystem;

void write_text(const fs::path& file, const std::string& data) {
    std::ofstream out{file, std::ios::binary};
    out << data;
}

// The exact message of the load_error `fn` throws ("" if it throws nothing or something else).
std::string load_error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const load_error& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("unexpected exception: ") + e.what();
    }
    return "";
}

bool starts_with_and_more(const std::string& text, const std::string& prefix) {
    return text.size() > prefix.size() && text.starts_with(prefix);
}

TEST(load_certificate, pem_and_der_give_the_same_certificate) {
    const test::temp_dir dir;
    const auto ca = test::make_ca("format CA");
    test::write_pem(dir / "ca.pem", ca.cert.get());
    test::write_der(dir / "ca.der", ca.cert.get());

    const auto from_pem = load_certificate(dir / "ca.pem");
    const auto from_der = load_certificate(dir / "ca.der");
    EXPECT_EQ(X509_cmp(from_pem.get(), ca.cert.get()), 0);
    EXPECT_EQ(X509_cmp(from_der.get(), ca.cert.get()), 0);
    EXPECT_EQ(der_of(from_pem.get()), der_of(from_der.get()));
    const auto der = der_of(ca.cert.get());
    EXPECT_EQ(read_file(dir / "ca.der"), std::string(der.begin(), der.end()));
}

TEST(load_certificates, bundle_of_three_in_file_order) {
    const test::temp_dir dir;
    const auto root = test::make_ca("bundle root");
    const auto intermediate = test::make_cert(root, "bundle intermediate", test::key_type::ec_p256, {.is_ca = true});
    const auto leaf = test::make_cert(intermediate, "bundle leaf");
    test::write_pem(dir / "bundle.pem", leaf.cert.get());
    test::append_pem(dir / "bundle.pem", intermediate.cert.get());
    test::append_pem(dir / "bundle.pem", root.cert.get());

    const auto certs = load_certificates(dir / "bundle.pem");
    ASSERT_EQ(certs.size(), 3U);
    EXPECT_EQ(subject_oneline(certs[0].get()), "/CN=bundle leaf");
    EXPECT_EQ(subject_oneline(certs[1].get()), "/CN=bundle intermediate");
    EXPECT_EQ(subject_oneline(certs[2].get()), "/CN=bundle root");
    EXPECT_EQ(subject_rfc2253(certs[2].get()), "CN=bundle root");
    EXPECT_EQ(X509_cmp(load_certificate(dir / "bundle.pem").get(), leaf.cert.get()), 0);

    const auto store = load_ca_bundle(dir / "bundle.pem");
    ASSERT_TRUE(store);
    EXPECT_EQ(sk_X509_OBJECT_num(X509_STORE_get0_objects(store.get())), 3);
}

TEST(load_certificates, skips_other_pem_blocks) {
    const test::temp_dir dir;
    const auto ca = test::make_ca("combined CA");
    // A key followed by its certificate, as some servers keep them in one file.
    test::write_key(dir / "combined.pem", ca.key.get());
    test::append_pem(dir / "combined.pem", ca.cert.get());
    const auto certs = load_certificates(dir / "combined.pem");
    ASSERT_EQ(certs.size(), 1U);
    EXPECT_EQ(X509_cmp(certs[0].get(), ca.cert.get()), 0);
}

struct bad_file_case {
    const char* name;
    std::function<void(const fs::path&)> make;  // creates the file (or not)
    std::string expected;                       // "{}" stands for the file's path
    bool queue_follows;                         // the message continues with OpenSSL's error queue
};

class load_certificates_refuses : public testing::TestWithParam<bad_file_case> {};

TEST_P(load_certificates_refuses, with_message_naming_the_file) {
    const auto& c = GetParam();
    const test::temp_dir dir;
    const fs::path file = dir / "bad.pem";
    c.make(file);
    std::string expected = c.expected;
    expected.replace(expected.find("{}"), 2, file.string());

    const std::string message = load_error_of([&] { (void)load_certificates(file); });
    if (c.queue_follows) {
        EXPECT_TRUE(starts_with_and_more(message, expected)) << message;
    } else {
        EXPECT_EQ(message, expected);
    }
}

std::string der_with_trailing_bytes() {
    const auto ca = test::make_ca("trailing CA");
    const auto der = der_of(ca.cert.get());
    return std::string(der.begin(), der.end()) + "xyz";
}

INSTANTIATE_TEST_SUITE_P(
    table, load_certificates_refuses,
    testing::Values(
        bad_file_case{"empty", [](const fs::path& f) { write_text(f, ""); }, "{}: empty, expected a certificate",
                      false},
        bad_file_case{"garbage", [](const fs::path& f) { write_text(f, "hello, world\n"); },
                      "{}: neither PEM nor a DER certificate: ", true},
        bad_file_case{"corrupt_pem",
                      [](const fs::path& f) {
                          write_text(f, "-----BEGIN CERTIFICATE-----\nAAAA!!!!\n-----END CERTIFICATE-----\n");
                      },
                      "{}: certificate 1 of 1 cannot be parsed: ", true},
        bad_file_case{"key_only",
                      [](const fs::path& f) { test::write_key(f, test::make_key(test::key_type::ed25519).get()); },
                      "{}: PEM file holds no CERTIFICATE block", false},
        bad_file_case{"trailing_bytes_after_der", [](const fs::path& f) { write_text(f, der_with_trailing_bytes()); },
                      "{}: 3 unexpected bytes after the DER certificate", false},
        bad_file_case{"missing", [](const fs::path&) {}, "file {}: cannot open: No such file or directory", false},
        bad_file_case{"directory", [](const fs::path& f) { fs::create_directory(f); }, "file {}: is a directory",
                      false}),
    [](const testing::TestParamInfo<bad_file_case>& p) { return std::string(p.param.name); });

// Private keys: the permission rule, and every format an operator is likely to have. Others may never
// read or write a key; allow_group_readable_key (policy.allow_group_readable) opens group read, and
// only group read. "{}" in expected_error stands for the path, "{owner}"/"{group}" for the file's.
struct key_mode_case {
    const char* name;
    unsigned mode;
    bool allow_group_readable;
    std::string expected_error;  // "" when the key must load
};

class load_private_key_mode : public testing::TestWithParam<key_mode_case> {};

void replace_all(std::string& text, std::string_view from, const std::string& to) {
    for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
        text.replace(pos, from.size(), to);
}

TEST_P(load_private_key_mode, refuses_keys_others_can_read) {
    const auto& c = GetParam();
    const test::temp_dir dir;
    const auto key = test::make_key(test::key_type::ec_p256);
    const fs::path file = dir / "key.pem";
    test::write_key(file, key.get(), c.mode);

    const key_file_policy policy{.allow_group_readable = c.allow_group_readable};
    if (c.expected_error.empty()) {
        const auto loaded = load_private_key(file, policy);
        ASSERT_TRUE(loaded);
        EXPECT_EQ(EVP_PKEY_eq(loaded.get(), key.get()), 1);
    } else {
        std::string expected = c.expected_error;
        replace_all(expected, "{}", file.string());
        replace_all(expected, "{owner}", user_name(::geteuid()));
        replace_all(expected, "{group}", group_name(::getegid()));
        EXPECT_EQ(load_error_of([&] { (void)load_private_key(file, policy); }), expected);
    }
}

constexpr std::string_view never_suffix =
    "which is always refused (allow_group_readable_key = true allows group read, 0640, at most); ";

std::string refused(std::string_view mode, std::string_view what, std::string_view chmod) {
    return fmt::format("key file {{}} (owner {{owner}}, group {{group}}, mode {}) is {}, {}run `chmod {} {{}}`", mode,
                       what, never_suffix, chmod);
}

INSTANTIATE_TEST_SUITE_P(
    table, load_private_key_mode,
    testing::Values(
        key_mode_case{"owner_only_0600", 0600, false, ""},
        key_mode_case{"owner_read_only_0400", 0400, false, ""},
        key_mode_case{"group_readable_0640", 0640, false,
                      "key file {} (owner {owner}, group {group}, mode 0640) is readable by group {group}; run "
                      "`chmod 600 {}`, or set allow_group_readable_key = true in its [[issuer]] table if group "
                      "{group} must read it"},
        key_mode_case{"world_readable_0644", 0644, false, refused("0644", "readable by others", "600")},
        key_mode_case{"group_writable_0660", 0660, false,
                      refused("0660", "readable and writable by group {group}", "600")},
        key_mode_case{"world_readable_only_0604", 0604, false, refused("0604", "readable by others", "600")},
        key_mode_case{"world_writable_0606", 0606, false, refused("0606", "readable and writable by others", "600")},
        key_mode_case{"group_write_only_0620", 0620, false, refused("0620", "writable by group {group}", "600")},
        key_mode_case{"owner_only_0600_allowed", 0600, true, ""},
        key_mode_case{"owner_read_only_0400_allowed", 0400, true, ""},
        key_mode_case{"group_readable_0640_allowed", 0640, true, ""},
        key_mode_case{"world_readable_0644_allowed", 0644, true, refused("0644", "readable by others", "640")},
        key_mode_case{"group_writable_0660_allowed", 0660, true,
                      refused("0660", "readable and writable by group {group}", "640")},
        key_mode_case{"world_readable_only_0604_allowed", 0604, true, refused("0604", "readable by others", "640")},
        key_mode_case{"world_writable_0606_allowed", 0606, true,
                      refused("0606", "readable and writable by others", "640")}),
    [](const testing::TestParamInfo<key_mode_case>& p) { return std::string(p.param.name); });

TEST(load_private_key, names_owner_mode_and_user_when_it_cannot_open) {
    // Root reads any file, so "permission denied" can only be seen as another user.
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to another user";
    const test::temp_dir dir;
    const fs::path file = dir / "root-only.key";
    test::write_key(file, test::make_key(test::key_type::ec_p256).get(), 0600);
    fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    // A child drops to nobody, so this process keeps its identity for the other tests.
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
        const std::string error = load_error_of([&] { (void)load_private_key(file); });
        const std::string expected = fmt::format(
            "key file {}: cannot open: Permission denied (owner root, group root, mode 0600; this process runs as "
            "user {})",
            file.string(), user_name(65534));
        ::_exit(error == expected ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "message differs (3: could not switch to uid 65534)";
}

enum class key_encoding { pkcs8_pem, traditional_pem, pkcs8_der };

struct key_format_case {
    const char* name;
    test::key_type type;
    key_encoding encoding;
};

class load_private_key_format : public testing::TestWithParam<key_format_case> {};

void write_key_as(const fs::path& file, EVP_PKEY* key, key_encoding encoding) {
    ossl::bio_ptr bio{BIO_new_file(file.c_str(), "wb")};
    ASSERT_TRUE(bio);
    switch (encoding) {
    case key_encoding::pkcs8_pem: ASSERT_EQ(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1); break;
    case key_encoding::traditional_pem:
        ASSERT_EQ(PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1);
        break;
    case key_encoding::pkcs8_der: ASSERT_EQ(i2d_PKCS8PrivateKey_bio(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1); break;
    }
    bio.reset();
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
}

TEST_P(load_private_key_format, loads_the_same_key) {
    const auto& c = GetParam();
    const test::temp_dir dir;
    const auto key = test::make_key(c.type);
    write_key_as(dir / "key", key.get(), c.encoding);
    const auto loaded = load_private_key(dir / "key");
    ASSERT_TRUE(loaded);
    EXPECT_EQ(EVP_PKEY_eq(loaded.get(), key.get()), 1);
}

INSTANTIATE_TEST_SUITE_P(
    table, load_private_key_format,
    testing::Values(key_format_case{"ec_pkcs8_pem", test::key_type::ec_p256, key_encoding::pkcs8_pem},
                    key_format_case{"ec_traditional_pem", test::key_type::ec_p384, key_encoding::traditional_pem},
                    key_format_case{"ec_pkcs8_der", test::key_type::ec_p256, key_encoding::pkcs8_der},
                    key_format_case{"rsa_traditional_pem", test::key_type::rsa2048, key_encoding::traditional_pem},
                    key_format_case{"rsa_pss_pkcs8_pem", test::key_type::rsa_pss2048, key_encoding::pkcs8_pem},
                    key_format_case{"ed25519_pkcs8_der", test::key_type::ed25519, key_encoding::pkcs8_der}),
    [](const testing::TestParamInfo<key_format_case>& p) { return std::string(p.param.name); });

TEST(load_private_key, refuses_missing_garbage_and_encrypted_keys) {
    const test::temp_dir dir;
    const fs::path missing = dir / "missing.pem";
    EXPECT_EQ(load_error_of([&] { (void)load_private_key(missing); }),
              "key file " + missing.string() + ": cannot open: No such file or directory");

    const fs::path empty = dir / "empty.pem";
    write_text(empty, "");
    fs::permissions(empty, fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(load_error_of([&] { (void)load_private_key(empty); }), "key file " + empty.string() + ": empty");

    const fs::path garbage = dir / "garbage.pem";
    write_text(garbage, "not a key at all");
    fs::permissions(garbage, fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_TRUE(starts_with_and_more(load_error_of([&] { (void)load_private_key(garbage); }),
                                     "key file " + garbage.string() + ": no unencrypted private key found (PEM or DER): "));

    // Encrypted keys must fail at once: a pass-phrase prompt would hang a daemon at start-up.
    const fs::path encrypted = dir / "encrypted.pem";
    {
        const auto key = test::make_key(test::key_type::ec_p256);
        ossl::bio_ptr bio{BIO_new_file(encrypted.c_str(), "wb")};
        ASSERT_TRUE(bio);
        char pass[] = "secret";
        ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(), pass, 6, nullptr, nullptr), 1);
    }
    fs::permissions(encrypted, fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_TRUE(starts_with_and_more(load_error_of([&] { (void)load_private_key(encrypted); }),
                                     "key file " + encrypted.string() + ": no unencrypted private key found (PEM or DER): "));
}

}  // namespace
}  // namespace ocspkit
