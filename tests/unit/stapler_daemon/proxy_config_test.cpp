// [proxy] and [[proxy.issuer]]: defaults, a host that only checks client certificates, and every error
// naming file:line:key.
#include "stapler/daemon/config.hpp"

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler::daemon {
namespace {

const std::filesystem::path origin = "/etc/ocsp-stapler/stapler.toml";

std::string error_of(const std::string& toml) {
    try {
        parse_config(toml, origin);
    } catch (const config_error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(proxy_config, a_proxy_alone_is_a_valid_configuration_with_documented_defaults) {
    const auto c = parse_config(R"([proxy]
[[proxy.issuer]]
ca = "clients-ca.pem"
responder_url = "http://127.0.0.1:8080/ocsp"
)",
                                origin);
    ASSERT_TRUE(c.proxy);
    EXPECT_TRUE(c.certificates.empty());
    ASSERT_EQ(c.proxy->listen.size(), 1U);
    EXPECT_EQ(c.proxy->listen[0].host, "127.0.0.1") << "loopback by default";
    EXPECT_EQ(c.proxy->listen[0].port, 8888);
    ASSERT_EQ(c.proxy->issuers.size(), 1U);
    EXPECT_EQ(c.proxy->issuers[0].ca, "/etc/ocsp-stapler/clients-ca.pem") << "relative to the file";
    EXPECT_EQ(c.proxy->issuers[0].responder_url, "http://127.0.0.1:8080/ocsp");
    EXPECT_EQ(c.proxy->issuers[0].ca_at.line, 3U);
}

TEST(proxy_config, every_key_is_read) {
    const auto c = parse_config(R"([proxy]
listen = ["127.0.0.1:9000", "[::1]:9000"]
max_connections = 50
request_timeout = "2s"
idle_timeout = "5s"
max_cert_ids = 4
max_entries = 10
max_upstream_fetches = 3
upstream_timeout = "1500ms"
negative_ttl = "1m"
max_response_bytes = 8192
[[proxy.issuer]]
name = "clients"
ca = "/pki/a.pem"
responder_url = "http://ocsp.a.example/"
[[proxy.issuer]]
ca = "/pki/b.pem"
responder_url = "http://ocsp.b.example/"
)",
                                origin);
    ASSERT_TRUE(c.proxy);
    const auto& p = *c.proxy;
    ASSERT_EQ(p.listen.size(), 2U);
    EXPECT_EQ(p.listen[1].host, "::1");
    EXPECT_EQ(p.http.max_connections, 50U);
    EXPECT_EQ(p.http.request_timeout, std::chrono::seconds(2));
    EXPECT_EQ(p.http.idle_timeout, std::chrono::seconds(5));
    EXPECT_EQ(p.max_cert_ids, 4U);
    EXPECT_EQ(p.max_entries, 10U);
    EXPECT_EQ(p.max_upstream_fetches, 3U);
    EXPECT_EQ(p.upstream_timeout, std::chrono::milliseconds(1500));
    EXPECT_EQ(p.negative_ttl, std::chrono::minutes(1));
    EXPECT_EQ(p.max_response_bytes, 8192U);
    ASSERT_EQ(p.issuers.size(), 2U);
    EXPECT_EQ(p.issuers[0].name, "clients");
    EXPECT_EQ(p.issuers[1].ca, "/pki/b.pem");
}

struct proxy_error_case {
    const char* name;
    const char* toml;
    const char* expected;  // after "FILE"
};

class proxy_config_errors : public ::testing::TestWithParam<proxy_error_case> {};

TEST_P(proxy_config_errors, name_file_line_and_key) {
    const auto message = error_of(GetParam().toml);
    EXPECT_EQ(message.rfind(origin.string(), 0), 0U) << message;
    EXPECT_NE(message.find(GetParam().expected), std::string::npos) << "expected '" << GetParam().expected << "' in: " << message;
}

constexpr const char* issuer = "[[proxy.issuer]]\nca = \"ca.pem\"\nresponder_url = \"http://127.0.0.1/\"\n";

INSTANTIATE_TEST_SUITE_P(
    stapler_config, proxy_config_errors,
    ::testing::Values(
        proxy_error_case{"no_issuer", "[proxy]\nlisten = \"127.0.0.1:8888\"\n", ":1: key 'proxy.issuer': at least one"},
        proxy_error_case{"unknown_key", "[proxy]\nlisen = \"127.0.0.1:8888\"\n", ":2: key 'proxy.lisen': unknown key"},
        proxy_error_case{"listen_not_host_port", "[proxy]\nlisten = [\"8888\"]\n", ":2: key 'proxy.listen': '8888' is not host:port"},
        proxy_error_case{"listen_hostname", "[proxy]\nlisten = \"localhost:8888\"\n",
                         ":2: key 'proxy.listen': 'localhost' is not a numeric IP address"},
        proxy_error_case{"listen_empty", "[proxy]\nlisten = []\n", ":2: key 'proxy.listen': needs at least one address"},
        proxy_error_case{"bad_duration", "[proxy]\nnegative_ttl = \"soon\"\n", ":2: key 'proxy.negative_ttl': must be a duration"},
        proxy_error_case{"zero_entries", "[proxy]\nmax_entries = 0\n", ":2: key 'proxy.max_entries': must be between 1"},
        proxy_error_case{"issuer_without_ca", "[proxy]\n[[proxy.issuer]]\nresponder_url = \"http://127.0.0.1/\"\n",
                         ":2: key 'proxy.issuer[0].ca': is required"},
        proxy_error_case{"issuer_without_url", "[proxy]\n[[proxy.issuer]]\nca = \"ca.pem\"\n",
                         ":2: key 'proxy.issuer[0].responder_url': is required"},
        proxy_error_case{"issuer_https_url", "[proxy]\n[[proxy.issuer]]\nca = \"ca.pem\"\nresponder_url = \"https://ocsp.example/\"\n",
                         ":4: key 'proxy.issuer[0].responder_url':"},
        proxy_error_case{"issuer_unknown_key", "[proxy]\n[[proxy.issuer]]\nca = \"ca.pem\"\nresponder_url = \"http://127.0.0.1/\"\nnonce = true\n",
                         ":5: key 'proxy.issuer[0].nonce': unknown key"},
        proxy_error_case{"proxy_not_a_table", "proxy = 1\n", ":1: key 'proxy': must be a table"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(proxy_config, build_reads_each_ca_and_names_the_key_of_a_bad_one) {
    test::temp_dir dir;
    const auto ca = test::make_ca("proxy config CA");
    test::write_pem(dir / "ca.pem", ca.cert.get());
    const auto file = dir / "stapler.toml";
    const auto config = parse_config(std::string("[proxy]\n") + issuer + "[[proxy.issuer]]\nname = \"missing\"\nca = \"nope.pem\"\n"
                                     "responder_url = \"http://127.0.0.1/\"\n",
                                     file);
    try {
        build_proxy_issuers(*config.proxy, config.source);
        FAIL() << "a missing CA file must be an error";
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find(file.string() + ":7: key 'proxy.issuer[1].ca': cannot read the CA certificate"),
                  std::string::npos)
            << e.what();
    }

    auto one = *config.proxy;
    one.issuers.pop_back();
    const auto issuers = build_proxy_issuers(one, config.source);
    ASSERT_EQ(issuers.size(), 1U);
    EXPECT_EQ(issuers[0].name, "ca");
    EXPECT_EQ(issuers[0].hashes[hash_alg::sha256].key_hash, issuer_key_hash(ca.cert.get(), hash_alg::sha256));

    auto twice = one;
    twice.issuers.push_back(one.issuers[0]);
    twice.issuers[1].ca_at.line = 9;
    try {
        build_proxy_issuers(twice, config.source);
        FAIL() << "the same CA twice must be an error";
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find(":9: key 'proxy.issuer[0].ca': "), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("already"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
