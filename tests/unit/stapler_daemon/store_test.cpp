// Persistence: a response survives a round trip bit for bit, and a file that no longer validates
// (corrupt, truncated, expired, for another certificate) is removed so that it is refetched.
#include "stapler/daemon/store.hpp"

#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/test_pki.hpp"
#include "tests/unit/stapler/ocsp_fixtures.hpp"

namespace ocspkit::stapler::daemon {
namespace {

using namespace std::chrono_literals;
using ocspkit::test::issued;
using ocspkit::test::make_ca;
using ocspkit::test::make_cert;
using ocspkit::test::reference_time;
using ocspkit::test::temp_dir;
namespace fixtures = ocspkit::stapler::test;

struct store_pki {
    issued ca = make_ca("Store Test CA");
    issued leaf = make_cert(ca, "store.example");
    issued other = make_cert(ca, "other.example", ocspkit::test::key_type::ec_p256, serial("77"));

    static ocspkit::test::cert_options serial(const char* hex) {
        ocspkit::test::cert_options o;
        o.serial_hex = hex;
        return o;
    }
    certificate cert(const std::string& name, const issued& l) const {
        certificate c;
        c.name = name;
        c.leaf = ossl::up_ref(l.cert.get());
        c.issuer = ossl::up_ref(ca.cert.get());
        c.settings.max_response_bytes = 4032;
        return c;
    }
    fixtures::bytes response(const issued& l, cert_status status = cert_status::good) const {
        fixtures::response_spec spec;
        fixtures::single_spec single;
        single.leaf = l.cert.get();
        single.issuer = ca.cert.get();
        single.status = status;
        spec.singles.push_back(single);
        spec.signer = ca.cert.get();
        spec.key = ca.key.get();
        return fixtures::make_response(spec);
    }
    static const store_pki& get() {
        static const store_pki instance;
        return instance;
    }
};

void write_bytes(const std::filesystem::path& file, const std::string& bytes) {
    std::ofstream(file, std::ios::binary) << bytes;
}

TEST(state_store, round_trip_is_bit_exact_and_validates_again) {
    const auto& pki = store_pki::get();
    temp_dir dir;
    state_store store(dir / "state");
    ASSERT_FALSE(store.prepare());
    const auto der = pki.response(pki.leaf, cert_status::revoked);
    ASSERT_TRUE(store.save("www", der));
    EXPECT_EQ(store.file_of("www"), dir / "state" / "www.der");
    std::error_code ec;
    auto back = store.read("www", ec);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, der);
    // No temporary file is left next to it.
    std::size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir / "state")) files += e.is_regular_file() ? 1 : 0;
    EXPECT_EQ(files, 1u);

    auto restored = store.restore(pki.cert("www", pki.leaf), reference_time, 300s);
    ASSERT_TRUE(restored.response) << restored.problem.value_or("");
    EXPECT_FALSE(restored.problem);
    EXPECT_EQ(restored.response->status, cert_status::revoked);
    EXPECT_EQ(restored.response->der, der);
}

TEST(state_store, absent_file_is_no_response_and_no_problem) {
    temp_dir dir;
    state_store store(dir.path());
    auto restored = store.restore(store_pki::get().cert("none", store_pki::get().leaf), reference_time, 300s);
    EXPECT_FALSE(restored.response);
    EXPECT_FALSE(restored.problem);
}

struct bad_file_case {
    const char* name;
    const char* expected_reason;
};

class state_store_bad_file : public ::testing::TestWithParam<bad_file_case> {};

