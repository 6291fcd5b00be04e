// ocspctl revoke (by serial, by certificate file, or in bulk from a list) and unrevoke.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <iostream>
#include <set>

#include <fmt/format.h>
#include <openssl/x509.h>

#include "common/asn1_time.hpp"
#include "common/pem.hpp"
#include "schema/import.hpp"
#include "schema/index_txt.hpp"
#include "schema/ocspctl/internal.hpp"

namespace ocspkit::ocspctl {

using schema::index_store;
using schema::cert_record;
using schema::cert_status;
using schema::revocation_reason;

namespace {

// The revocation every target of one `ocspctl revoke` gets.
struct revocation {
    revocation_reason reason;
    bool hold;
    sys_seconds time;
    std::optional<sys_seconds> invalidity;
    std::optional<std::string> instruction;
};

revocation parse_revocation(const revoke_args& a, sys_seconds now) {
    const auto reason = schema::reason_from_name(a.reason);
    if (!reason) {
        bad_input(fmt::format("unknown reason '{}' (one of unspecified, keyCompromise, cACompromise, "
                              "affiliationChanged, superseded, cessationOfOperation, certificateHold, "
                              "privilegeWithdrawn, aACompromise)",
                              a.reason));
    }
    if (*reason == revocation_reason::remove_from_crl) {
        bad_input("removeFromCRL is not a revocation (RFC 5280 §5.3.1); use `ocspctl unrevoke` to lift a hold");
    }
    revocation r{*reason, *reason == revocation_reason::certificate_hold, now, std::nullopt, std::nullopt};
    if (!a.time.empty()) r.time = parse_time_option(a.time, "--time", now);
    if (r.time > now) bad_input(fmt::format("revocation time {} is in the future", to_iso8601(r.time)));
    if (!a.invalidity_date.empty()) {
        r.invalidity = parse_time_option(a.invalidity_date, "--invalidity-date", now);
        // RFC 5280 §5.3.2: the date on which the key is known or suspected to have been compromised, or
        // the certificate otherwise became invalid; it precedes the revocation.
        if (*r.invalidity > r.time) {
            bad_input(fmt::format("invalidity date {} is after the revocation time {}", to_iso8601(*r.invalidity),
                                  to_iso8601(r.time)));
        }
    }
    if (!a.hold_instruction.empty()) {
        if (!r.hold) bad_input("--hold-instruction needs --reason certificateHold");
        auto oid = schema::index_txt::normalize_hold_instruction(a.hold_instruction);
        if (!oid) bad_input(oid.error_message());
        r.instruction = std::move(*oid);
    }
    return r;
}

// Why `rec` cannot take this revocation, or nullopt.
std::optional<std::string> refusal(const cert_record& rec, const revocation& r) {
    if (rec.status == cert_status::revoked) {
        return fmt::format("serial {} is already revoked {}", rec.serial.to_hex(), describe_revocation(rec));
    }
    if (rec.status == cert_status::hold && r.hold) {
        return fmt::format("serial {} is already on hold since {}", rec.serial.to_hex(), optional_time(rec.revocation_time));
    }
    return std::nullopt;
}

void apply(cert_record& rec, const revocation& r) {
    rec.status = r.hold ? cert_status::hold : cert_status::revoked;
    rec.revocation_time = r.time;
    rec.reason = r.reason;
    rec.invalidity_date = r.invalidity;
    rec.hold_instruction = r.instruction;
}

std::string reason_detail(const revocation& r, std::string_view source) {
    std::string text = fmt::format("reason {}", schema::reason_name(r.reason));
    if (!source.empty()) text += fmt::format(", {}", source);
    return text;
}

void print_done(context& c, const index_store& index, const cert_record& rec, bool hold) {
    c.out << fmt::format("serial {} of issuer {}: {} {}\n", rec.serial.to_hex(), issuer_label(index, rec.issuer_id),
                         hold ? "on hold" : "revoked", describe_revocation(rec));
}

int revoke_one(context& c, const revoke_args& a, const revocation& r) {
    const auto serial = parse_serial_arg(a.serial, a.decimal);
    const auto store = c.db.open(sqlite::open_mode::read_write);
    auto& index = *store;
    const auto batch_owner = index.begin_write();
    auto& batch = *batch_owner;
    auto rec = find_target(index, serial, a.issuer, a.serial, a.decimal);
    if (auto why = refusal(rec, r)) bad_input(*why);
    apply(rec, r);
    const std::string detail = reason_detail(r, {});
    auto outcome = batch.merge(rec, schema::merge_options{.detail = detail});
    if (!outcome) bad_input(outcome.error_message());
    batch.commit();
    print_done(c, index, rec, r.hold);
    return 0;
}

int revoke_certificate(context& c, const revoke_args& a, const revocation& r) {
    auto cert = load_certificate(a.cert_file);
    auto serial = serial_number::from_asn1(X509_get0_serialNumber(cert.get()));
    if (!serial) bad_input(fmt::format("{}: {}", a.cert_file, serial.error_message()));
    const auto store = c.db.open(sqlite::open_mode::read_write);
    auto& index = *store;
    // Found by signature, not by name: a certificate that only claims a registered CA's name is refused.
    auto issuer = schema::find_issuer_of(index, cert.get());
    if (!issuer) {
        bad_input(fmt::format("{}: certificate {} ({}) was not issued by a registered CA (checked by signature); see "
                              "`ocspctl issuer list`, or register its CA with `ocspctl issuer add CA.pem`",
                              a.cert_file, serial->to_hex(), subject_oneline(cert.get())));
    }
    if (!a.issuer.empty() && resolve_issuer(index, a.issuer).id != issuer->id) {
        bad_input(fmt::format("{}: certificate {} was issued by issuer {} ({}), not by --issuer {}", a.cert_file,
                              serial->to_hex(), issuer->id, issuer->subject, a.issuer));
    }
    const auto batch_owner = index.begin_write();
    auto& batch = *batch_owner;
    cert_record rec;
    if (auto existing = batch.find(issuer->id, *serial)) {
        rec = std::move(*existing);
        if (auto why = refusal(rec, r)) bad_input(*why);
    } else {
        // Not imported yet: the certificate itself says all the index needs, so revoke it now.
        const unsigned char* p = issuer->cert_der.data();
        ossl::x509_ptr ca{d2i_X509(nullptr, &p, static_cast<long>(issuer->cert_der.size()))};
        auto fresh = schema::record_of_certificate(cert.get(), ca.get(), *issuer);
        if (!fresh) bad_input(fmt::format("{}: {}", a.cert_file, fresh.error_message()));
        rec = std::move(*fresh);
    }
    apply(rec, r);
    const std::string detail = reason_detail(r, fmt::format("certificate {}", a.cert_file));
    auto outcome = batch.merge(rec, schema::merge_options{.detail = detail});
    if (!outcome) bad_input(outcome.error_message());
    batch.commit();
    print_done(c, index, rec, r.hold);
    return 0;
}

// One serial per line, '#' comments and blank lines allowed. All or nothing: every line is checked
// inside the write transaction before anything is written; any bad line leaves the index unchanged.
int revoke_list(context& c, const revoke_args& a, const revocation& r) {
    const bool from_stdin = a.from_file == "-";
    const std::string name = from_stdin ? std::string{"(stdin)"} : a.from_file;
    std::ifstream file;
    if (!from_stdin) {
        file.open(a.from_file);
        if (!file) bad_input(fmt::format("{}: cannot open: {}", a.from_file, std::strerror(errno)));
    }
    std::istream& in = from_stdin ? c.in : file;

    const auto store = c.db.open(sqlite::open_mode::read_write);
    auto& index = *store;
    const auto batch_owner = index.begin_write();
    auto& batch = *batch_owner;
    std::vector<std::string> problems;
    std::vector<cert_record> targets;
    std::map<std::pair<std::int64_t, serial_number>, std::size_t> seen;  // -> line
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        try {
            const auto serial = parse_serial_arg(line, a.decimal);
            auto rec = find_target(index, serial, a.issuer, line, a.decimal);
            if (auto why = refusal(rec, r)) bad_input(*why);
            const auto [it, fresh] = seen.emplace(std::pair{rec.issuer_id, rec.serial}, line_no);
            if (!fresh) bad_input(fmt::format("serial {} already appears on line {}", rec.serial.to_hex(), it->second));
            targets.push_back(std::move(rec));
        } catch (const command_error& e) {
            problems.push_back(fmt::format("{}:{}: {}", name, line_no, e.what()));
        }
    }
    if (in.bad()) bad_input(fmt::format("{}: read error", name));
    if (!problems.empty()) {
        for (const auto& p : problems) c.err << p << '\n';
        bad_input(fmt::format("{}: {} bad of {} lines; nothing revoked, database unchanged", name, problems.size(),
                              problems.size() + targets.size()));
    }
    if (targets.empty()) bad_input(fmt::format("{}: no serials", name));
    for (std::size_t i = 0; i < targets.size(); ++i) {
        apply(targets[i], r);
        const std::string detail = reason_detail(r, fmt::format("list {}", name));
        auto outcome = batch.merge(targets[i], schema::merge_options{.detail = detail});
        if (!outcome) bad_input(outcome.error_message());  // the batch rolls back
    }
    schema::audit_entry summary;
    summary.detail = fmt::format("{} certificates {} from {}", targets.size(), r.hold ? "put on hold" : "revoked", name);
    batch.audit(summary);
    batch.commit();
    for (const auto& rec : targets) print_done(c, index, rec, r.hold);
    c.out << fmt::format("{}: {} certificates {}\n", name, targets.size(), r.hold ? "on hold" : "revoked");
    return 0;
}

}  // namespace

