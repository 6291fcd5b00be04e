#include "crl/crl_reader.hpp"

#include <algorithm>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/asn1_time.hpp"
#include "common/cert_id.hpp"
#include "common/openssl_error.hpp"
#include "common/ossl_ptr.hpp"
#include "common/pem.hpp"

namespace ocspkit::crl {

namespace {

using schema::revocation_reason;

error malformed(std::string text) { return error{errc::malformed, "CRL: " + std::move(text)}; }
error unsupported(std::string text) { return error{errc::unsupported, "CRL: " + std::move(text)}; }

std::string oid_text(const ASN1_OBJECT* oid) {
    char buf[128];
    const int n = OBJ_obj2txt(buf, sizeof buf, oid, 1);
    if (n <= 0) return "?";
    return std::string(buf, static_cast<std::size_t>(std::min<int>(n, static_cast<int>(sizeof buf) - 1)));
}

bool starts_like_pem(std::span<const std::uint8_t> input) {
    const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
    const auto first = text.find_first_not_of(" \t\r\n");
    return first != std::string_view::npos && text.substr(first).starts_with("-----BEGIN");
}

result<ossl::x509_crl_ptr> decode(std::span<const std::uint8_t> input) {
    ERR_clear_error();
    if (starts_like_pem(input)) {
        ossl::bio_ptr bio{BIO_new_mem_buf(input.data(), static_cast<int>(std::min<std::size_t>(input.size(), INT32_MAX)))};
        if (!bio) return error{errc::internal, "BIO_new_mem_buf failed"};
        ossl::x509_crl_ptr crl{PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)};
        ERR_clear_error();
        if (!crl) return malformed("the PEM text holds no \"X509 CRL\" block that decodes");
        return crl;
    }
    const unsigned char* p = input.data();
    ossl::x509_crl_ptr crl{d2i_X509_CRL(nullptr, &p, static_cast<long>(input.size()))};
    ERR_clear_error();
    if (!crl) return malformed("neither PEM nor a DER CertificateList that decodes");
    if (p != input.data() + input.size())
        return malformed(fmt::format("{} bytes after the DER CertificateList", input.data() + input.size() - p));
    return crl;
}

// An extension of the CRL (or of an entry) decoded by NID: nullptr when absent, an error when it is
// present twice or does not decode.
template <class T, class Getter>
result<T*> extension(Getter get, int nid, std::string_view what) {
    int critical = -1;
    void* value = get(nid, &critical);
    if (critical == -2) return malformed(fmt::format("{} appears more than once", what));
    if (!value && critical >= 0) return malformed(fmt::format("{} does not decode", what));
    return static_cast<T*>(value);
}

result<serial_number> number_extension(X509_CRL* crl, int nid, std::string_view what) {
    auto got = extension<ASN1_INTEGER>(
        [&](int n, int* crit) { return X509_CRL_get_ext_d2i(crl, n, crit, nullptr); }, nid, what);
    if (!got) return std::move(got).failure();
    ossl::asn1_integer_ptr value{*got};
    if (!value) return error{errc::not_found, std::string(what)};
    auto number = serial_number::from_asn1(value.get());
    if (!number) return malformed(fmt::format("{}: {}", what, number.error_message()));
    return number;
}

// Critical extensions the import understands; any other critical one is refused (RFC 5280 §5.2).
bool known_crl_extension(int nid) {
    return nid == NID_crl_number || nid == NID_delta_crl || nid == NID_issuing_distribution_point ||
           nid == NID_authority_key_identifier || nid == NID_freshest_crl || nid == NID_info_access;
}
bool known_entry_extension(int nid) {
    return nid == NID_crl_reason || nid == NID_invalidity_date || nid == NID_hold_instruction_code;
}

status check_scope(X509_CRL* crl) {
    auto got = extension<ISSUING_DIST_POINT>(
        [&](int n, int* crit) { return X509_CRL_get_ext_d2i(crl, n, crit, nullptr); },
        NID_issuing_distribution_point, "issuingDistributionPoint");
    if (!got) return std::move(got).failure();
    std::unique_ptr<ISSUING_DIST_POINT, decltype(&ISSUING_DIST_POINT_free)> idp{*got, ISSUING_DIST_POINT_free};
    if (!idp) return success();
    if (idp->indirectCRL)
        return unsupported("an indirect CRL (issuingDistributionPoint indirectCRL): import the issuing CA's own CRL");
    if (idp->onlysomereasons)
        return unsupported("the CRL covers only some reasons (issuingDistributionPoint onlySomeReasons); "
                           "a serial missing from it may be revoked for another reason");
    if (idp->onlyCA) return unsupported("the CRL lists CA certificates only (onlyContainsCACerts)");
    if (idp->onlyattr) return unsupported("the CRL lists attribute certificates only (onlyContainsAttributeCerts)");
    return success();
}

status check_critical_extensions(const STACK_OF(X509_EXTENSION) * exts, bool (*known)(int), std::string_view where) {
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
        X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
        if (!X509_EXTENSION_get_critical(ext)) continue;
        const ASN1_OBJECT* oid = X509_EXTENSION_get_object(ext);
        if (!known(OBJ_obj2nid(oid)))
            return unsupported(fmt::format("{} has a critical extension this import does not know ({})", where,
                                           oid_text(oid)));
    }
    return success();
}

