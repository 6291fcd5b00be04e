#include "schema/ocspctl/json_output.hpp"

#include <map>

#include <boost/json.hpp>

#include "common/asn1_time.hpp"
#include "common/cert_id.hpp"

namespace ocspkit::ocspctl {

namespace json = boost::json;
using schema::cert_record;

namespace {

json::value time_or_null(const std::optional<sys_seconds>& t) {
    if (t) return json::value(to_iso8601(*t));
    return nullptr;
}

json::value text_or_null(const std::optional<std::string>& t) {
    if (t) return json::value(*t);
    return nullptr;
}

json::value status_or_null(const std::optional<schema::cert_status>& s) {
    if (s) return json::value(std::string{schema::status_name(*s)});
    return nullptr;
}

}  // namespace

json::object certificate_json(const schema::index_store& index, const cert_record& r) {
    json::object o;
    o["issuer_id"] = r.issuer_id;
    auto issuer = index.find_issuer(r.issuer_id);
    o["issuer_subject"] = issuer ? json::value(issuer->subject) : json::value(nullptr);
    o["serial"] = r.serial.to_hex();
    o["status"] = std::string{schema::status_name(r.status)};
    o["reason"] = r.reason ? json::value(std::string{schema::reason_name(*r.reason)}) : json::value(nullptr);
    o["revocation_time"] = time_or_null(r.revocation_time);
    o["invalidity_date"] = time_or_null(r.invalidity_date);
    o["hold_instruction"] = text_or_null(r.hold_instruction);
    o["not_before"] = time_or_null(r.not_before);
    o["not_after"] = time_or_null(r.not_after);
    o["subject"] = r.subject.empty() ? json::value(nullptr) : json::value(r.subject);
    o["certificate_stored"] = r.cert_der.has_value();
    o["change_seq"] = r.change_seq;
    return o;
}

json::object audit_json(const schema::audit_record& r) {
    json::object o;
    o["id"] = r.id;
    o["time"] = to_iso8601(r.time);
    o["unix_user"] = r.unix_user;
    o["sudo_user"] = text_or_null(r.sudo_user);
    o["command"] = r.command;
    o["issuer_id"] = r.entry.issuer_id ? json::value(*r.entry.issuer_id) : json::value(nullptr);
    o["serial"] = r.entry.serial ? json::value(r.entry.serial->to_hex()) : json::value(nullptr);
    o["old_status"] = status_or_null(r.entry.old_status);
    o["new_status"] = status_or_null(r.entry.new_status);
    o["detail"] = r.entry.detail;
    return o;
}

void write_certificates_json(std::ostream& out, const schema::index_store& index,
                             const std::function<void(const std::function<void(const cert_record&)>&)>& rows) {
    out << "{\"certificates\":[";
    bool first = true;
    rows([&](const cert_record& r) {
        if (!first) out << ',';
        first = false;
        out << json::serialize(certificate_json(index, r));
    });
    out << "]}\n";
}

void write_issuers_json(std::ostream& out, const schema::index_store& index) {
    json::array issuers;
    for (const auto& issuer : index.list_issuers()) {
        json::object o;
        o["id"] = issuer.id;
        o["subject"] = issuer.subject;
        o["enabled"] = issuer.enabled;
        o["certificates"] = index.count_certificates(issuer.id, std::nullopt);
        o["revoked"] = index.count_certificates(issuer.id, schema::cert_status::revoked);
        o["hold"] = index.count_certificates(issuer.id, schema::cert_status::hold);
        o["key_id"] = to_hex(issuer.key_id);
        o["name_hash_sha256"] = to_hex(issuer.hashes[hash_alg::sha256].name_hash);
        o["key_hash_sha256"] = to_hex(issuer.hashes[hash_alg::sha256].key_hash);
        issuers.push_back(std::move(o));
    }
    json::object doc;
    doc["issuers"] = std::move(issuers);
    out << json::serialize(doc) << '\n';
}

}  // namespace ocspkit::ocspctl
