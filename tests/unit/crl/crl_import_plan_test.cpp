// crl_import_plan: the rules of importing a CA's CRL, as tables: the order of CRL numbers (older,
// again, same number with another thisUpdate, delta without or below its base); what each listed entry
// does to each state of the index row; what a full CRL's silence and a delta CRL's removeFromCRL do to
// holds and permanent revocations; and the state to store.
#include "crl/crl_import_plan.hpp"

#include <map>

#include <gtest/gtest.h>

#include "tests/support/test_pki.hpp"

namespace ocspkit::crl {
namespace {

using namespace std::chrono_literals;
using schema::cert_record;
using schema::cert_status;
using schema::revocation_reason;
const sys_seconds t0 = test::reference_time;  // the CRL's thisUpdate
const sys_seconds before = t0 - 2h;
const sys_seconds after = t0 + 2h;

serial_number num(const char* hex) { return *serial_number::from_hex(hex); }

crl_entry listed(const char* hex, std::optional<revocation_reason> reason, sys_seconds when = t0 - 1h) {
    crl_entry e;
    e.serial = num(hex);
    e.revocation_date = when;
    e.reason = reason;
    return e;
}

cert_record row(const char* hex, cert_status status, sys_seconds when = before,
                revocation_reason reason = revocation_reason::key_compromise) {
    cert_record r;
    r.issuer_id = 1;
    r.serial = num(hex);
    r.status = status;
    if (status == cert_status::hold) {
        r.revocation_time = when;
        r.reason = revocation_reason::certificate_hold;
    } else if (status == cert_status::revoked) {
        r.revocation_time = when;
        r.reason = reason;
    }
    return r;
}

crl_contents full_crl(const char* number, std::vector<crl_entry> entries) {
    crl_contents c;
    c.number = num(number);
    c.this_update = t0;
    c.next_update = t0 + 24h * 7;
    c.entries = std::move(entries);
    return c;
}

crl_contents delta_crl(const char* number, const char* base, std::vector<crl_entry> entries) {
    auto c = full_crl(number, std::move(entries));
    c.delta_base = num(base);
    return c;
}

schema::crl_import_state state(const char* last, const char* full, sys_seconds this_update = before) {
    schema::crl_import_state s;
    s.last_number = num(last);
    s.last_full_number = num(full);
    s.this_update = this_update;
    return s;
}

// An index of rows and hold lifts, as plan_crl_import reads it.
struct fake_index {
    std::map<std::string, cert_record> rows;
    std::map<std::string, sys_seconds> lifts;
    std::optional<schema::crl_import_state> last;