result<crl_entry> read_entry(X509_REVOKED* revoked) {
    crl_entry e;
    auto serial = serial_number::from_asn1(X509_REVOKED_get0_serialNumber(revoked));
    if (!serial) return malformed(fmt::format("an entry's serial number: {}", serial.error_message()));
    e.serial = std::move(serial).value();
    const auto where = fmt::format("the entry for serial {}", e.serial.to_hex());
    const auto date = from_asn1_time(X509_REVOKED_get0_revocationDate(revoked));
    if (!date) return malformed(where + ": revocationDate does not parse");
    e.revocation_date = *date;
    if (auto ok = check_critical_extensions(X509_REVOKED_get0_extensions(revoked), known_entry_extension, where); !ok)
        return std::move(ok).failure();
    const auto get = [&](int n, int* crit) { return X509_REVOKED_get_ext_d2i(revoked, n, crit, nullptr); };

    auto reason = extension<ASN1_ENUMERATED>(get, NID_crl_reason, where + ": reasonCode");
    if (!reason) return std::move(reason).failure();
    if (ossl::asn1_enumerated_ptr code{*reason}; code) {
        const long value = ASN1_ENUMERATED_get(code.get());
        ERR_clear_error();
        const auto r = schema::reason_from_code(value);
        if (!r) return malformed(fmt::format("{}: reasonCode {} is not an RFC 5280 reason", where, value));
        // unspecified is to be left out (§5.3.1) but is harmless; it means the same as no reasonCode.
        if (*r != revocation_reason::unspecified) e.reason = r;
    }
    auto invalidity = extension<ASN1_GENERALIZEDTIME>(get, NID_invalidity_date, where + ": invalidityDate");
    if (!invalidity) return std::move(invalidity).failure();
    if (ossl::asn1_generalizedtime_ptr t{*invalidity}; t) {
        const auto when = from_asn1_time(t.get());
        if (!when) return malformed(where + ": invalidityDate does not parse");
        e.invalidity_date = when;
    }
    auto instruction = extension<ASN1_OBJECT>(get, NID_hold_instruction_code, where + ": holdInstructionCode");
    if (!instruction) return std::move(instruction).failure();
    if (ossl::asn1_object_ptr oid{*instruction}; oid && e.is_hold()) e.hold_instruction = oid_text(oid.get());
    return e;
}

}  // namespace

bool number_less(const serial_number& a, const serial_number& b) {
    if (a.bytes().size() != b.bytes().size()) return a.bytes().size() < b.bytes().size();
    return a.bytes() < b.bytes();
}

