// The OCSP proxy's cache: the stapler's publishing rules applied to every CertID of an entry at once,
// negative caching of failed misses, refresh times, and eviction of the least recently requested.
// Responses are already validated here, so they are built as values (the daemon tests cover real DER).
#include "stapler/daemon/proxy_cache.hpp"

#include <gtest/gtest.h>

#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler::daemon {
namespace {

using namespace std::chrono_literals;
const sys_seconds T = test::reference_time;
const time_point Tms = to_time_point(T);
const schedule_params params{1min, 10s, 10min, 0.0};
constexpr auto negative_ttl = 30s;

// One response for `statuses.size()` CertIDs: the same DER in every CertID's validated form.
std::vector<validated_response> response(std::vector<cert_status> statuses, sys_seconds this_update,
                                         std::optional<int> reason = std::nullopt) {
    std::vector<std::uint8_t> der{0x30, static_cast<std::uint8_t>(this_update.time_since_epoch().count() & 0xff)};
    for (auto s : statuses) der.push_back(static_cast<std::uint8_t>(s));
    der.push_back(static_cast<std::uint8_t>(reason.value_or(0xff)));
    std::vector<validated_response> out;
    for (auto s : statuses) {
        validated_response r;
        r.der = der;
        r.status = s;
        r.this_update = this_update;
        r.next_update = this_update + 24h;
        if (s == cert_status::revoked) r.revocation = revocation_info{this_update - 1h, reason};
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<serial_number> serials(std::initializer_list<const char*> hex) {
    std::vector<serial_number> out;
    for (auto h : hex) out.push_back(serial_number::from_hex(h).value());
    return out;
}

proxy_entry entry_of(std::size_t n) {
    proxy_entry e;
    e.key = "k";
    for (std::size_t i = 0; i < n; ++i) e.serials.push_back(serial_number::from_bytes({static_cast<std::uint8_t>(i + 1)}).value());
    e.certs.resize(n);
    return e;
}

TEST(proxy_entry, serves_nothing_until_a_response_is_published_then_until_its_next_update) {
    auto e = entry_of(1);
    EXPECT_EQ(e.servable(T), nullptr);
    EXPECT_LE(e.next_refresh(), Tms) << "a new entry is due at once";
    const auto good = response({cert_status::good}, T - 1h);
    const auto applied = e.on_fetched(good, Tms, std::nullopt, params, 0.0);
    EXPECT_TRUE(applied.publish);
    ASSERT_NE(e.servable(T), nullptr);
    EXPECT_EQ(e.servable(T)->der, good[0].der);
    EXPECT_EQ(e.next_refresh(), to_time_point(T - 1h + 12h)) << "half its validity";
    EXPECT_NE(e.servable(T + 23h - 1s), nullptr);
    EXPECT_EQ(e.servable(T + 23h), nullptr) << "nextUpdate reached: never served stale";
}

TEST(proxy_entry, the_same_response_again_changes_nothing) {
    auto e = entry_of(1);
    const auto good = response({cert_status::good}, T - 1h);
    e.on_fetched(good, Tms, std::nullopt, params, 0.0);
    const auto again = e.on_fetched(good, Tms + 1min, std::nullopt, params, 0.0);
    EXPECT_FALSE(again.publish);
    EXPECT_TRUE(again.unchanged);
}

TEST(proxy_entry, an_older_response_never_replaces_a_newer_one) {
    auto e = entry_of(1);
    const auto hold = response({cert_status::revoked}, T - 1h, crl_reason_certificate_hold);
    const auto good = response({cert_status::good}, T - 1h);
    e.on_fetched(response({cert_status::good}, T - 1h), Tms, std::nullopt, params, 0.0);
    const auto older_hold = e.on_fetched(response({cert_status::revoked}, T - 2h, crl_reason_certificate_hold), Tms,
                                         std::nullopt, params, 0.0);
    EXPECT_FALSE(older_hold.publish);
    EXPECT_EQ(older_hold.result, publish_result::stale);
    EXPECT_EQ(e.servable(T)->status, cert_status::good) << "a replayed hold does not switch a client off";

    auto held = entry_of(1);
    held.on_fetched(hold, Tms, std::nullopt, params, 0.0);
    const auto equal_good = held.on_fetched(good, Tms, std::nullopt, params, 0.0);
    EXPECT_FALSE(equal_good.publish) << "only a newer answer lifts a hold";
    EXPECT_EQ(held.servable(T)->status, cert_status::revoked);
    EXPECT_TRUE(held.on_fetched(response({cert_status::good}, T), Tms, std::nullopt, params, 0.0).publish);
    EXPECT_EQ(held.servable(T)->status, cert_status::good);
}

TEST(proxy_entry, a_permanent_revocation_of_one_cert_id_keeps_the_whole_response) {
    auto e = entry_of(2);
    e.on_fetched(response({cert_status::good, cert_status::revoked}, T - 1h, 1), Tms, std::nullopt, params, 0.0);
    const auto later_good = e.on_fetched(response({cert_status::good, cert_status::good}, T), Tms + 1min, std::nullopt,
                                         params, 0.0);
    EXPECT_FALSE(later_good.publish);
    EXPECT_EQ(later_good.result, publish_result::contradiction);
    ASSERT_NE(e.servable(T), nullptr);
    EXPECT_EQ(e.servable(T)->der, response({cert_status::good, cert_status::revoked}, T - 1h, 1)[0].der);
    for (const auto& c : e.certs) EXPECT_EQ(c.failures, 1U) << "every CertID counts the refused fetch";
    // Even once the revocation's response has expired, good never comes back for it.
    const auto much_later = T + 2 * 24h;
    EXPECT_FALSE(e.on_fetched(response({cert_status::good, cert_status::good}, much_later), to_time_point(much_later),
                              std::nullopt, params, 0.0)
                     .publish);
}

TEST(proxy_entry, a_response_for_another_number_of_cert_ids_is_refused) {
    auto e = entry_of(2);
    const auto applied = e.on_fetched(response({cert_status::good}, T), Tms, std::nullopt, params, 0.0);
    EXPECT_FALSE(applied.publish);
    EXPECT_EQ(e.servable(T), nullptr);
}

TEST(proxy_entry, a_failed_miss_is_remembered_for_the_negative_ttl_only_without_a_usable_response) {
    auto e = entry_of(1);
    e.on_failed("timeout", "no answer", Tms, params, 0.0, negative_ttl);
    EXPECT_TRUE(e.negative(Tms));
    EXPECT_TRUE(e.negative(Tms + negative_ttl - 1ms));
    EXPECT_FALSE(e.negative(Tms + negative_ttl));

    auto published = entry_of(1);
    published.on_fetched(response({cert_status::good}, T - 1h), Tms, std::nullopt, params, 0.0);
    published.on_failed("timeout", "no answer", Tms + 13h, params, 0.0, negative_ttl);
    EXPECT_FALSE(published.negative(Tms + 13h)) << "the published response is still served";
    EXPECT_NE(published.servable(T + 13h), nullptr);
    EXPECT_EQ(published.next_refresh(), Tms + 13h + 9s) << "retried after retry_initial less its 10 % jitter at u = 0";

    // A response published later ends what was remembered.
    e.on_fetched(response({cert_status::good}, T), Tms + 1s, std::nullopt, params, 0.0);
    EXPECT_FALSE(e.negative(Tms + 1s));
}

TEST(proxy_cache, evicts_the_least_recently_requested_entry_beyond_its_cap) {
    proxy_cache cache(2);
    std::vector<std::string> evicted;
    cache.emplace("a", {1}, 0, serials({"01"}), Tms, evicted);
    cache.emplace("b", {2}, 0, serials({"02"}), Tms + 1s, evicted);
    cache.requested(*cache.find("a"), Tms + 2s);
    cache.emplace("c", {3}, 0, serials({"03"}), Tms + 3s, evicted);
    EXPECT_EQ(evicted, std::vector<std::string>{"b"});
    EXPECT_EQ(cache.size(), 2U);
    EXPECT_NE(cache.find("a"), nullptr);
    EXPECT_EQ(cache.find("b"), nullptr);
    ASSERT_NE(cache.find("c"), nullptr);
    EXPECT_EQ(cache.find("c")->request_der, std::vector<std::uint8_t>{3});
    EXPECT_EQ(cache.find("c")->certs.size(), 1U);

    // Emplacing an existing key keeps its entry (and what it holds).
    cache.find("a")->on_fetched(response({cert_status::good}, T), Tms, std::nullopt, params, 0.0);
    auto& again = cache.emplace("a", {9}, 0, serials({"01"}), Tms + 4s, evicted);
    EXPECT_EQ(again.request_der, std::vector<std::uint8_t>{1});
    EXPECT_NE(again.servable(T), nullptr);
    EXPECT_EQ(evicted.size(), 1U);
    cache.erase("a");
    EXPECT_EQ(cache.find("a"), nullptr);
    EXPECT_EQ(cache.size(), 1U);
}

TEST(proxy_cache, due_lists_entries_to_refresh_and_skips_remembered_failures) {
    proxy_cache cache(10);
    std::vector<std::string> evicted;
    auto& fresh = cache.emplace("fresh", {}, 0, serials({"01"}), Tms, evicted);
    auto& served = cache.emplace("served", {}, 0, serials({"02"}), Tms, evicted);
    auto& failed = cache.emplace("failed", {}, 0, serials({"03"}), Tms, evicted);
    served.on_fetched(response({cert_status::good}, T - 1h), Tms, std::nullopt, params, 0.0);
    failed.on_failed("refused", "HTTP 500", Tms, params, 0.0, negative_ttl);
    const auto due_now = cache.due(Tms);
    ASSERT_EQ(due_now.size(), 1U);
    EXPECT_EQ(due_now.front(), &fresh);
    ASSERT_TRUE(cache.next_due());
    EXPECT_LE(*cache.next_due(), Tms) << "the fresh entry";
    fresh.on_fetched(response({cert_status::good}, T - 1h), Tms, std::nullopt, params, 0.0);
    EXPECT_EQ(cache.next_due(), Tms + negative_ttl) << "the failed entry once its failure is forgotten";
    EXPECT_EQ(cache.due(Tms + negative_ttl).size(), 1U);
    EXPECT_EQ(cache.due(to_time_point(T + 11h)).size(), 3U);
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
