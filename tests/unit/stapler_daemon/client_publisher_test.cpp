// The client cache's publishing rules (client_publisher.hpp): compare()'s, with the published answer
// read back from the file, so that two CertIDs of one certificate cannot undo each other.
#include "stapler/daemon/client_publisher.hpp"

#include <gtest/gtest.h>

#include "stapler/shm_reader.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler::daemon {
namespace {

using namespace std::chrono_literals;
using ocspkit::test::reference_time;

validated_response answer(cert_status status, sys_seconds this_update, std::optional<int> reason = std::nullopt,
                          std::uint8_t fill = 0x30) {
    validated_response r;
    r.der = std::vector<std::uint8_t>(200, fill);
    r.status = status;
    r.this_update = this_update;
    r.next_update = this_update + 24h;
    if (status == cert_status::revoked) r.revocation = revocation_info{this_update - 1h, reason};
    return r;
}

class client_publisher_test : public ::testing::Test {
protected:
    lookup_result read(sys_seconds now = reference_time) const {
        std::error_code ec;
        auto reader = shm_reader::open((dir_ / "clients").c_str(), ec);
        EXPECT_TRUE(reader) << ec.message();
        lookup_result r;
        EXPECT_FALSE(reader->lookup_status(key_, now, r));
        return r;
    }
    ocspkit::test::temp_dir dir_;
    client_publisher publisher_{dir_ / "clients", shm_options{16, 1024}};
    cache_key key_{1, 2, 3};
};

using outcome = client_publisher::outcome;

TEST_F(client_publisher_test, a_permanent_revocation_is_never_replaced_by_good_even_once_expired) {
    EXPECT_EQ(publisher_.publish(key_, answer(cert_status::revoked, reference_time - 2h, 1), reference_time), outcome::written);
    EXPECT_EQ(publisher_.publish(key_, answer(cert_status::good, reference_time - 1h, std::nullopt, 0x31), reference_time),
              outcome::kept);
    EXPECT_EQ(publisher_.publish(key_, answer(cert_status::good, reference_time + 47h, std::nullopt, 0x32),
                                 reference_time + 48h),
              outcome::kept);
    EXPECT_EQ(read().status, cert_status::revoked);
    // Expired, it still refuses (libocspstaple reads not_servable as revoked).
    EXPECT_EQ(read(reference_time + 48h).action, staple_action::not_servable);
}

TEST_F(client_publisher_test, a_hold_is_lifted_by_a_newer_good_only) {
    constexpr int certificate_hold = 6;
    EXPECT_EQ(publisher_.publish(key_, answer(cert_status::revoked, reference_time - 2h, certificate_hold), reference_time),
              outcome::written);
    EXPECT_EQ(read(reference_time + 48h).action, staple_action::no_staple) << "an expired hold is no answer";
    EXPECT_EQ(publisher_.publish(key_, answer(cert_status::good, reference_time - 2h, std::nullopt, 0x31), reference_time),
              outcome::kept);
    EXPECT_EQ(publisher_.publish(key_, answer(cert_status::good, reference_time - 1h, std::nullopt, 0x32), reference_time),
              outcome::written);
    EXPECT_EQ(read().status, cert_status::good);
}

TEST_F(client_publisher_test, an_older_answer_never_replaces_a_newer_one) {
    EXPECT_EQ(publisher_.publish(key_, answer(cert_status::good, reference_time - 1h), reference_time), outcome::written);
    EXPECT_EQ(publisher_.publish(key_, answer(cert_status::revoked, reference_time - 2h, 6, 0x31), reference_time),
              outcome::kept);
    EXPECT_EQ(read().status, cert_status::good);
    EXPECT_EQ(publisher_.publish(key_, answer(cert_status::good, reference_time - 30min, std::nullopt, 0x32), reference_time),
              outcome::written);
}

TEST_F(client_publisher_test, keep_only_removes_what_the_proxy_no_longer_caches) {
    const cache_key other{9, 9, 9};
    EXPECT_EQ(publisher_.publish(key_, answer(cert_status::good, reference_time - 1h), reference_time), outcome::written);
    EXPECT_EQ(publisher_.publish(other, answer(cert_status::good, reference_time - 1h), reference_time), outcome::written);
    EXPECT_EQ(publisher_.keep_only({key_}), 1U);
    EXPECT_EQ(publisher_.size(), 1U);
}

TEST(client_publisher, a_second_writer_is_told_which_file_and_what_to_do) {
    ocspkit::test::temp_dir dir;
    client_publisher first(dir / "clients", shm_options{16, 1024});
    try {
        client_publisher second(dir / "clients", shm_options{16, 1024});
        FAIL() << "two writers on one client cache";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find((dir / "clients").string()), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("client_cache"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
