#include "crl/crl_builder.hpp"

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include "common/asn1_time.hpp"
#include "common/cert_id.hpp"
#include "common/duration.hpp"
#include "common/openssl_error.hpp"

namespace ocspkit::crl {

using namespace std::chrono_literals;

namespace {

// X.509 (10/2016) §9.6.2.7 id-ce-expiredCertsOnCRL; OpenSSL has no NID for it.
constexpr const char* expired_certs_on_crl_oid = "2.5.29.60";

void check(int rc, std::string_view what) {
    if (rc <= 0) throw openssl_error(what);
}

// UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §5.1.2.4-5): ASN1_TIME_set picks so.
ossl::asn1_time_ptr crl_time(sys_seconds t) {
    ossl::asn1_time_ptr out{ASN1_TIME_set(nullptr, static_cast<time_t>(t.time_since_epoch().count()))};
    if (!out) throw openssl_error("encoding a CRL time");
    return out;
}

// One revokedCertificates entry with the extensions map_status() answers in OCSP for the same row.
void add_entry(X509_CRL* crl, const schema::cert_record& row) {
    ossl::x509_revoked_ptr entry{X509_REVOKED_new()};
    if (!entry) throw openssl_error("X509_REVOKED_new");
    check(X509_REVOKED_set_serialNumber(entry.get(), row.serial.to_asn1().get()), "setting an entry's serial");
    check(X509_REVOKED_set_revocationDate(entry.get(), crl_time(*row.revocation_time).get()),
          "setting an entry's revocation date");
    std::optional<schema::revocation_reason> reason;
    if (row.status == schema::cert_status::hold) {
        reason = schema::revocation_reason::certificate_hold;
    } else if (row.reason && *row.reason != schema::revocation_reason::unspecified) {
        // RFC 5280 §5.3.1: "the reason code CRL entry extension SHOULD be absent instead of using the
        // unspecified (0) reasonCode value".
        reason = row.reason;
    }
    if (reason) {
        ossl::asn1_enumerated_ptr code{ASN1_ENUMERATED_new()};
        if (!code || ASN1_ENUMERATED_set(code.get(), static_cast<long>(*reason)) != 1)
            throw openssl_error("encoding a reason code");
        check(X509_REVOKED_add1_ext_i2d(entry.get(), NID_crl_reason, code.get(), 0, 0), "adding a reasonCode");
    }
    // Like the OCSP answer, only for a revocation (a hold carries none: the index keeps none for it).
    if (row.invalidity_date && row.status == schema::cert_status::revoked) {
        // RFC 5280 §5.3.2: invalidityDate is always GeneralizedTime.
        check(X509_REVOKED_add1_ext_i2d(entry.get(), NID_invalidity_date, to_generalized_time(*row.invalidity_date).get(),
                                        0, 0),
              "adding an invalidityDate");
    }
    check(X509_CRL_add0_revoked(crl, entry.get()), "adding a CRL entry");
    (void)entry.release();  // owned by the CRL now
}

void add_authority_key_id(X509_CRL* crl, X509* ca) {
    // RFC 5280 §5.2.1: the keyIdentifier method, with the CA's subjectKeyIdentifier (or, for a CA
    // certificate without one, the SHA-1 of its key, method 1 of §4.2.1.2), so clients pick the right key
    // of a CA that was re-keyed under the same name.
    const bytes key_id = subject_key_id(ca);
    ossl::authority_keyid_ptr aki{AUTHORITY_KEYID_new()};
    if (!aki) throw openssl_error("AUTHORITY_KEYID_new");
    aki->keyid = ASN1_OCTET_STRING_new();
    if (aki->keyid == nullptr ||
        ASN1_OCTET_STRING_set(aki->keyid, key_id.data(), static_cast<int>(key_id.size())) != 1)
        throw openssl_error("encoding the authority key identifier");
    check(X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, aki.get(), 0, 0),
          "adding the authorityKeyIdentifier");
}

void add_crl_number(X509_CRL* crl, std::int64_t number) {
    ossl::asn1_integer_ptr n{ASN1_INTEGER_new()};
    if (!n || ASN1_INTEGER_set_int64(n.get(), number) != 1) throw openssl_error("encoding the CRL number");
    check(X509_CRL_add1_ext_i2d(crl, NID_crl_number, n.get(), 0, 0), "adding the cRLNumber");
}

void add_expired_certs_on_crl(X509_CRL* crl, sys_seconds since) {
    // ExpiredCertsOnCRL ::= GeneralizedTime, in an extension OpenSSL does not know: DER by hand.
    const auto when = to_generalized_time(since);
    unsigned char* der = nullptr;
    const int len = i2d_ASN1_GENERALIZEDTIME(when.get(), &der);
    if (len <= 0) throw openssl_error("encoding expiredCertsOnCRL");
    ossl::asn1_octet_string_ptr value{ASN1_OCTET_STRING_new()};
    const bool set = value && ASN1_OCTET_STRING_set(value.get(), der, len) == 1;
    OPENSSL_free(der);
    if (!set) throw openssl_error("encoding expiredCertsOnCRL");
    ossl::asn1_object_ptr oid{OBJ_txt2obj(expired_certs_on_crl_oid, 1)};
    if (!oid) throw openssl_error("the expiredCertsOnCRL OID");
    ossl::x509_extension_ptr ext{X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 0, value.get())};
    if (!ext) throw openssl_error("making the expiredCertsOnCRL extension");
    check(X509_CRL_add_ext(crl, ext.get(), -1), "adding expiredCertsOnCRL");
}

}  // namespace

