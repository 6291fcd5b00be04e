// The responder's CRL surface without sockets: [crl] and crl_key in the configuration (defaults,
// refusals naming the key), the routing of /crl/<name>.crl, and the CRL answer's head (type, max-age
// bounded by the re-issue time and nextUpdate, validators, 304, HEAD).
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "protocol/cache_headers.hpp"
#include "responder/config.hpp"
#include "responder/http_policy.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::responder {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;
using test::reference_time;

const std::filesystem::path origin = "/etc/ocspkit/responder.toml";

responder_config config(std::string_view extra, std::string_view issuer_extra = "name = \"ca-1\"\ncrl_key = \"ca.key\"") {
    return parse_config(fmt::format("database = \"index.db\"\n{}\n[[issuer]]\nca = \"ca.pem\"\nsigner_key = \"ca.key\"\n{}\n",
                                    extra, issuer_extra),
                        origin);
}

std::string refusal(std::string_view extra, std::string_view issuer_extra = "name = \"ca-1\"\ncrl_key = \"ca.key\"") {
    try {
        (void)config(extra, issuer_extra);
    } catch (const config_error& e) {
        return e.what();
    }
    return "(accepted)";
}

TEST(responder_crl_config, defaults_and_values) {
    const auto c = config("");
    EXPECT_EQ(c.issuers.at(0).crl_key, "/etc/ocspkit/ca.key");
    EXPECT_EQ(c.crl.validity, 24h * 7);
    EXPECT_EQ(c.crl.expired_grace, std::optional<std::chrono::seconds>{24h * 30});
    const auto keep = config("[crl]\nvalidity = \"12h\"\nexpired_grace = \"keep\"");
    EXPECT_EQ(keep.crl.validity, 12h);
    EXPECT_FALSE(keep.crl.expired_grace.has_value());
    EXPECT_TRUE(config("", "name = \"ca-1\"").issuers.at(0).crl_key.empty()) << "CRLs are opt-in";
}

TEST(responder_crl_config, refusals_name_the_key) {
    EXPECT_NE(refusal("[crl]\nvalidity = \"7d\"\nexpired_grace = \"1d\"").find("crl.expired_grace"), std::string::npos);
    EXPECT_NE(refusal("[crl]\nvalidity = \"30s\"").find("crl.validity"), std::string::npos);
    EXPECT_NE(refusal("[crl]\nsize = 3").find("crl.size"), std::string::npos);
    EXPECT_NE(refusal("", "name = \"CN=Test CA\"\ncrl_key = \"ca.key\"").find("issuer[0].name"), std::string::npos)
        << "the name is the URL segment";
    EXPECT_NE(refusal("", "crl_key = \"ca.key\"").find("issuer[0].name"), std::string::npos);
    EXPECT_NE(refusal("[server]\npath = \"/crl\"").find("server.path"), std::string::npos);
}

http_request request(http::verb method, std::string target) {
    http_request r;
    r.method = method;
    r.method_text = std::string(http::to_string(method));
    r.target = std::move(target);
    r.version = 11;
    r.keep_alive = true;
    return r;
}

TEST(responder_crl_routing, names_and_refusals) {
    auto s = route(request(http::verb::get, "/crl/ca-1.crl"), "/");
    EXPECT_EQ(s.what, http_step::kind::serve_crl);
    EXPECT_EQ(s.crl_name, "ca-1");
    s = route(request(http::verb::head, "/crl/ca.v2_x.crl"), "/ocsp");
    EXPECT_EQ(s.what, http_step::kind::serve_crl);
    EXPECT_EQ(s.crl_name, "ca.v2_x");
    for (const char* target : {"/crl/ca-1", "/crl/.crl", "/crl/a/b.crl", "/crl/ca-1.crl?x=1", "/crl/ca%2D1.crl"}) {
        s = route(request(http::verb::get, target), "/");
        EXPECT_EQ(s.what, http_step::kind::respond) << target;
        EXPECT_EQ(s.response.head.status, http::status::not_found) << target;
    }
    s = route(request(http::verb::post, "/crl/ca-1.crl"), "/");
    EXPECT_EQ(s.response.head.status, http::status::method_not_allowed);
    EXPECT_EQ(s.response.head.extra_fields, "Allow: GET, HEAD\r\n");
}

std::shared_ptr<const served_crl> crl() {
    auto c = std::make_shared<served_crl>();
    c->der = {0x30, 0x03, 0x02, 0x01, 0x07};
    c->number = 7;
    c->this_update = reference_time - 1h;
    c->next_update = reference_time + 47h;   // validity 48 h
    c->refresh_at = reference_time + 23h;    // half of it
    c->etag = protocol::response_etag(c->der);
    c->validators = fmt::format("Last-Modified: {}\r\nExpires: {}\r\nETag: {}\r\n", protocol::imf_fixdate(c->this_update),
                                protocol::imf_fixdate(c->refresh_at), c->etag);
    return c;
}

TEST(responder_crl_answer, type_max_age_validators_and_conditionals) {
    const auto c = crl();
    auto r = crl_response(request(http::verb::get, "/crl/ca-1.crl"), c, reference_time);
    EXPECT_EQ(r.head.status, http::status::ok);
    EXPECT_EQ(r.head.content_type, "application/pkix-crl");
    EXPECT_EQ(r.head.content_length, c->der.size());
    EXPECT_TRUE(r.head.max_age_cacheable);
    EXPECT_EQ(r.head.max_age, 23u * 3600) << "until the re-issue at half validity, not nextUpdate";
    EXPECT_EQ(r.head.extra_fields, c->validators);
    EXPECT_EQ(std::vector<std::uint8_t>(r.content().begin(), r.content().end()), c->der);
    // Past the re-issue time (the publisher failing): 0, never negative.
    EXPECT_EQ(crl_response(request(http::verb::get, "/crl/ca-1.crl"), c, reference_time + 30h).head.max_age, 0u);

    auto conditional = request(http::verb::get, "/crl/ca-1.crl");
    conditional.if_none_match = c->etag;
    r = crl_response(conditional, c, reference_time);
    EXPECT_EQ(r.head.status, http::status::not_modified);
    EXPECT_TRUE(r.content().empty());
    auto other = request(http::verb::get, "/crl/ca-1.crl");
    other.if_none_match = "\"something-else\"";
    EXPECT_EQ(crl_response(other, c, reference_time).head.status, http::status::ok);

    r = crl_response(request(http::verb::head, "/crl/ca-1.crl"), c, reference_time);
    EXPECT_EQ(r.head.content_length, c->der.size());
    EXPECT_TRUE(r.content().empty());
}

TEST(responder_crl_answer, unknown_is_404_and_unavailable_503_uncached) {
    auto r = crl_unavailable(request(http::verb::get, "/crl/x.crl"), false, "");
    EXPECT_EQ(r.head.status, http::status::not_found);
    r = crl_unavailable(request(http::verb::get, "/crl/x.crl"), true, "not issued yet");
    EXPECT_EQ(r.head.status, http::status::service_unavailable);
    EXPECT_EQ(r.head.cache_control, "no-cache");
    EXPECT_NE(r.text.find("not issued yet"), std::string::npos);
}

}  // namespace
}  // namespace ocspkit::responder
