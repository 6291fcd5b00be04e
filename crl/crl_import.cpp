#include "crl/crl_import.hpp"

#include <fmt/format.h>

#include "common/asn1_time.hpp"
#include "common/ossl_ptr.hpp"

namespace ocspkit::crl {

result<crl_import_report> import_crl(schema::index_store& index, const schema::issuer_record& issuer,
                                     std::span<const std::uint8_t> input, sys_seconds now) {
    auto crl = parse_crl(input);
    if (!crl) return std::move(crl).failure();
    const unsigned char* p = issuer.cert_der.data();
    ossl::x509_ptr ca{d2i_X509(nullptr, &p, static_cast<long>(issuer.cert_der.size()))};
    if (!ca) return error{errc::database, fmt::format("issuer ID {}: its CA certificate does not parse", issuer.id)};
    if (auto ok = check_crl_signed_by(*crl, ca.get()); !ok) return std::move(ok).failure();
    if (!issuer.enabled)
        return error{errc::unauthorized, fmt::format("issuer ID {} ({}) is disabled in the index; `ocspctl issuer "
                                                     "enable` it before importing its CRLs",
                                                     issuer.id, issuer.subject)};

    auto batch = index.begin_write();
    index_view view;
    view.last = batch->crl_import(issuer.id);
    view.revoked_rows = batch->revoked_rows(issuer.id);
    view.find = [&](const serial_number& s) { return batch->find(issuer.id, s); };
    view.hold_lifted_at = [&](const serial_number& s) { return index.last_hold_lift(issuer.id, s); };
    auto plan = plan_crl_import(*crl, issuer.id, view, now);
    if (!plan) return std::move(plan).failure();

    crl_import_report report;
    report.number = crl->number;
    report.delta_base = crl->delta_base;
    report.this_update = crl->this_update;
    report.next_update = crl->next_update;
    report.entries = crl->entries.size();
    report.already_imported = plan->already_imported;
    report.counts = plan->counts;
    report.warnings = plan->warnings;
    if (plan->already_imported) return report;  // the batch rolls back: nothing was written

    const auto what = crl->is_delta() ? fmt::format("delta CRL 0x{} (base 0x{})", crl->number.to_hex(),
                                                    crl->delta_base->to_hex())
                                      : fmt::format("CRL 0x{}", crl->number.to_hex());
    const auto detail = fmt::format("import-crl: {} of {}, thisUpdate {}", what, crl->issuer,
                                    to_iso8601(crl->this_update));
    schema::merge_options options;
    options.detail = detail;
    for (const auto& row : plan->rows) {
        auto merged = batch->merge(row, options);
        if (!merged) return std::move(merged).failure();
    }
    batch->set_crl_import(issuer.id, plan->next_state);
    schema::audit_entry summary;
    summary.issuer_id = issuer.id;
    summary.detail = fmt::format("{}: {} entries; {} added, {} revoked, {} holds lifted, {} unchanged, {} kept", detail,
                                 report.entries, report.counts.added, report.counts.revoked, report.counts.lifted,
                                 report.counts.unchanged, report.counts.kept);
    batch->audit(summary);
    report.change_seq = batch->changed_rows() > 0 ? batch->change_seq() : 0;
    batch->commit();
    return report;
}

}  // namespace ocspkit::crl