status check_policy(const crl_policy& policy) {
    if (policy.validity < 1min || policy.validity > std::chrono::hours{24 * 3660})
        return error{errc::config, "the CRL validity must be between 1m and 3660d"};
    if (policy.expired_grace && *policy.expired_grace < policy.validity)
        return error{errc::config,
                     fmt::format("the expired-certificate grace ({}) must be at least the CRL validity ({}): an entry "
                                 "must stay until a CRL issued after its certificate expired has listed it "
                                 "(RFC 5280 §3.3)",
                                 format_duration(*policy.expired_grace), format_duration(policy.validity))};
    return success();
}

sys_seconds expired_certs_on_crl(const crl_policy& policy, sys_seconds this_update, sys_seconds ca_not_before) {
    if (!policy.expired_grace) return ca_not_before;
    return this_update - *policy.expired_grace;
}

bool listed(const schema::cert_record& row, const crl_policy& policy, sys_seconds this_update) {
    if (row.status == schema::cert_status::good) return false;
    // Not clamped to the CA's notBefore: a certificate may be dated before its CA, and the grace is a
    // promise about each certificate's own expiry.
    if (!policy.expired_grace || !row.not_after) return true;
    return *row.not_after >= this_update - *policy.expired_grace;
}

result<built_crl> build_crl(const crl_signer& signer, const crl_policy& policy, std::int64_t number,
                            sys_seconds this_update, std::span<const schema::cert_record> rows) {
    if (number <= 0) return error{errc::out_of_range, fmt::format("CRL number {} is not positive", number)};
    if (auto ok = check_policy(policy); !ok) return std::move(ok).failure();
    X509* ca = signer.ca();
    const auto ca_not_before = from_asn1_time(X509_get0_notBefore(ca));
    if (!ca_not_before) return error{errc::malformed, "the CA certificate's notBefore does not parse"};
    for (const auto& row : rows) {
        if (row.status != schema::cert_status::good && !row.revocation_time)
            return error{errc::malformed, fmt::format("serial {} is revoked without a revocation time", row.serial.to_hex())};
    }

    built_crl out;
    out.number = number;
    out.this_update = this_update;
    out.next_update = this_update + policy.validity;
    out.expired_certs_on_crl = expired_certs_on_crl(policy, this_update, *ca_not_before);
    try {
        ossl::x509_crl_ptr crl{X509_CRL_new()};
        if (!crl) throw openssl_error("X509_CRL_new");
        check(X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2), "setting the CRL version");
        check(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca)), "setting the CRL issuer");
        check(X509_CRL_set1_lastUpdate(crl.get(), crl_time(out.this_update).get()), "setting thisUpdate");
        check(X509_CRL_set1_nextUpdate(crl.get(), crl_time(out.next_update).get()), "setting nextUpdate");
        for (const auto& row : rows) {
            if (row.status == schema::cert_status::good) continue;
            if (!listed(row, policy, this_update)) {
                ++out.expired_left_off;
                continue;
            }
            add_entry(crl.get(), row);
            ++out.entries;
        }
        // DER of a SET OF is sorted anyway; sorted entries also let clients search them.
        check(X509_CRL_sort(crl.get()), "sorting the CRL entries");
        add_authority_key_id(crl.get(), ca);
        add_crl_number(crl.get(), number);
        add_expired_certs_on_crl(crl.get(), out.expired_certs_on_crl);
        auto der = signer.sign(crl.get());
        if (!der) return std::move(der).failure();
        out.der = std::move(der).value();
    } catch (const openssl_error& e) {
        return error{errc::crypto, e.what()};
    }
    return out;
}

}  // namespace ocspkit::crl
