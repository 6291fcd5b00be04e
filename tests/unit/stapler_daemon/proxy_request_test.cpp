// How the OCSP proxy reads a client's request: which configured issuer it names, and which requests
// share a cache entry.
#include "stapler/daemon/proxy_request.hpp"

#include <gtest/gtest.h>

#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler::daemon {
namespace {

struct two_issuers {
    test::issued first = test::make_ca("proxy request CA one");
    test::issued second = test::make_ca("proxy request CA two");
    std::vector<issuer_hashes> hashes{compute_issuer_hashes(first.cert.get()), compute_issuer_hashes(second.cert.get())};
    static const two_issuers& get() {
        static const two_issuers p;
        return p;
    }
};

protocol::requested_cert cert_id(const issuer_hashes& h, hash_alg alg, const char* serial_hex, bool params_null = true) {
    return protocol::requested_cert{alg, h[alg].name_hash, h[alg].key_hash, serial_number::from_hex(serial_hex).value(),
                                    params_null};
}

protocol::decoded_request request(std::vector<protocol::requested_cert> certs) {
    protocol::decoded_request r;
    r.certs = std::move(certs);
    return r;
}

TEST(proxy_request, names_the_issuer_and_the_serials_of_its_cert_ids) {
    const auto& p = two_issuers::get();
    const auto r = classify(request({cert_id(p.hashes[1], hash_alg::sha256, "0a"), cert_id(p.hashes[1], hash_alg::sha1, "0b")}),
                            p.hashes);
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_EQ(r->issuer, 1U);
    ASSERT_EQ(r->serials.size(), 2U);
    EXPECT_EQ(r->serials[0].to_hex(), "0A");
    EXPECT_EQ(r->serials[1].to_hex(), "0B");
    EXPECT_FALSE(r->has_nonce);
}

TEST(proxy_request, a_nonce_is_noted_and_does_not_change_the_key) {
    const auto& p = two_issuers::get();
    auto with_nonce = request({cert_id(p.hashes[0], hash_alg::sha1, "01")});
    with_nonce.nonce = bytes{1, 2, 3, 4};
    const auto a = classify(with_nonce, p.hashes);
    const auto b = classify(request({cert_id(p.hashes[0], hash_alg::sha1, "01")}), p.hashes);
    ASSERT_TRUE(a && b);
    EXPECT_TRUE(a->has_nonce);
    EXPECT_EQ(a->key, b->key);
}

TEST(proxy_request, keys_differ_with_anything_a_client_compares_in_the_cert_id) {
    const auto& p = two_issuers::get();
    const auto key = [&](std::vector<protocol::requested_cert> certs) {
        auto r = classify(request(std::move(certs)), p.hashes);
        EXPECT_TRUE(r) << r.error_message();
        return r ? r->key : std::string();
    };
    const auto base = key({cert_id(p.hashes[0], hash_alg::sha1, "01")});
    EXPECT_EQ(key({cert_id(p.hashes[0], hash_alg::sha1, "01")}), base);
    EXPECT_NE(key({cert_id(p.hashes[0], hash_alg::sha256, "01")}), base) << "hash algorithm";
    EXPECT_NE(key({cert_id(p.hashes[0], hash_alg::sha1, "01", false)}), base) << "parameters absent instead of NULL";
    EXPECT_NE(key({cert_id(p.hashes[0], hash_alg::sha1, "02")}), base) << "serial";
    EXPECT_NE(key({cert_id(p.hashes[0], hash_alg::sha1, "0101")}), base) << "serial";
    EXPECT_NE(key({cert_id(p.hashes[0], hash_alg::sha1, "01"), cert_id(p.hashes[0], hash_alg::sha1, "02")}), base);
    EXPECT_NE(key({cert_id(p.hashes[0], hash_alg::sha1, "01"), cert_id(p.hashes[0], hash_alg::sha1, "02")}),
              key({cert_id(p.hashes[0], hash_alg::sha1, "02"), cert_id(p.hashes[0], hash_alg::sha1, "01")}))
        << "the response lists the CertIDs in request order";
}

TEST(proxy_request, cert_ids_of_an_issuer_not_configured_are_unauthorized) {
    const auto& p = two_issuers::get();
    const auto stranger = compute_issuer_hashes(test::make_ca("proxy request stranger").cert.get());
    const auto r = classify(request({cert_id(stranger, hash_alg::sha1, "01")}), p.hashes);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), make_error_code(errc::unauthorized));

    // The name hash of one issuer with the key hash of another names neither.
    auto mixed = cert_id(p.hashes[0], hash_alg::sha1, "01");
    mixed.issuer_key_hash = p.hashes[1][hash_alg::sha1].key_hash;
    EXPECT_EQ(classify(request({mixed}), p.hashes).code(), make_error_code(errc::unauthorized));
}

TEST(proxy_request, cert_ids_of_two_issuers_in_one_request_are_unauthorized) {
    const auto& p = two_issuers::get();
    const auto r = classify(request({cert_id(p.hashes[0], hash_alg::sha1, "01"), cert_id(p.hashes[1], hash_alg::sha1, "02")}),
                            p.hashes);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), make_error_code(errc::unauthorized));
}

TEST(proxy_request, a_request_without_cert_ids_is_malformed) {
    EXPECT_EQ(classify(request({}), two_issuers::get().hashes).code(), make_error_code(errc::malformed));
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
