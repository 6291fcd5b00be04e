#include "crl/crl_import_plan.hpp"

#include <map>

#include <fmt/format.h>

#include "common/asn1_time.hpp"
#include "schema/import_rule.hpp"

namespace ocspkit::crl {

namespace {

using schema::cert_record;
using schema::cert_status;

std::string number_text(const serial_number& n) { return "0x" + n.to_hex(); }

// The number checks: refused, already imported, or go.
result<bool> check_order(const crl_contents& crl, const std::optional<schema::crl_import_state>& last) {
    const auto number = number_text(crl.number);
    if (crl.is_delta()) {
        if (!last)
            return error{errc::conflict, fmt::format("delta CRL {} applies on top of full CRL {} or later; import a "
                                                     "full CRL of this CA first",
                                                     number, number_text(*crl.delta_base))};
        if (number_less(last->last_full_number, *crl.delta_base))
            return error{errc::conflict,
                         fmt::format("delta CRL {} applies on top of full CRL {} or later, but the last full CRL "
                                     "imported is {}; import a newer full CRL first",
                                     number, number_text(*crl.delta_base), number_text(last->last_full_number))};
    }
    if (!last) return true;
    if (crl.number == last->last_number) {
        if (crl.this_update == last->this_update) return false;
        return error{errc::conflict,
                     fmt::format("CRL {} was imported before with thisUpdate {}; this one says {}: the CA issued two "
                                 "different CRLs under one number (RFC 5280 §5.2.3)",
                                 number, to_iso8601(last->this_update), to_iso8601(crl.this_update))};
    }
    if (number_less(crl.number, last->last_number))
        return error{errc::conflict, fmt::format("CRL {} is older than the last CRL imported ({}); refused, since it "
                                                 "could undo what the newer one said",
                                                 number, number_text(last->last_number))};
    if (crl.this_update < last->this_update)
        return error{errc::conflict,
                     fmt::format("CRL {} has thisUpdate {}, before the thisUpdate {} of CRL {} imported last",
                                 number, to_iso8601(crl.this_update), to_iso8601(last->this_update),
                                 number_text(last->last_number))};
    return true;
}

cert_record listed_row(const crl_entry& e, std::int64_t issuer_id) {
    cert_record r;
    r.issuer_id = issuer_id;
    r.serial = e.serial;
    r.status = e.is_hold() ? cert_status::hold : cert_status::revoked;
    r.revocation_time = e.revocation_date;
    r.reason = e.reason;
    r.invalidity_date = e.invalidity_date;
    r.hold_instruction = e.is_hold() ? e.hold_instruction : std::nullopt;
    return r;
}

cert_record lifted_row(const cert_record& held) {
    cert_record r = held;
    r.status = cert_status::good;
    r.revocation_time.reset();
    r.reason.reset();
    r.invalidity_date.reset();
    r.hold_instruction.reset();
    return r;
}

class planner {
public:
    planner(const crl_contents& crl, std::int64_t issuer_id, const index_view& index, crl_import_plan& plan)
        : crl_(crl), issuer_id_(issuer_id), index_(index), plan_(plan) {}

    void listed(const crl_entry& e) {
        const auto incoming = listed_row(e, issuer_id_);
        const auto existing = index_.find(e.serial);
        if (!existing) {
            take(incoming, plan_.counts.added);
            return;
        }
        if (schema::same_revocation(*existing, incoming)) {
            ++plan_.counts.unchanged;
            return;
        }
        switch (existing->status) {
        case cert_status::good:
            if (incoming.status == cert_status::hold) {
                const auto lifted = index_.hold_lifted_at(e.serial);
                if (lifted && *lifted >= crl_.this_update) {
                    keep(e.serial, fmt::format("its hold was lifted in the index at {}, after this CRL's thisUpdate; "
                                               "the CRL has not caught up, the lift stays",
                                               to_iso8601(*lifted)));
                    return;
                }
            }
            take(incoming, plan_.counts.revoked);
            return;
        case cert_status::hold:
            take(incoming, plan_.counts.revoked);  // a hold re-dated, or made permanent
            return;
        case cert_status::revoked:
            if (incoming.status == cert_status::hold) {
                keep(e.serial, fmt::format("the index says {} but the CRL lists it on hold; a permanent revocation "
                                           "is never turned into a hold, kept",
                                           schema::describe_status(*existing)));
            } else if (existing->revocation_time && *existing->revocation_time > crl_.this_update) {
                keep(e.serial, fmt::format("the index says {}, later than this CRL's thisUpdate; kept",
                                           schema::describe_status(*existing)));
            } else {
                take(incoming, plan_.counts.revoked);  // the CA's later word on the reason or date
            }
            return;
        }
    }