result<crl_contents> parse_crl(std::span<const std::uint8_t> input) {
    if (input.empty()) return malformed("the input is empty");
    auto decoded = decode(input);
    if (!decoded) return std::move(decoded).failure();
    X509_CRL* crl = decoded->get();

    crl_contents out;
    const int der_len = i2d_X509_CRL(crl, nullptr);
    if (der_len <= 0) return malformed("does not re-encode as DER");
    out.der.resize(static_cast<std::size_t>(der_len));
    unsigned char* w = out.der.data();
    i2d_X509_CRL(crl, &w);
    ERR_clear_error();
    out.issuer = name_rfc2253(X509_CRL_get_issuer(crl));

    if (X509_CRL_get_version(crl) != X509_CRL_VERSION_2)
        return unsupported("a version 1 CRL carries no CRL Number, which the import needs to keep CRLs in order");
    if (auto ok = check_critical_extensions(X509_CRL_get0_extensions(crl), known_crl_extension, "the CRL"); !ok)
        return std::move(ok).failure();
    if (auto ok = check_scope(crl); !ok) return std::move(ok).failure();

    auto number = number_extension(crl, NID_crl_number, "cRLNumber");
    if (!number) {
        if (number.code() == errc::not_found)
            return unsupported("no cRLNumber extension (RFC 5280 §5.2.3 requires one); the import needs it to "
                               "keep CRLs in order");
        return std::move(number).failure();
    }
    out.number = std::move(number).value();
    auto base = number_extension(crl, NID_delta_crl, "deltaCRLIndicator");
    if (base) {
        out.delta_base = std::move(base).value();
        if (!number_less(*out.delta_base, out.number))
            return malformed(fmt::format("delta CRL {} names base CRL {}, which is not older", out.number.to_hex(),
                                         out.delta_base->to_hex()));
    } else if (base.code() != errc::not_found) {
        return std::move(base).failure();
    }

    const auto this_update = from_asn1_time(X509_CRL_get0_lastUpdate(crl));
    if (!this_update) return malformed("thisUpdate does not parse");
    out.this_update = *this_update;
    if (const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl)) {
        const auto next_update = from_asn1_time(next);
        if (!next_update) return malformed("nextUpdate does not parse");
        if (*next_update < out.this_update) return malformed("nextUpdate is before thisUpdate");
        out.next_update = next_update;
    }

    STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
    std::set<std::vector<std::uint8_t>> seen;
    for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
        auto entry = read_entry(sk_X509_REVOKED_value(revoked, i));
        if (!entry) return std::move(entry).failure();
        if (!seen.insert(entry->serial.bytes()).second)
            return malformed(fmt::format("serial {} is listed twice", entry->serial.to_hex()));
        out.entries.push_back(std::move(entry).value());
    }
    return out;
}

status check_crl_signed_by(const crl_contents& contents, X509* ca) {
    const unsigned char* p = contents.der.data();
    ossl::x509_crl_ptr crl{d2i_X509_CRL(nullptr, &p, static_cast<long>(contents.der.size()))};
    ERR_clear_error();
    if (!crl) return malformed("does not decode");
    const auto ca_name = subject_rfc2253(ca);
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca)) != 0)
        return error{errc::unauthorized, fmt::format("the CRL's issuer is \"{}\", not the CA \"{}\"", contents.issuer,
                                                     ca_name)};
    int critical = -1;
    ossl::authority_keyid_ptr akid{static_cast<AUTHORITY_KEYID*>(
        X509_CRL_get_ext_d2i(crl.get(), NID_authority_key_identifier, &critical, nullptr))};
    const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(ca);
    if (akid && akid->keyid && ski && ASN1_OCTET_STRING_cmp(akid->keyid, ski) != 0)
        return error{errc::unauthorized,
                     fmt::format("the CRL's authority key identifier is not the key of the CA \"{}\": another key "
                                 "of that name signed it",
                                 ca_name)};
    if ((X509_get_extension_flags(ca) & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(ca) & KU_CRL_SIGN) == 0)
        return error{errc::unauthorized,
                     fmt::format("the CA certificate \"{}\" may not sign CRLs (its keyUsage lacks cRLSign)", ca_name)};
    EVP_PKEY* key = X509_get0_pubkey(ca);
    const int verified = key ? X509_CRL_verify(crl.get(), key) : -1;
    ERR_clear_error();
    if (verified != 1)
        return error{errc::unauthorized,
                     fmt::format("the CRL's signature does not verify with the key of the CA \"{}\"", ca_name)};
    return success();
}

}  // namespace ocspkit::crl
