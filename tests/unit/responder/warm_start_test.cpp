// The warm-start file's encoding: what is written reads back the same, and a damaged file is refused
// whole with a message saying what is wrong (the responder then starts cold).
#include <set>

#include <gtest/gtest.h>

#include "responder/response_cache.hpp"
#include "responder/warm_start.hpp"

namespace ocspkit::responder {
namespace {

using std::chrono::seconds;

warm_entry sample_entry(std::uint8_t tag) {
    warm_entry e;
    e.request_der = {0x30, 0x03, 0x02, 0x01, tag};
    e.response_der = bytes(300, tag);
    e.signer_sha256 = bytes(32, static_cast<std::uint8_t>(tag + 1));
    e.this_update = sys_seconds{seconds{1'700'000'000}};
    e.next_update = e.this_update + seconds{86400};
    e.refresh_at = e.this_update + seconds{43200};
    single_status good;
    single_status revoked;
    revoked.state = cert_state::revoked;
    revoked.revocation_time = sys_seconds{seconds{1'600'000'000}};
    revoked.reason = schema::revocation_reason::key_compromise;
    revoked.invalidity_date = sys_seconds{seconds{1'599'000'000}};
    single_status extended;
    extended.state = cert_state::revoked;
    extended.revocation_time = sys_seconds{seconds{0}};
    extended.reason = schema::revocation_reason::certificate_hold;
    extended.extended_revoked = true;
    extended.expired = true;
    e.statuses = {good, revoked, extended};
    return e;
}

TEST(warm_start, round_trip_keeps_every_field) {
    const std::vector<warm_entry> entries{sample_entry(1), sample_entry(2)};
    const auto decoded = decode_warm_start(encode_warm_start(entries));
    ASSERT_TRUE(decoded) << decoded.error_message();
    EXPECT_EQ(*decoded, entries);
}

TEST(warm_start, empty_file_of_no_answers_reads_back_empty) {
    const auto decoded = decode_warm_start(encode_warm_start({}));
    ASSERT_TRUE(decoded) << decoded.error_message();
    EXPECT_TRUE(decoded->empty());
}

TEST(warm_start, damaged_files_are_refused_whole) {
    const bytes good = encode_warm_start(std::vector<warm_entry>{sample_entry(7)});
    auto refused_with = [](const bytes& b, std::string_view words) {
        const auto r = decode_warm_start(b);
        if (r) return ::testing::AssertionFailure() << "accepted";
        if (r.code() != errc::malformed) return ::testing::AssertionFailure() << "code " << r.error_message();
        if (r.error_message().find(words) == std::string::npos)
            return ::testing::AssertionFailure() << "message: " << r.error_message();
        return ::testing::AssertionSuccess();
    };
    EXPECT_TRUE(refused_with({}, "not a warm-start file"));
    bytes other = good;
    other[0] = 'X';
    EXPECT_TRUE(refused_with(other, "not a warm-start file"));
    for (std::size_t cut : {good.size() - 1, good.size() - 33, good.size() / 2}) {
        const bytes truncated(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
        EXPECT_TRUE(refused_with(truncated, "checksum")) << cut;
    }
    bytes flipped = good;
    flipped[flipped.size() / 2] ^= 0x01;
    EXPECT_TRUE(refused_with(flipped, "checksum"));
}

// Fields out of range are refused even under a valid checksum (a file written by a broken or other program).
TEST(warm_start, fields_out_of_range_are_refused) {
    auto e = sample_entry(3);
    e.statuses[0].state = static_cast<cert_state>(7);
    EXPECT_FALSE(decode_warm_start(encode_warm_start(std::vector<warm_entry>{e})));
    e = sample_entry(3);
    e.statuses[1].reason = static_cast<schema::revocation_reason>(7);
    EXPECT_FALSE(decode_warm_start(encode_warm_start(std::vector<warm_entry>{e})));
    e = sample_entry(3);
    e.next_update = e.this_update;
    const auto r = decode_warm_start(encode_warm_start(std::vector<warm_entry>{e}));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error_message().find("nextUpdate"), std::string::npos) << r.error_message();
    e = sample_entry(3);
    e.statuses.clear();
    EXPECT_FALSE(decode_warm_start(encode_warm_start(std::vector<warm_entry>{e})));
    e = sample_entry(3);
    e.request_der.clear();
    EXPECT_FALSE(decode_warm_start(encode_warm_start(std::vector<warm_entry>{e})));
}

TEST(warm_start, cache_snapshot_lists_every_answer_most_recent_first_within_a_shard) {
    response_cache cache(1 << 22);
    for (int i = 0; i < 100; ++i) {
        auto a = std::make_shared<cached_answer>();
        a->issuer_id = 1;
        a->serials = {bytes{static_cast<std::uint8_t>(i)}};
        a->der.assign(50, 0x30);
        ASSERT_TRUE(cache.insert("request-" + std::to_string(i), a, cache.generation()));
    }
    (void)cache.find("request-0");  // now the most recently used of its shard
    const auto all = cache.snapshot();
    ASSERT_EQ(all.size(), 100u);
    std::set<std::string> keys;
    for (const auto& [k, a] : all) keys.insert(k);
    EXPECT_EQ(keys.size(), 100u);
    // The first round of the interleave holds each shard's most recent entry, request-0 among them.
    bool first_round_has_0 = false;
    for (std::size_t i = 0; i < std::min<std::size_t>(16, all.size()); ++i) first_round_has_0 |= all[i].first == "request-0";
    EXPECT_TRUE(first_round_has_0);
}

}  // namespace
}  // namespace ocspkit::responder