    // The serial is off a full CRL, or removeFromCRL on a delta CRL.
    void not_listed(const cert_record& row, bool expired_may_leave) {
        if (row.status == cert_status::hold) {
            if (row.revocation_time && *row.revocation_time > crl_.this_update) return;  // placed after this CRL
            take(lifted_row(row), plan_.counts.lifted);
            return;
        }
        if (row.status != cert_status::revoked) return;
        if (expired_may_leave && row.not_after && *row.not_after < crl_.this_update) return;  // expired: may leave
        keep(row.serial, fmt::format("the index says {} but it is {} CRL {}; a permanent revocation is never "
                                     "lifted, kept",
                                     schema::describe_status(row), expired_may_leave ? "not on" : "removed by",
                                     number_text(crl_.number)));
    }

private:
    void take(cert_record row, std::size_t& counter) {
        plan_.rows.push_back(std::move(row));
        ++counter;
    }
    void keep(const serial_number& serial, std::string why) {
        plan_.warnings.push_back(fmt::format("serial {}: {}", serial.to_hex(), why));
        ++plan_.counts.kept;
    }

    const crl_contents& crl_;
    std::int64_t issuer_id_;
    const index_view& index_;
    crl_import_plan& plan_;
};

}  // namespace

result<crl_import_plan> plan_crl_import(const crl_contents& crl, std::int64_t issuer_id, const index_view& index,
                                        sys_seconds now) {
    auto go = check_order(crl, index.last);
    if (!go) return std::move(go).failure();
    crl_import_plan plan;
    if (!*go) {
        plan.already_imported = true;
        plan.next_state = *index.last;
        return plan;
    }
    if (crl.next_update && *crl.next_update < now)
        plan.warnings.push_back(fmt::format("the CRL's nextUpdate ({}) has passed: the CA has not published since, or "
                                            "this file is not its newest CRL",
                                            to_iso8601(*crl.next_update)));

    planner p(crl, issuer_id, index, plan);
    std::map<std::vector<std::uint8_t>, const crl_entry*> on_crl;
    for (const auto& e : crl.entries) {
        if (e.is_removal()) {
            if (!crl.is_delta())
                plan.warnings.push_back(fmt::format("serial {}: removeFromCRL on a full CRL (RFC 5280 §5.3.1 allows "
                                                    "it in delta CRLs only); read as not listed",
                                                    e.serial.to_hex()));
            if (crl.is_delta()) {
                if (auto row = index.find(e.serial)) p.not_listed(*row, false);
            }
            continue;
        }
        on_crl.emplace(e.serial.bytes(), &e);
        p.listed(e);
    }
    if (!crl.is_delta()) {
        for (const auto& row : index.revoked_rows)
            if (!on_crl.contains(row.serial.bytes())) p.not_listed(row, true);
    }

    plan.next_state.last_number = crl.number;
    plan.next_state.last_full_number = crl.is_delta() ? index.last->last_full_number : crl.number;
    plan.next_state.this_update = crl.this_update;
    plan.next_state.next_update = crl.next_update;
    plan.next_state.imported_at = now;
    return plan;
}

}  // namespace ocspkit::crl
