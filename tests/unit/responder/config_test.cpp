// The responder's `database =`: a path (resolved against the configuration file) means SQLite, a
// PostgreSQL connection string is kept as written and never shown with its password.
#include "responder/config.hpp"

#include <sched.h>

#include <algorithm>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace ocspkit::responder {
namespace {

const std::filesystem::path origin = "/etc/ocspkit/responder.toml";

responder_config with_database(std::string_view database) {
    return parse_config(fmt::format(R"(database = "{}"
[[issuer]]
ca = "ca.pem"
signer_key = "ca.key"
)",
                                    database),
                        origin);
}

TEST(responder_config_database, a_relative_path_is_a_sqlite_file_beside_the_configuration) {
    const auto c = with_database("index.db");
    EXPECT_TRUE(c.database.is_file);
    EXPECT_EQ(c.database.file(), "/etc/ocspkit/index.db");
    EXPECT_EQ(c.database.describe(), "/etc/ocspkit/index.db");
}

TEST(responder_config_database, a_postgresql_uri_is_kept_as_written_and_described_without_its_password) {
    const auto c = with_database("postgresql://ocsp:s3cret@db1.example:5432/ocspkit?sslmode=verify-full");
    EXPECT_FALSE(c.database.is_file);
    EXPECT_EQ(c.database.spec, "postgresql://ocsp:s3cret@db1.example:5432/ocspkit?sslmode=verify-full");
    EXPECT_EQ(c.database.describe().find("s3cret"), std::string::npos) << c.database.describe();
    EXPECT_NE(c.database.describe().find("db1.example"), std::string::npos) << c.database.describe();
}

TEST(responder_config_database, a_libpq_keyword_string_is_postgresql_too) {
    const auto c = with_database("host=/run/postgresql dbname=ocspkit password=s3cret");
    EXPECT_FALSE(c.database.is_file);
    EXPECT_EQ(c.database.spec, "host=/run/postgresql dbname=ocspkit password=s3cret");
    EXPECT_EQ(c.database.describe().find("s3cret"), std::string::npos) << c.database.describe();
}

TEST(responder_config_database, missing_or_empty_is_refused_with_the_key) {
    try {
        (void)with_database("");
        FAIL() << "an empty database was accepted";
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("database"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("must not be empty"), std::string::npos) << e.what();
    }
    try {
        (void)parse_config("[[issuer]]\nca = \"ca.pem\"\n", origin);
        FAIL() << "a configuration without database was accepted";
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("PostgreSQL connection string"), std::string::npos) << e.what();
    }
}


// signer_key = "pkcs11:...": the URI's PIN source resolved like any path, the [pkcs11] module and
// sessions handed to the key, and every way to get it wrong refused with the key that is wrong.
responder_config with_token_key(std::string_view signer_key, std::string_view extra_issuer = "",
                                std::string_view pkcs11 = "[pkcs11]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\n") {
    return parse_config(fmt::format(R"(database = "index.db"
{}
[[issuer]]
ca = "ca.pem"
signer_cert = "signer.pem"
signer_key = "{}"
{}
)",
                                    pkcs11, signer_key, extra_issuer),
                        origin);
}

std::string config_failure(std::string_view signer_key, std::string_view extra_issuer = "",
                           std::string_view pkcs11 = "[pkcs11]\nmodule = \"/m.so\"\n") {
    try {
        (void)with_token_key(signer_key, extra_issuer, pkcs11);
    } catch (const config_error& e) {
        return e.what();
    }
    return "(accepted)";
}

TEST(responder_config_pkcs11, a_token_key_gets_the_module_sessions_and_the_resolved_pin_file) {
    const auto c = with_token_key("pkcs11:token=ocsp;object=signer;type=private?pin-source=file:token.pin", "",
                                  "[pkcs11]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\nsessions = 3\ntimeout = \"2s\"\n");
    const auto& s = c.issuers.at(0).signing;
    ASSERT_TRUE(s.token_key);
    EXPECT_TRUE(s.key_file.empty());
    EXPECT_EQ(s.token_key->engine_uri, "pkcs11:token=ocsp;object=signer;type=private");
    EXPECT_EQ(s.pin_file, "/etc/ocspkit/token.pin");
    EXPECT_EQ(s.token.module, "/usr/lib/softhsm/libsofthsm2.so");
    EXPECT_EQ(s.token.sessions, 3u);
    EXPECT_EQ(s.token.timeout, std::chrono::milliseconds{2000});
}

TEST(responder_config_pkcs11, pkcs11_pin_file_names_the_pin_when_the_uri_does_not) {
    const auto c = with_token_key("pkcs11:token=ocsp;object=signer", "pkcs11_pin_file = \"/run/ocsp.pin\"");
    EXPECT_EQ(c.issuers.at(0).signing.pin_file, "/run/ocsp.pin");
}

