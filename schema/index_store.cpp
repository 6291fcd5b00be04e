// The backend-neutral part of index_store: the rules of merge() and the choice of backend.
#include "schema/index_store.hpp"

#include <fmt/format.h>
#include <openssl/x509.h>

#include "common/openssl_error.hpp"
#include "common/pem.hpp"

#include "common/pg.hpp"
#include "schema/cert_index.hpp"
#include "schema/import_rule.hpp"
#include "schema/pg_index.hpp"

namespace ocspkit::schema {

namespace {

bytes subject_der_of(X509* cert) {
    const X509_NAME* name = X509_get_subject_name(cert);
    const int len = i2d_X509_NAME(name, nullptr);
    if (len <= 0) throw openssl_error("cannot encode the issuer's subject name");
    bytes out(static_cast<std::size_t>(len));
    unsigned char* p = out.data();
    if (i2d_X509_NAME(name, &p) != len) throw openssl_error("cannot encode the issuer's subject name");
    return out;
}

}  // namespace

new_issuer_row new_issuer_row_of(X509* ca_cert) {
    return {subject_rfc2253(ca_cert), subject_der_of(ca_cert), subject_key_id(ca_cert),
            compute_issuer_hashes(ca_cert), der_of(ca_cert)};
}

result<upsert_outcome> index_batch::merge(const cert_record& rec, const merge_options& options) {
    conflict_.reset();
    if (auto consistent = check_consistency(rec); !consistent) return std::move(consistent).failure();
    if (rec.issuer_id != checked_issuer_) {
        // Checked here for a clear message; the foreign key would only say that a constraint failed.
        if (!issuer_registered(rec.issuer_id)) {
            return error{errc::not_found,
                         fmt::format("serial {}: issuer ID {} is not registered", rec.serial.to_hex(), rec.issuer_id)};
        }
        checked_issuer_ = rec.issuer_id;
    }

    if (insert_if_absent(rec)) {
        ++changed_;
        if (rec.status != cert_status::good || options.audit_good_inserts) {
            audit(audit_entry{rec.issuer_id, rec.serial, std::nullopt, rec.status, std::string{options.detail}});
        }
        return upsert_outcome::inserted;
    }
    auto existing = find(rec.issuer_id, rec.serial);
    if (!existing) {
        return error{errc::database, fmt::format("serial {}: row vanished during the write", rec.serial.to_hex())};
    }
    return merge_existing(rec, *existing, options);
}

result<upsert_outcome> index_batch::merge_existing(const cert_record& rec, const cert_record& existing,
                                                   const merge_options& options) {
    cert_record merged = rec;
    if (!merged.cert_der) merged.cert_der = existing.cert_der;
    if (!merged.not_before) merged.not_before = existing.not_before;
    if (!merged.not_after) merged.not_after = existing.not_after;
    if (merged.subject.empty()) merged.subject = existing.subject;
    if (existing.cert_der && rec.cert_der && *existing.cert_der != *rec.cert_der) {
        // Two certificates with one serial from one CA break RFC 5280 §4.1.2.2; keep the first one seen.
        return error{
            errc::conflict,
            fmt::format("serial {}: a different certificate with this serial is already stored", rec.serial.to_hex())};
    }
    bool kept = false;
    if (options.import_rule) {
        std::optional<sys_seconds> lifted;
        // Only the one case that needs it asks the audit: a hold in the file on a row that is good now.
        if (existing.status == cert_status::good && merged.status == cert_status::hold) {
            lifted = last_hold_lift(rec.issuer_id, rec.serial);
        }
        auto decision = decide_import(existing, merged, options.force, lifted);
        conflict_ = std::move(decision.conflict);
        if (decision.resolution == import_resolution::keep_index) {
            kept = true;
            merged.status = existing.status;
            merged.revocation_time = existing.revocation_time;
            merged.reason = existing.reason;
            merged.invalidity_date = existing.invalidity_date;
            merged.hold_instruction = existing.hold_instruction;
        }
    }
    if (existing.status == cert_status::revoked && merged.status != cert_status::revoked) {
        const std::string how = existing.reason ? fmt::format("with reason {}", reason_name(*existing.reason))
                                                : std::string{"(no reason code)"};
        return error{errc::conflict,
                     fmt::format("serial {} is revoked {}; only certificateHold can be lifted (RFC 5280 §5.3.1)",
                                 rec.serial.to_hex(), how)};
    }
    if (merged.same_content(existing)) return kept ? upsert_outcome::kept : upsert_outcome::unchanged;

    update(merged);
    ++changed_;
    audit(audit_entry{rec.issuer_id, rec.serial, existing.status, merged.status, std::string{options.detail}});
    return kept ? upsert_outcome::kept : upsert_outcome::updated;
}

bool index_batch::upsert(const cert_record& rec) {
    auto outcome = merge(rec);
    if (!outcome) throw index_error(outcome.error_message());
    return *outcome == upsert_outcome::inserted;
}

std::vector<cert_record> index_store::list_certificates(std::optional<std::int64_t> issuer_id,
                                                        std::optional<cert_status> status) const {
    std::vector<cert_record> out;
    for_each_certificate(issuer_id, status, [&out](const cert_record& r) { out.push_back(r); });
    return out;
}

std::unique_ptr<index_store> open_index_store(const std::string& database, sqlite::open_mode mode,
                                              std::optional<audit_context> audit,
                                              std::chrono::milliseconds busy_timeout) {
    if (pg::database_kind_of(database) == pg::database_kind::postgresql)
        return std::make_unique<pg_index>(pg_index::open(database, mode, std::move(audit)));
    return std::make_unique<cert_index>(cert_index::open(database, mode, busy_timeout, std::move(audit)));
}

}  // namespace ocspkit::schema
