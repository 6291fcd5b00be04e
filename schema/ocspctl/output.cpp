// ocspctl commands that only read: show, list, audit; text for people, --json for programs.
#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/asn1_time.hpp"
#include "schema/ocspctl/internal.hpp"
#include "schema/ocspctl/json_output.hpp"

namespace ocspkit::ocspctl {

using schema::index_store;
using schema::cert_record;
using schema::cert_status;

namespace {

void print_record(std::ostream& out, const index_store& index, const cert_record& rec) {
    const auto line = [&out](std::string_view key, const std::string& value) {
        out << fmt::format("{:<17} {}\n", key, value);
    };
    line("serial", rec.serial.to_hex());
    line("issuer", issuer_label(index, rec.issuer_id));
    line("subject", rec.subject.empty() ? std::string{"-"} : rec.subject);
    line("status", std::string{schema::status_name(rec.status)});
    if (rec.status != cert_status::good) {
        line("revocation time", optional_time(rec.revocation_time));
        line("reason", rec.reason ? std::string{schema::reason_name(*rec.reason)} : std::string{"(none)"});
    }
    if (rec.invalidity_date) line("invalidity date", to_iso8601(*rec.invalidity_date));
    if (rec.hold_instruction) line("hold instruction", *rec.hold_instruction);
    line("not before", optional_time(rec.not_before));
    line("not after", optional_time(rec.not_after));
    line("certificate", rec.cert_der ? fmt::format("stored ({} bytes DER)", rec.cert_der->size())
                                     : std::string{"not stored"});
    line("change sequence", std::to_string(rec.change_seq));
}

std::string status_or_dash(const std::optional<cert_status>& s) {
    return s ? std::string{schema::status_name(*s)} : std::string{"-"};
}

}  // namespace

int cmd_show(context& c, const std::string& serial_text, const std::string& issuer_ref, bool decimal, bool json) {
    const auto serial = parse_serial_arg(serial_text, decimal);
    const auto store = c.db.open(sqlite::open_mode::read_only);
    auto& index = *store;
    std::vector<cert_record> found;
    if (!issuer_ref.empty()) {
        found.push_back(find_target(index, serial, issuer_ref, serial_text, decimal));
    } else {
        found = index.find_certificates_by_serial(serial);
        if (found.empty()) not_found(not_in_index_message(serial, serial_text, decimal));
    }
    if (json) {
        write_certificates_json(c.out, index, [&](const auto& visit) {
            for (const auto& r : found) visit(r);
        });
        return 0;
    }
    for (std::size_t i = 0; i < found.size(); ++i) {
        if (i > 0) c.out << '\n';
        print_record(c.out, index, found[i]);
    }
    return 0;
}

int cmd_list(context& c, const std::string& status_text, const std::string& issuer_ref, bool json) {
    std::optional<cert_status> status;
    if (!status_text.empty()) {
        status = schema::status_from_name(status_text);
        if (!status) bad_input(fmt::format("unknown status '{}' (one of good, revoked, hold)", status_text));
    }
    const auto store = c.db.open(sqlite::open_mode::read_only);
    auto& index = *store;
    std::optional<std::int64_t> issuer_id;
    if (!issuer_ref.empty()) issuer_id = resolve_issuer(index, issuer_ref).id;
    if (json) {
        write_certificates_json(c.out, index,
                                [&](const auto& visit) { index.for_each_certificate(issuer_id, status, visit); });
        return 0;
    }
    c.out << "ISSUER\tSERIAL\tSTATUS\tREASON\tREVOKED\tNOT_AFTER\tSUBJECT\n";
    index.for_each_certificate(issuer_id, status, [&c](const cert_record& r) {
        c.out << r.issuer_id << '\t' << r.serial.to_hex() << '\t' << schema::status_name(r.status) << '\t'
              << (r.reason ? schema::reason_name(*r.reason) : std::string_view{"-"}) << '\t'
              << optional_time(r.revocation_time) << '\t' << optional_time(r.not_after) << '\t'
              << (r.subject.empty() ? std::string_view{"-"} : std::string_view{r.subject}) << '\n';
    });
    return 0;
}

int cmd_audit(context& c, const audit_args& a) {
    schema::audit_filter filter;
    if (!a.since.empty()) filter.since = parse_time_option(a.since, "--since", c.now);
    if (!a.serial.empty()) filter.serial = parse_serial_arg(a.serial, a.decimal);
    const auto store = c.db.open(sqlite::open_mode::read_only);
    auto& index = *store;
    if (!a.issuer.empty()) filter.issuer_id = resolve_issuer(index, a.issuer).id;
    const auto rows = index.list_audit(filter);
    if (a.json) {
        boost::json::array entries;
        for (const auto& r : rows) entries.push_back(audit_json(r));
        boost::json::object doc;
        doc["entries"] = std::move(entries);
        c.out << boost::json::serialize(doc) << '\n';
        return 0;
    }
    c.out << "ID\tTIME\tUSER\tSUDO_USER\tCOMMAND\tISSUER\tSERIAL\tOLD\tNEW\tDETAIL\n";
    for (const auto& r : rows) {
        c.out << r.id << '\t' << to_iso8601(r.time) << '\t' << r.unix_user << '\t' << r.sudo_user.value_or("-") << '\t'
              << r.command << '\t' << (r.entry.issuer_id ? std::to_string(*r.entry.issuer_id) : std::string{"-"})
              << '\t' << (r.entry.serial ? r.entry.serial->to_hex() : std::string{"-"}) << '\t'
              << status_or_dash(r.entry.old_status) << '\t' << status_or_dash(r.entry.new_status) << '\t'
              << (r.entry.detail.empty() ? std::string{"-"} : r.entry.detail) << '\n';
    }
    return 0;
}

}  // namespace ocspkit::ocspctl
