// The pre-signed answer cache: lookups, per-certificate invalidation across shards, the generation
// guard against re-inserting a pre-revocation answer, and the byte budget.
#include <gtest/gtest.h>

#include "responder/response_cache.hpp"

namespace ocspkit::responder {
namespace {

std::shared_ptr<cached_answer> answer_for(std::int64_t issuer, std::vector<bytes> serials, std::size_t der_size = 100) {
    auto a = std::make_shared<cached_answer>();
    a->issuer_id = issuer;
    a->serials = std::move(serials);
    a->der.assign(der_size, 0x30);
    return a;
}

std::string key(int i) { return "request-" + std::to_string(i); }

TEST(response_cache, finds_what_was_inserted) {
    response_cache cache(1 << 20);
    EXPECT_EQ(cache.find("nope"), nullptr);
    auto a = answer_for(1, {{0x01}});
    ASSERT_TRUE(cache.insert(key(1), a, cache.generation()));
    EXPECT_EQ(cache.find(key(1)), a);
    EXPECT_EQ(cache.entries(), 1u);
    EXPECT_GT(cache.bytes_used(), a->der.size());
}

TEST(response_cache, invalidate_drops_every_answer_covering_the_certificate) {
    response_cache cache(1 << 22);
    // Many keys, so they spread over the shards; even ones cover serial 0x07 of issuer 1.
    for (int i = 0; i < 200; ++i) {
        const bytes serial = i % 2 == 0 ? bytes{0x07} : bytes{static_cast<std::uint8_t>(0x10 + i % 100)};
        ASSERT_TRUE(cache.insert(key(i), answer_for(1, {serial}), cache.generation()));
    }
    // Same serial under another issuer stays.
    ASSERT_TRUE(cache.insert("other-issuer", answer_for(2, {{0x07}}), cache.generation()));
    auto dropped = cache.invalidate(1, {0x07});
    EXPECT_EQ(dropped.size(), 100u);
    for (int i = 0; i < 200; ++i) EXPECT_EQ(cache.find(key(i)) == nullptr, i % 2 == 0) << i;
    EXPECT_NE(cache.find("other-issuer"), nullptr);
    EXPECT_EQ(cache.entries(), 101u);
}

TEST(response_cache, answer_from_before_an_invalidation_is_not_inserted) {
    response_cache cache(1 << 20);
    const auto before = cache.generation();
    cache.invalidate(1, {0x01});
    EXPECT_FALSE(cache.insert(key(1), answer_for(1, {{0x01}}), before));
    EXPECT_EQ(cache.find(key(1)), nullptr);
    cache.clear();
    EXPECT_FALSE(cache.insert(key(2), answer_for(1, {{0x02}}), before));
    EXPECT_TRUE(cache.insert(key(3), answer_for(1, {{0x03}}), cache.generation()));
}

TEST(response_cache, stays_within_its_byte_budget_evicting_least_recently_used) {
    const std::size_t budget = 64 * 1024;
    response_cache cache(budget);
    for (int i = 0; i < 2000; ++i) cache.insert(key(i), answer_for(1, {{0x01}}, 300), cache.generation());
    EXPECT_LE(cache.bytes_used(), budget);
    EXPECT_GT(cache.entries(), 50u);
    EXPECT_LT(cache.entries(), 2000u);
    EXPECT_NE(cache.find(key(1999)), nullptr);  // the newest survive
    EXPECT_EQ(cache.find(key(0)), nullptr);     // the oldest went
    // An answer larger than a shard's share is refused rather than evicting everything.
    EXPECT_FALSE(cache.insert("huge", answer_for(1, {{0x01}}, budget), cache.generation()));
}

TEST(response_cache, replacing_a_key_keeps_one_entry_and_one_cover) {
    response_cache cache(1 << 20);
    ASSERT_TRUE(cache.insert(key(1), answer_for(1, {{0x01}}), cache.generation()));
    auto second = answer_for(1, {{0x01}});
    ASSERT_TRUE(cache.insert(key(1), second, cache.generation()));
    EXPECT_EQ(cache.entries(), 1u);
    EXPECT_EQ(cache.find(key(1)), second);
    EXPECT_EQ(cache.invalidate(1, {0x01}).size(), 1u);
    EXPECT_EQ(cache.entries(), 0u);
    EXPECT_EQ(cache.bytes_used(), 0u);
}

}  // namespace
}  // namespace ocspkit::responder