    index_view view() const {
        index_view v;
        v.last = last;
        for (const auto& [hex, r] : rows)
            if (r.status != cert_status::good) v.revoked_rows.push_back(r);
        v.find = [this](const serial_number& s) -> std::optional<cert_record> {
            const auto it = rows.find(s.to_hex());
            return it == rows.end() ? std::nullopt : std::optional{it->second};
        };
        v.hold_lifted_at = [this](const serial_number& s) -> std::optional<sys_seconds> {
            const auto it = lifts.find(s.to_hex());
            return it == lifts.end() ? std::nullopt : std::optional{it->second};
        };
        return v;
    }
    void put(const cert_record& r) { rows[r.serial.to_hex()] = r; }
};

result<crl_import_plan> plan(const crl_contents& crl, const fake_index& index, sys_seconds now = t0 + 1h) {
    const auto view = index.view();
    return plan_crl_import(crl, 1, view, now);
}

// --- order --------------------------------------------------------------------------------------------------

TEST(crl_import_plan, crl_numbers_never_go_back) {
    fake_index index;
    index.last = state("10", "10", t0);
    auto older = plan(full_crl("0F", {}), index);
    ASSERT_FALSE(older.has_value());
    EXPECT_EQ(older.code(), errc::conflict);
    EXPECT_NE(older.error_message().find("older than the last CRL imported (0x10)"), std::string::npos)
        << older.error_message();

    // 0x100 > 0xFF although its first octet is smaller: numbers compare by value.
    index.last = state("FF", "FF", before);
    EXPECT_TRUE(plan(full_crl("0100", {}), index).has_value());
    index.last = state("0100", "0100", before);
    EXPECT_FALSE(plan(full_crl("FF", {}), index).has_value());
}

TEST(crl_import_plan, the_same_crl_again_changes_nothing_another_with_its_number_is_refused) {
    fake_index index;
    index.last = state("10", "10", t0);
    index.put(row("01", cert_status::hold));
    auto again = plan(full_crl("10", {}), index);
    ASSERT_TRUE(again.has_value()) << again.error_message();
    EXPECT_TRUE(again->already_imported);
    EXPECT_TRUE(again->rows.empty()) << "a hold missing from the CRL is not lifted by a replay";

    auto twin = full_crl("10", {});
    twin.this_update = t0 + 1h;
    auto refused = plan(twin, index);
    ASSERT_FALSE(refused.has_value());
    EXPECT_NE(refused.error_message().find("two different CRLs under one number"), std::string::npos);
}

TEST(crl_import_plan, a_newer_number_with_an_older_this_update_is_refused) {
    fake_index index;
    index.last = state("10", "10", after);
    auto r = plan(full_crl("11", {}), index);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error_message().find("before the thisUpdate"), std::string::npos) << r.error_message();
}

TEST(crl_import_plan, a_delta_needs_a_full_crl_at_or_above_its_base) {
    fake_index index;
    auto none = plan(delta_crl("12", "10", {}), index);
    ASSERT_FALSE(none.has_value());
    EXPECT_NE(none.error_message().find("import a full CRL of this CA first"), std::string::npos);
    index.last = state("0F", "0F");
    auto below = plan(delta_crl("12", "10", {}), index);
    ASSERT_FALSE(below.has_value());
    EXPECT_NE(below.error_message().find("the last full CRL imported is 0x0F"), std::string::npos);
    index.last = state("10", "10");
    auto on_base = plan(delta_crl("12", "10", {}), index);
    ASSERT_TRUE(on_base.has_value()) << on_base.error_message();
    EXPECT_EQ(on_base->next_state.last_number, num("12"));
    EXPECT_EQ(on_base->next_state.last_full_number, num("10")) << "a delta does not move the base";
    index.last = state("11", "11");
    EXPECT_TRUE(plan(delta_crl("12", "10", {}), index).has_value()) << "a newer base is fine (RFC 5280 §5.2.4)";
    index.last = state("12", "10");
    auto older_delta = plan(delta_crl("11", "10", {}), index);
    EXPECT_FALSE(older_delta.has_value());
}

TEST(crl_import_plan, a_full_crl_sets_both_numbers_and_the_dates) {
    fake_index index;
    auto p = plan(full_crl("2A", {}), index, t0 + 5h);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->next_state.last_number, num("2A"));
    EXPECT_EQ(p->next_state.last_full_number, num("2A"));
    EXPECT_EQ(p->next_state.this_update, t0);
    EXPECT_EQ(p->next_state.next_update, t0 + 24h * 7);
    EXPECT_EQ(p->next_state.imported_at, t0 + 5h);
    EXPECT_TRUE(p->warnings.empty());
    auto stale = plan(full_crl("2B", {}), index, t0 + 24h * 8);
    ASSERT_TRUE(stale.has_value());
    ASSERT_EQ(stale->warnings.size(), 1u);
    EXPECT_NE(stale->warnings[0].find("nextUpdate"), std::string::npos);
}

// --- listed entries ---------------------------------------------------------------------------------------

enum class index_has { nothing, good, good_hold_lifted_after, hold_before, revoked_before, revoked_after };
enum class outcome { added, revoked, unchanged, kept };

struct listed_case {
    const char* name;
    index_has has;
    std::optional<revocation_reason> reason;  // the CRL entry's
    outcome expect;
    cert_status status_after;
};

