// The pre-signed answer cache: lookups, per-certificate invalidation across shards, the generation
// guard against re-inserting a pre-revocation answer, and the byte budget; the index records kept
// beside the answers under the same rules.
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

schema::cert_record record_of(std::int64_t issuer, std::uint8_t serial, schema::cert_status status) {
    schema::cert_record r;
    r.issuer_id = issuer;
    r.serial = *serial_number::from_bytes(bytes{serial});
    r.status = status;
    r.subject = "/CN=leaf";
    r.cert_der = bytes(500, 0x30);
    return r;
}

TEST(response_cache, keeps_what_the_index_said_without_the_certificate) {
    response_cache cache(1 << 20);
    EXPECT_FALSE(cache.find_record(1, {0x05}).has_value());
    ASSERT_TRUE(cache.insert_record(1, {0x05}, record_of(1, 0x05, schema::cert_status::revoked), cache.generation()));
    ASSERT_TRUE(cache.insert_record(1, {0x06}, std::nullopt, cache.generation()));  // not in the index
    const auto known = cache.find_record(1, {0x05});
    ASSERT_TRUE(known.has_value() && known->has_value());
    EXPECT_EQ((*known)->status, schema::cert_status::revoked);
    EXPECT_FALSE((*known)->cert_der.has_value());
    EXPECT_TRUE((*known)->subject.empty());
    const auto absent = cache.find_record(1, {0x06});
    ASSERT_TRUE(absent.has_value());
    EXPECT_FALSE(absent->has_value());
    EXPECT_FALSE(cache.find_record(2, {0x05}).has_value());  // another issuer's serial 05
    EXPECT_EQ(cache.records(), 2u);
}

TEST(response_cache, a_change_drops_the_record_and_an_older_read_is_not_kept) {
    response_cache cache(1 << 20);
    const auto before = cache.generation();
    ASSERT_TRUE(cache.insert_record(1, {0x05}, record_of(1, 0x05, schema::cert_status::good), before));
    ASSERT_TRUE(cache.insert_record(1, {0x06}, std::nullopt, before));
    cache.invalidate(1, {0x05});
    EXPECT_FALSE(cache.find_record(1, {0x05}).has_value());
    EXPECT_TRUE(cache.find_record(1, {0x06}).has_value());
    // A good read under the old generation, racing with the revocation, must not come back.
    EXPECT_FALSE(cache.insert_record(1, {0x05}, record_of(1, 0x05, schema::cert_status::good), before));
    EXPECT_FALSE(cache.find_record(1, {0x05}).has_value());
    cache.invalidate(1, {0x06});  // a new certificate under a serial the index did not hold
    EXPECT_FALSE(cache.find_record(1, {0x06}).has_value());
    ASSERT_TRUE(cache.insert_record(1, {0x07}, std::nullopt, cache.generation()));
    cache.clear();
    EXPECT_EQ(cache.records(), 0u);
}

TEST(response_cache, records_stay_bounded_evicting_least_recently_used) {
    response_cache cache(1 << 20);  // an eighth of 1 MiB: ~436 records, ~27 per shard
    for (int i = 0; i < 5000; ++i) {
        const bytes serial{static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i & 0xff), 0x01};
        cache.insert_record(1, serial, std::nullopt, cache.generation());
        ASSERT_TRUE(cache.find_record(1, {0x00, 0x00, 0x01}).has_value()) << i;  // kept in use, kept
    }
    EXPECT_LE(cache.records(), (1u << 20) / 8 / 300);
    EXPECT_GT(cache.records(), 100u);
}

}  // namespace
}  // namespace ocspkit::responder
