// /metrics: every family has HELP and TYPE (promtool and Prometheus' own parser want them), the
// names the alert rules use exist, and ocspkit_build_info carries the version.
#include "responder/metrics.hpp"

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/version.hpp"

namespace ocspkit::responder {
namespace {

TEST(responder_metrics, every_family_has_help_and_type) {
    responder_metrics m;
    m.count_request(responder_metrics::method::post, 200, std::chrono::microseconds{300});
    m.count_ocsp(ocsp_status::successful);
    m.count_cache(true);
    responder_metrics::gauges g;
    g.signer_seconds_to_expiry.emplace_back("ca \"one\"", 86400.0);
    g.signers.push_back({"hsm", false, 2});
    g.index_change_sequence = 7;
    const std::string text = m.render(g);

    std::map<std::string, std::set<std::string>> declared;
    std::set<std::string> sampled;
    std::istringstream lines(text);
    const std::regex meta(R"(# (HELP|TYPE) (\w+) .+)");
    const std::regex sample(R"(([a-zA-Z_:][\w:]*)(\{.*\})? \S+)");
    for (std::string line; std::getline(lines, line);) {
        std::smatch match;
        if (std::regex_match(line, match, meta)) {
            declared[match[2]].insert(match[1]);
        } else {
            ASSERT_TRUE(std::regex_match(line, match, sample)) << line;
            sampled.insert(std::regex_replace(match[1].str(), std::regex("_(bucket|sum|count)$"), ""));
        }
    }
    for (const auto& name : sampled) {
        EXPECT_EQ(declared[name], (std::set<std::string>{"HELP", "TYPE"})) << name;
    }
    for (const char* name : {"ocsp_cache_hits_total", "ocsp_cache_misses_total", "ocsp_cache_entries",
                             "ocsp_cache_bytes", "ocsp_signatures_total", "ocsp_signing_queue_depth",
                             "ocsp_try_later_total", "ocsp_open_connections", "ocsp_index_change_sequence",
                             "ocsp_signer_seconds_to_expiry", "ocsp_responses_total", "ocspkit_build_info",
                             "ocsp_signer_up", "ocsp_signing_errors_total"})
        EXPECT_TRUE(sampled.contains(name)) << name;
    EXPECT_NE(text.find("ocsp_signer_seconds_to_expiry{issuer=\"ca \\\"one\\\"\"} 86400\n"), std::string::npos);
    EXPECT_NE(text.find("ocsp_responses_total{status=\"tryLater\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("ocsp_signer_up{issuer=\"hsm\"} 0\n"), std::string::npos) << text;
    EXPECT_NE(text.find("ocsp_signing_errors_total{issuer=\"hsm\"} 2\n"), std::string::npos) << text;
    const std::string build = git_describe.empty()
                                  ? fmt::format("ocspkit_build_info{{version=\"{}\"}} 1\n", version)
                                  : fmt::format("ocspkit_build_info{{version=\"{}\",git=\"{}\"}} 1\n", version,
                                                git_describe);
    EXPECT_NE(text.find(build), std::string::npos) << text;
}

}  // namespace
}  // namespace ocspkit::responder