const listed_case listed_cases[] = {
    {"new_serial_revoked", index_has::nothing, revocation_reason::key_compromise, outcome::added, cert_status::revoked},
    {"new_serial_held", index_has::nothing, revocation_reason::certificate_hold, outcome::added, cert_status::hold},
    {"new_serial_no_reason", index_has::nothing, std::nullopt, outcome::added, cert_status::revoked},
    {"good_revoked", index_has::good, revocation_reason::superseded, outcome::revoked, cert_status::revoked},
    {"good_held", index_has::good, revocation_reason::certificate_hold, outcome::revoked, cert_status::hold},
    {"lifted_after_crl_stays_good", index_has::good_hold_lifted_after, revocation_reason::certificate_hold,
     outcome::kept, cert_status::good},
    {"lifted_after_crl_revoked_permanently", index_has::good_hold_lifted_after, revocation_reason::key_compromise,
     outcome::revoked, cert_status::revoked},
    {"hold_made_permanent", index_has::hold_before, revocation_reason::key_compromise, outcome::revoked,
     cert_status::revoked},
    {"hold_redated", index_has::hold_before, revocation_reason::certificate_hold, outcome::revoked, cert_status::hold},
    {"permanent_never_held", index_has::revoked_before, revocation_reason::certificate_hold, outcome::kept,
     cert_status::revoked},
    {"permanent_reason_from_later_crl", index_has::revoked_before, revocation_reason::superseded, outcome::revoked,
     cert_status::revoked},
    {"permanent_after_crl_kept", index_has::revoked_after, revocation_reason::superseded, outcome::kept,
     cert_status::revoked},
};

// Names the case in ctest's listing instead of the parameter's bytes.
void PrintTo(const listed_case& c, std::ostream* os) { *os << c.name; }

class listed_entry : public testing::TestWithParam<listed_case> {};

TEST_P(listed_entry, does_what_the_rules_say) {
    const auto& c = GetParam();
    fake_index index;
    switch (c.has) {
    case index_has::nothing: break;
    case index_has::good: index.put(row("AB", cert_status::good)); break;
    case index_has::good_hold_lifted_after:
        index.put(row("AB", cert_status::good));
        index.lifts["AB"] = after;
        break;
    case index_has::hold_before: index.put(row("AB", cert_status::hold, t0 - 5h)); break;
    case index_has::revoked_before: index.put(row("AB", cert_status::revoked, before)); break;
    case index_has::revoked_after: index.put(row("AB", cert_status::revoked, after)); break;
    }
    const auto p = plan(full_crl("05", {listed("AB", c.reason)}), index);
    ASSERT_TRUE(p.has_value()) << p.error_message();
    const auto& n = p->counts;
    EXPECT_EQ(n.added, c.expect == outcome::added ? 1u : 0u);
    EXPECT_EQ(n.revoked, c.expect == outcome::revoked ? 1u : 0u);
    EXPECT_EQ(n.unchanged, c.expect == outcome::unchanged ? 1u : 0u);
    EXPECT_EQ(n.kept, c.expect == outcome::kept ? 1u : 0u);
    EXPECT_EQ(p->warnings.size(), c.expect == outcome::kept ? 1u : 0u);
    EXPECT_EQ(n.lifted, 0u);
    if (c.expect == outcome::added || c.expect == outcome::revoked) {
        ASSERT_EQ(p->rows.size(), 1u);
        const auto& r = p->rows[0];
        EXPECT_EQ(r.status, c.status_after);
        EXPECT_EQ(r.revocation_time, t0 - 1h);
        EXPECT_EQ(r.reason, c.reason);
        EXPECT_TRUE(schema::check_consistency(r).has_value());
    } else {
        EXPECT_TRUE(p->rows.empty());
        EXPECT_EQ(index.rows.at("AB").status, c.status_after);
    }
}

INSTANTIATE_TEST_SUITE_P(cases, listed_entry, testing::ValuesIn(listed_cases),
                         [](const testing::TestParamInfo<listed_case>& c) { return std::string(c.param.name); });

TEST(crl_import_plan, an_entry_the_index_has_exactly_is_unchanged) {
    fake_index index;
    auto r = row("AB", cert_status::revoked, t0 - 1h, revocation_reason::key_compromise);
    index.put(r);
    const auto p = plan(full_crl("05", {listed("AB", revocation_reason::key_compromise)}), index);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->counts.unchanged, 1u);
    EXPECT_TRUE(p->rows.empty());
}