TEST_P(state_store_bad_file, is_reported_and_removed) {
    const auto& pki = store_pki::get();
    const std::string which = GetParam().name;
    temp_dir dir;
    state_store store(dir.path());
    sys_seconds now = reference_time;
    if (which == "garbage") {
        write_bytes(store.file_of("www"), "this is not DER");
    } else if (which == "truncated") {
        auto der = pki.response(pki.leaf);
        write_bytes(store.file_of("www"), std::string(der.begin(), der.begin() + static_cast<long>(der.size() / 2)));
    } else if (which == "expired") {
        ASSERT_TRUE(store.save("www", pki.response(pki.leaf)));
        now = reference_time + 48h;
    } else if (which == "other_certificate") {
        ASSERT_TRUE(store.save("www", pki.response(pki.other)));
    } else if (which == "empty") {
        write_bytes(store.file_of("www"), "");
    }
    auto restored = store.restore(pki.cert("www", pki.leaf), now, 300s);
    EXPECT_FALSE(restored.response);
    ASSERT_TRUE(restored.problem);
    EXPECT_NE(restored.problem->find(GetParam().expected_reason), std::string::npos) << *restored.problem;
    EXPECT_NE(restored.problem->find("removed"), std::string::npos) << *restored.problem;
    EXPECT_FALSE(std::filesystem::exists(store.file_of("www")));
}

INSTANTIATE_TEST_SUITE_P(state_store, state_store_bad_file,
                         ::testing::Values(bad_file_case{"garbage", "malformed"}, bad_file_case{"truncated", "malformed"},
                                           bad_file_case{"empty", "malformed"}, bad_file_case{"expired", "expired"},
                                           bad_file_case{"other_certificate", "no_matching_response"}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// A permanent revocation outlives its response (cert_state.hpp): restored even once expired, and the
// file stays. An expired certificateHold does not: it may be lifted, so it is removed like a good one.
TEST(state_store, expired_permanent_revocation_is_kept_and_expired_hold_is_not) {
    const auto& pki = store_pki::get();
    auto revoked_with = [&](int reason) {
        fixtures::response_spec spec;
        fixtures::single_spec single;
        single.leaf = pki.leaf.cert.get();
        single.issuer = pki.ca.cert.get();
        single.status = cert_status::revoked;
        single.revocation_reason = reason;
        spec.singles.push_back(single);
        spec.signer = pki.ca.cert.get();
        spec.key = pki.ca.key.get();
        return fixtures::make_response(spec);
    };
    temp_dir dir;
    state_store store(dir.path());
    const auto key_compromise = revoked_with(1);
    ASSERT_TRUE(store.save("www", key_compromise));
    auto kept = store.restore(pki.cert("www", pki.leaf), reference_time + 48h, 300s);
    ASSERT_TRUE(kept.response) << kept.problem.value_or("");
    EXPECT_EQ(kept.response->der, key_compromise);
    EXPECT_LE(kept.response->next_update, reference_time + 48h);
    EXPECT_TRUE(std::filesystem::exists(store.file_of("www")));

    ASSERT_TRUE(store.save("www", revoked_with(6)));  // certificateHold
    auto dropped = store.restore(pki.cert("www", pki.leaf), reference_time + 48h, 300s);
    EXPECT_FALSE(dropped.response);
    ASSERT_TRUE(dropped.problem);
    EXPECT_NE(dropped.problem->find("expired"), std::string::npos) << *dropped.problem;
    EXPECT_FALSE(std::filesystem::exists(store.file_of("www")));
}

TEST(state_store, save_replaces_and_remove_is_idempotent) {
    const auto& pki = store_pki::get();
    temp_dir dir;
    state_store store(dir.path());
    ASSERT_TRUE(store.save("www", pki.response(pki.leaf, cert_status::good)));
    const auto revoked = pki.response(pki.leaf, cert_status::revoked);
    ASSERT_TRUE(store.save("www", revoked));
    std::error_code ec;
    EXPECT_EQ(*store.read("www", ec), revoked);
    EXPECT_FALSE(store.remove("www"));
    EXPECT_FALSE(store.remove("www"));
    EXPECT_FALSE(store.read("www", ec));
    EXPECT_FALSE(ec);
}

TEST(state_store, save_into_a_missing_directory_fails_with_a_message) {
    state_store store("/nonexistent-ocspkit-dir/state");
    auto s = store.save("www", std::vector<std::uint8_t>{1, 2, 3});
    ASSERT_FALSE(s);
    EXPECT_FALSE(s.error_message().empty());
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