int cmd_revoke(context& c, const revoke_args& a) {
    const int sources = !a.serial.empty() + !a.cert_file.empty() + !a.from_file.empty();
    if (sources != 1) bad_input("name what to revoke: a SERIAL, --cert FILE.pem or --from FILE|- (exactly one)");
    const revocation r = parse_revocation(a, c.now);
    if (!a.cert_file.empty()) return revoke_certificate(c, a, r);
    if (!a.from_file.empty()) return revoke_list(c, a, r);
    return revoke_one(c, a, r);
}

int cmd_unrevoke(context& c, const std::string& serial_text, const std::string& issuer_ref, bool decimal) {
    const auto serial = parse_serial_arg(serial_text, decimal);
    const auto store = c.db.open(sqlite::open_mode::read_write);
    auto& index = *store;
    const auto batch_owner = index.begin_write();
    auto& batch = *batch_owner;
    auto rec = find_target(index, serial, issuer_ref, serial_text, decimal);
    if (rec.status == cert_status::good) bad_input(fmt::format("serial {} is not revoked", serial.to_hex()));
    if (rec.status == cert_status::revoked) {
        // RFC 5280 §5.3.1: only a certificateHold revocation is temporary.
        bad_input(fmt::format("serial {} is revoked {}; only certificateHold can be lifted", serial.to_hex(),
                              rec.reason ? fmt::format("with reason {}", schema::reason_name(*rec.reason))
                                         : std::string{"(no reason code)"}));
    }
    rec.status = cert_status::good;
    rec.revocation_time.reset();
    rec.reason.reset();
    rec.invalidity_date.reset();
    rec.hold_instruction.reset();
    auto outcome = batch.merge(rec, schema::merge_options{.detail = "hold lifted"});
    if (!outcome) bad_input(outcome.error_message());
    batch.commit();
    c.out << fmt::format("serial {} of issuer {}: hold lifted, good\n", serial.to_hex(), issuer_label(index, rec.issuer_id));
    return 0;
}

}  // namespace ocspkit::ocspctl