TEST(crl_import_plan, entry_fields_are_carried_over) {
    fake_index index;
    auto hold = listed("01", revocation_reason::certificate_hold);
    hold.hold_instruction = "1.2.840.10040.2.2";
    auto kc = listed("02", revocation_reason::key_compromise);
    kc.invalidity_date = t0 - 72h;
    const auto p = plan(full_crl("05", {hold, kc}), index);
    ASSERT_TRUE(p.has_value());
    ASSERT_EQ(p->rows.size(), 2u);
    EXPECT_EQ(p->rows[0].hold_instruction, "1.2.840.10040.2.2");
    EXPECT_EQ(p->rows[1].invalidity_date, t0 - 72h);
    EXPECT_FALSE(p->rows[1].hold_instruction.has_value());
}

// --- what a full CRL leaves off, and what a delta removes ----------------------------------------------

TEST(crl_import_plan, a_full_crl_lifts_holds_it_leaves_off_but_never_a_permanent_revocation) {
    fake_index index;
    index.put(row("01", cert_status::hold, before));   // off the CRL, held before it: lifted
    index.put(row("02", cert_status::hold, after));    // held after the CRL was issued: stays
    index.put(row("03", cert_status::revoked, before));  // off the CRL: kept, warned
    auto expired = row("04", cert_status::revoked, before);
    expired.not_after = t0 - 24h * 60;  // expired: CAs drop those, no warning
    index.put(expired);
    index.put(row("05", cert_status::hold, before));  // on the CRL still
    const auto p = plan(full_crl("06", {listed("05", revocation_reason::certificate_hold, before)}), index);
    ASSERT_TRUE(p.has_value()) << p.error_message();
    EXPECT_EQ(p->counts.lifted, 1u);
    EXPECT_EQ(p->counts.kept, 1u);
    ASSERT_EQ(p->rows.size(), 1u);
    EXPECT_EQ(p->rows[0].serial, num("01"));
    EXPECT_EQ(p->rows[0].status, cert_status::good);
    EXPECT_FALSE(p->rows[0].reason.has_value());
    EXPECT_TRUE(schema::check_consistency(p->rows[0]).has_value());
    ASSERT_EQ(p->warnings.size(), 1u);
    EXPECT_NE(p->warnings[0].find("serial 03"), std::string::npos) << p->warnings[0];
    EXPECT_NE(p->warnings[0].find("never lifted"), std::string::npos) << p->warnings[0];
}

TEST(crl_import_plan, remove_from_crl_in_a_delta_lifts_a_hold_only) {
    fake_index index;
    index.last = state("10", "10");
    index.put(row("01", cert_status::hold, before));
    index.put(row("02", cert_status::revoked, before));
    index.put(row("03", cert_status::hold, before));  // not mentioned by the delta: stays
    const auto p = plan(delta_crl("11", "10", {listed("01", revocation_reason::remove_from_crl),
                                               listed("02", revocation_reason::remove_from_crl),
                                               listed("09", revocation_reason::remove_from_crl)}),
                        index);
    ASSERT_TRUE(p.has_value()) << p.error_message();
    ASSERT_EQ(p->rows.size(), 1u);
    EXPECT_EQ(p->rows[0].serial, num("01"));
    EXPECT_EQ(p->rows[0].status, cert_status::good);
    EXPECT_EQ(p->counts.kept, 1u);
    ASSERT_EQ(p->warnings.size(), 1u);
    EXPECT_NE(p->warnings[0].find("removed by CRL 0x11"), std::string::npos) << p->warnings[0];
}

TEST(crl_import_plan, remove_from_crl_on_a_full_crl_reads_as_not_listed) {
    fake_index index;
    index.put(row("01", cert_status::hold, before));
    const auto p = plan(full_crl("05", {listed("01", revocation_reason::remove_from_crl)}), index);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->counts.lifted, 1u);
    ASSERT_EQ(p->warnings.size(), 1u);
    EXPECT_NE(p->warnings[0].find("delta CRLs only"), std::string::npos);
}

}  // namespace
}  // namespace ocspkit::crl