TEST(responder_config_pkcs11, mistakes_are_refused_with_the_key_and_the_fix) {
    EXPECT_NE(config_failure("pkcs11:object=k?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/p")
                  .find("key 'issuer[0].signer_key': module-path in the URI is not supported"),
              std::string::npos);
    EXPECT_NE(config_failure("pkcs11:object=k?module-path=/x.so").find("[pkcs11] module = \"/x.so\""),
              std::string::npos);
    const auto pin_value = config_failure("pkcs11:object=k?pin-value=S3cr3t");
    EXPECT_NE(pin_value.find("pin-value"), std::string::npos) << pin_value;
    EXPECT_EQ(pin_value.find("S3cr3t"), std::string::npos) << pin_value;
    EXPECT_NE(config_failure("pkcs11:object=k").find("needs its PIN"), std::string::npos);
    EXPECT_NE(config_failure("pkcs11:object=k?pin-source=file:/a", "pkcs11_pin_file = \"/b\"")
                  .find("key 'issuer[0].pkcs11_pin_file'"),
              std::string::npos);
    EXPECT_NE(config_failure("ca.key", "pkcs11_pin_file = \"/b\"")
                  .find("only for a signer_key or crl_key that is a pkcs11"),
              std::string::npos);
    EXPECT_NE(config_failure("pkcs11:object=k?pin-source=file:/a", "", "").find("key 'pkcs11.module': is required"),
              std::string::npos);
    EXPECT_NE(config_failure("pkcs11:object=k?pin-source=file:/a", "", "[pkcs11]\nmodule = \"/m.so\"\nsessions = 0\n")
                  .find("key 'pkcs11.sessions'"),
              std::string::npos);
    EXPECT_NE(config_failure("pkcs11:object=k?pin-source=file:/a", "", "[pkcs11]\nmodul = \"/m.so\"\n")
                  .find("key 'pkcs11.modul': unknown key"),
              std::string::npos);
}

TEST(responder_config_pkcs11, a_crl_key_in_a_token_takes_its_pin_and_needs_the_module) {
    const auto c = with_token_key("ca.key", "name = \"ca\"\ncrl_key = \"pkcs11:token=ca;object=ca-key\"\n"
                                            "pkcs11_pin_file = \"ca.pin\"");
    const auto& ic = c.issuers.at(0);
    ASSERT_TRUE(ic.crl_token_key);
    EXPECT_EQ(ic.crl_key, "pkcs11:token=ca;object=ca-key") << "a URI is not resolved as a path";
    EXPECT_EQ(ic.crl_pin_file, "/etc/ocspkit/ca.pin");
    EXPECT_FALSE(ic.signing.token_key);
    EXPECT_NE(config_failure("ca.key", "name = \"ca\"\ncrl_key = \"pkcs11:object=k\"").find("needs its PIN"),
              std::string::npos);
    EXPECT_NE(config_failure("ca.key", "name = \"ca\"\ncrl_key = \"pkcs11:object=k?pin-source=file:/a\"", "")
                  .find("key 'pkcs11.module': is required when a signer_key or crl_key"),
              std::string::npos);
    const auto file = with_token_key("ca.key", "name = \"ca\"\ncrl_key = \"ca.key\"");
    EXPECT_EQ(file.issuers.at(0).crl_key, "/etc/ocspkit/ca.key");
    EXPECT_FALSE(file.issuers.at(0).crl_token_key);
}

TEST(responder_config_pkcs11, a_file_key_stays_a_path_beside_the_configuration) {
    const auto c = with_database("index.db");
    EXPECT_FALSE(c.issuers.at(0).signing.token_key);
    EXPECT_EQ(c.issuers.at(0).signing.key_file, "/etc/ocspkit/ca.key");
}

// [server] warm_start_file is a path beside the configuration like every other; warm_start_interval is
// bounded, and a value out of bounds names its key.
responder_config with_server(std::string_view server) {
    return parse_config(fmt::format(R"(database = "index.db"
[server]
{}
[[issuer]]
ca = "ca.pem"
signer_key = "ca.key"
)",
                                    server),
                        origin);
}

TEST(responder_config_server, warm_start_file_is_resolved_and_off_by_default) {
    EXPECT_TRUE(with_server("").server.warm_start_file.empty());
    const auto c = with_server("warm_start_file = \"state/warm.bin\"\nwarm_start_interval = \"30s\"");
    EXPECT_EQ(c.server.warm_start_file, "/etc/ocspkit/state/warm.bin");
    EXPECT_EQ(c.server.warm_start_interval, std::chrono::seconds{30});
    try {
        (void)with_server("warm_start_interval = \"100ms\"");
        FAIL() << "a 100 ms warm_start_interval was accepted";
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("server.warm_start_interval"), std::string::npos) << e.what();
    }
    // A count of seconds too large for milliseconds is out of range, not an overflow (found by the
    // stapler_config fuzz target: regression_duration_seconds_overflow).
    try {
        (void)with_server("warm_start_interval = 200081492642673464");
        FAIL() << "an overflowing warm_start_interval was accepted";
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("must be between"), std::string::npos) << e.what();
    }
}

// Network threads default to the CPUs the process may run on (as `taskset` or systemd's CPUAffinity=
// restrict them), not to a fixed number.
TEST(responder_config_server, thread_defaults_follow_the_cpu_affinity) {
    cpu_set_t all;
    ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
    cpu_set_t one;
    CPU_ZERO(&one);
    int first = 0;
    while (!CPU_ISSET(first, &all)) ++first;
    CPU_SET(first, &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
    const server_config pinned;
    const unsigned cpus_pinned = usable_cpus();
    ASSERT_EQ(sched_setaffinity(0, sizeof all, &all), 0);
    EXPECT_EQ(cpus_pinned, 1U);
    EXPECT_EQ(pinned.io_threads, 1U);
    EXPECT_EQ(pinned.signing_threads, 2U);  // never fewer than 2
    const server_config unpinned;
    EXPECT_EQ(unpinned.io_threads, static_cast<unsigned>(CPU_COUNT(&all)));
    EXPECT_EQ(unpinned.signing_threads, std::max(2U, static_cast<unsigned>(CPU_COUNT(&all))));
    // An explicit setting wins.
    EXPECT_EQ(with_server("io_threads = 3").server.io_threads, 3U);
}

}  // namespace
}  // namespace ocspkit::responder
