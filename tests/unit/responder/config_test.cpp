// The responder's `database =`: a path (resolved against the configuration file) means SQLite, a
// PostgreSQL connection string is kept as written and never shown with its password.
#include "responder/config.hpp"

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

}  // namespace
}  // namespace ocspkit::responder
