// libFuzzer target, differential: the responder writes BasicOCSPResponse DER by hand (responder/answer.cpp
// sign_response). For fuzz-chosen CertIDs, statuses, times, reasons, invalidity dates, nonces and signer
// settings, OpenSSL (d2i_OCSP_RESPONSE and the OCSP_resp_* / OCSP_single_* accessors) must read back
// exactly the fields that were meant, the signature must verify, and OpenSSL's re-encoding must be the
// same octets (so the writer's DER is canonical: minimal INTEGERs, lengths, no defaults written).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <vector>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "common/cert_id.hpp"
#include "common/ossl_ptr.hpp"
#include "common/serial.hpp"
#include "responder/answer.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "tests/support/test_pki.hpp"

namespace {

using namespace std::chrono_literals;
using ocspkit::bytes;
using ocspkit::fuzz::fuzz_input;
using ocspkit::hash_alg;
using ocspkit::responder::cert_state;
using ocspkit::responder::issuer_profile;
using ocspkit::responder::requested_cert;
using ocspkit::responder::responder_id_form;
using ocspkit::responder::single_status;
using ocspkit::schema::revocation_reason;
using ocspkit::test::reference_time;
using sys_seconds = std::chrono::sys_seconds;

struct signers {
    ocspkit::test::issued ca = ocspkit::test::make_ca("Fuzz Responder CA");
    ocspkit::test::issued delegated =
        ocspkit::test::make_ocsp_signer(ca, "Fuzz delegated responder", ocspkit::test::key_type::ed25519);
    std::shared_ptr<const ocspkit::responder::signer> ca_by_key = from(ca, responder_id_form::by_key_hash);
    std::shared_ptr<const ocspkit::responder::signer> ca_by_name = from(ca, responder_id_form::by_name);
    std::shared_ptr<const ocspkit::responder::signer> delegated_by_key = from(delegated, responder_id_form::by_key_hash);

    std::shared_ptr<const ocspkit::responder::signer> from(const ocspkit::test::issued& who, responder_id_form form) const {
        return ocspkit::responder::signer::from_parts(ocspkit::ossl::up_ref(who.cert.get()),
                                                      ocspkit::ossl::up_ref(who.key.get()),
                                                      ocspkit::ossl::up_ref(ca.cert.get()), form,
                                                      ocspkit::responder::rsa_padding::pkcs1);
    }
};
const signers& the_signers() {
    static const signers s;
    return s;
}

// 1950-01-01 .. 9999-12-31T23:59:59: GeneralizedTime's four-digit years.
constexpr std::int64_t earliest = -631152000;
constexpr std::int64_t latest = 253402300799;

sys_seconds any_time(fuzz_input& in) {
    return sys_seconds{std::chrono::seconds{static_cast<std::int64_t>(in.in_range(0, latest - earliest)) + earliest}};
}

// OpenSSL's reading of a GeneralizedTime, computed without the project's own asn1_time code.
sys_seconds openssl_time(const ASN1_GENERALIZEDTIME* t) {
    OCSPKIT_FUZZ_CHECK(t != nullptr && ASN1_TIME_check(t) == 1);
    std::tm tm{};
    OCSPKIT_FUZZ_CHECK(ASN1_TIME_to_tm(t, &tm) == 1);
    const std::chrono::year_month_day ymd{std::chrono::year{tm.tm_year + 1900},
                                          std::chrono::month{static_cast<unsigned>(tm.tm_mon + 1)},
                                          std::chrono::day{static_cast<unsigned>(tm.tm_mday)}};
    return sys_seconds{std::chrono::sys_days{ymd}} + std::chrono::hours{tm.tm_hour} +
           std::chrono::minutes{tm.tm_min} + std::chrono::seconds{tm.tm_sec};
}

bytes octets(const ASN1_OCTET_STRING* s) {
    OCSPKIT_FUZZ_CHECK(s != nullptr);
    const unsigned char* p = ASN1_STRING_get0_data(s);
    return bytes(p, p + ASN1_STRING_length(s));
}

// The value of extension `oid` in `exts`-style accessors, or nullopt when absent (at most one allowed).
template <class Get, class Count>
std::optional<bytes> extension_value(const ASN1_OBJECT* oid, Count count, Get get) {
    std::optional<bytes> found;
    for (int i = 0; i < count(); ++i) {
        X509_EXTENSION* ext = get(i);
        if (OBJ_cmp(X509_EXTENSION_get_object(ext), oid) != 0) continue;
        OCSPKIT_FUZZ_CHECK(!found);
        OCSPKIT_FUZZ_CHECK(X509_EXTENSION_get_critical(ext) == 0);
        found = octets(X509_EXTENSION_get_data(ext));
    }
    return found;
}

// The DER of a GeneralizedTime as the value of an extension (archiveCutoff, invalidityDate).
sys_seconds time_in_extension(const bytes& der) {
    const unsigned char* p = der.data();
    std::unique_ptr<ASN1_GENERALIZEDTIME, decltype(&ASN1_GENERALIZEDTIME_free)> t{
        d2i_ASN1_GENERALIZEDTIME(nullptr, &p, static_cast<long>(der.size())), &ASN1_GENERALIZEDTIME_free};
    OCSPKIT_FUZZ_CHECK(t != nullptr && p == der.data() + der.size());
    return openssl_time(t.get());
}

ocspkit::ossl::asn1_object_ptr oid(const char* dotted) {
    ocspkit::ossl::asn1_object_ptr o{OBJ_txt2obj(dotted, 1)};
    OCSPKIT_FUZZ_CHECK(o != nullptr);
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto& s = the_signers();
    fuzz_input in(data, size);

    issuer_profile profile;
    profile.issuer_id = 1;
    const int signer_choice = in.byte() % 3;
    profile.signing = signer_choice == 0 ? s.ca_by_key : signer_choice == 1 ? s.ca_by_name : s.delegated_by_key;
    profile.validity = std::chrono::seconds{in.in_range(1, 400 * 24 * 3600)};
    profile.backdate = std::chrono::seconds{in.in_range(0, 2 * 24 * 3600)};
    profile.archive_cutoff = in.boolean();
    profile.include_signer_cert = in.boolean();
    // From 30 years before the reference time to 30 years after (the signers expire a year after it).
    const sys_seconds now = reference_time + std::chrono::minutes{static_cast<std::int64_t>(in.in_range(0, 2 * 15'778'800)) - 15'778'800};

    const std::size_t count = in.in_range(1, 4);
    std::vector<requested_cert> ids;
    std::vector<single_status> statuses(count);
    for (std::size_t i = 0; i < count; ++i) {
        const auto alg = static_cast<hash_alg>(in.byte() % 4);
        const std::size_t hash_len = ocspkit::hash_size(alg);
        bytes name_hash(hash_len, 0);
        bytes key_hash(hash_len, 0);
        const auto name_octets = in.take(hash_len);
        std::copy(name_octets.begin(), name_octets.end(), name_hash.begin());
        const auto key_octets = in.take(hash_len);
        std::copy(key_octets.begin(), key_octets.end(), key_hash.begin());
        const auto serial_octets = in.take(in.in_range(1, ocspkit::serial_number::max_octets));
        bytes serial(serial_octets.begin(), serial_octets.end());
        if (serial.empty()) serial.push_back(0);  // the input ran out
        auto parsed = ocspkit::serial_number::from_bytes(serial);
        OCSPKIT_FUZZ_CHECK(parsed.has_value());
        ids.push_back(requested_cert{alg, std::move(name_hash), std::move(key_hash), *parsed, in.boolean()});

        auto& st = statuses[i];
        st.state = static_cast<cert_state>(in.byte() % 3);
        st.expired = in.boolean();
        if (st.state == cert_state::revoked) {
            st.revocation_time = any_time(in);
            if (const auto r = in.byte() % 12; r < 11 && r != 7) st.reason = static_cast<revocation_reason>(r);
            if (in.boolean()) st.invalidity_date = any_time(in);
            st.extended_revoked = in.boolean();
        }
    }
    std::optional<bytes> nonce;
    if (in.boolean()) {
        const auto n = in.take(in.in_range(1, 128));
        nonce = bytes(n.begin(), n.end());
    }

    sys_seconds this_update{};
    sys_seconds next_update{};
    const bytes der = ocspkit::responder::sign_response(profile, ids, statuses, nonce, now, &this_update, &next_update);
    const ocspkit::responder::signer& signer = *profile.signing;
    // What sign_response promises (answer.hpp), computed here independently.
    sys_seconds expected_next = now + profile.validity;
    if (signer.not_after() > now && signer.not_after() < expected_next) expected_next = signer.not_after();
    OCSPKIT_FUZZ_CHECK(this_update == now - profile.backdate && next_update == expected_next);

    const unsigned char* p = der.data();
    ocspkit::ossl::ocsp_response_ptr resp{d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size()))};
    OCSPKIT_FUZZ_CHECK(resp != nullptr && p == der.data() + der.size());
    unsigned char* again = nullptr;
    const int again_len = i2d_OCSP_RESPONSE(resp.get(), &again);
    OCSPKIT_FUZZ_CHECK(again_len > 0);
    const bool same_octets = bytes(again, again + again_len) == der;
    OPENSSL_free(again);
    OCSPKIT_FUZZ_CHECK(same_octets);
    OCSPKIT_FUZZ_CHECK(OCSP_response_status(resp.get()) == OCSP_RESPONSE_STATUS_SUCCESSFUL);
    ocspkit::ossl::ocsp_basicresp_ptr basic{OCSP_response_get1_basic(resp.get())};
    OCSPKIT_FUZZ_CHECK(basic != nullptr);

    // Signature, and the certificate sent along only for a delegated signer.
    const STACK_OF(X509)* sent = OCSP_resp_get0_certs(basic.get());
    const bool with_cert = signer.is_delegated() && profile.include_signer_cert;
    OCSPKIT_FUZZ_CHECK((sent != nullptr ? sk_X509_num(sent) : 0) == (with_cert ? 1 : 0));
    ocspkit::ossl::x509_stack_ptr certs{sk_X509_new_null()};
    OCSPKIT_FUZZ_CHECK(certs != nullptr);
    sk_X509_push(certs.get(), ocspkit::ossl::up_ref(signer.certificate()).release());
    ocspkit::ossl::x509_store_ptr store{X509_STORE_new()};
    OCSPKIT_FUZZ_CHECK(OCSP_basic_verify(basic.get(), certs.get(), store.get(), OCSP_NOVERIFY) == 1);

    // ResponderID.
    const ASN1_OCTET_STRING* key_hash = nullptr;
    const X509_NAME* name = nullptr;
    OCSPKIT_FUZZ_CHECK(OCSP_resp_get0_id(basic.get(), &key_hash, &name) == 1);
    if (signer.id_form() == responder_id_form::by_key_hash) {
        OCSPKIT_FUZZ_CHECK(name == nullptr && octets(key_hash) == signer.key_hash());
    } else {
        OCSPKIT_FUZZ_CHECK(key_hash == nullptr && name != nullptr);
        OCSPKIT_FUZZ_CHECK(X509_NAME_cmp(name, X509_get_subject_name(signer.certificate())) == 0);
    }
    OCSPKIT_FUZZ_CHECK(openssl_time(OCSP_resp_get0_produced_at(basic.get())) == now);

    // Response extensions: the nonce (RFC 9654: extnValue is the DER of an OCTET STRING) and
    // extended revoke (RFC 6960 §4.4.8) when any `revoked` answers a serial that was never issued.
    const auto nonce_oid = oid("1.3.6.1.5.5.7.48.1.2");
    const auto extended_revoke_oid = oid("1.3.6.1.5.5.7.48.1.9");
    const auto basic_count = [&] { return OCSP_BASICRESP_get_ext_count(basic.get()); };
    const auto basic_get = [&](int i) { return OCSP_BASICRESP_get_ext(basic.get(), i); };
    const auto nonce_value = extension_value(nonce_oid.get(), basic_count, basic_get);
    OCSPKIT_FUZZ_CHECK(nonce_value.has_value() == nonce.has_value());
    if (nonce) {
        bytes wrapped{0x04};
        if (nonce->size() >= 128) wrapped.push_back(0x81);
        wrapped.push_back(static_cast<std::uint8_t>(nonce->size()));
        wrapped.insert(wrapped.end(), nonce->begin(), nonce->end());
        OCSPKIT_FUZZ_CHECK(*nonce_value == wrapped);
    }
    const bool extended = std::any_of(statuses.begin(), statuses.end(), [](const auto& st) { return st.extended_revoked; });
    const auto extended_value = extension_value(extended_revoke_oid.get(), basic_count, basic_get);
    OCSPKIT_FUZZ_CHECK(extended_value.has_value() == extended);
    if (extended) OCSPKIT_FUZZ_CHECK(*extended_value == (bytes{0x05, 0x00}));
    OCSPKIT_FUZZ_CHECK(basic_count() == (nonce ? 1 : 0) + (extended ? 1 : 0));

    // One SingleResponse per CertID, in order.
    OCSPKIT_FUZZ_CHECK(static_cast<std::size_t>(OCSP_resp_count(basic.get())) == ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        OCSP_SINGLERESP* single = OCSP_resp_get0(basic.get(), static_cast<int>(i));
        OCSPKIT_FUZZ_CHECK(single != nullptr);
        ASN1_OCTET_STRING* name_hash = nullptr;
        ASN1_OBJECT* md = nullptr;
        ASN1_OCTET_STRING* issuer_key_hash = nullptr;
        ASN1_INTEGER* serial = nullptr;
        OCSPKIT_FUZZ_CHECK(OCSP_id_get0_info(&name_hash, &md, &issuer_key_hash, &serial,
                                             const_cast<OCSP_CERTID*>(OCSP_SINGLERESP_get0_id(single))) == 1);
        OCSPKIT_FUZZ_CHECK(OBJ_obj2nid(md) == ocspkit::hash_nid(ids[i].alg));
        OCSPKIT_FUZZ_CHECK(octets(name_hash) == ids[i].issuer_name_hash);
        OCSPKIT_FUZZ_CHECK(octets(issuer_key_hash) == ids[i].issuer_key_hash);
        ocspkit::ossl::bignum_ptr bn{ASN1_INTEGER_to_BN(serial, nullptr)};
        OCSPKIT_FUZZ_CHECK(bn != nullptr && !BN_is_negative(bn.get()));
        bytes magnitude(static_cast<std::size_t>(BN_num_bytes(bn.get())));
        BN_bn2bin(bn.get(), magnitude.data());
        if (magnitude.empty()) magnitude.push_back(0);  // serial_number keeps one octet for zero
        OCSPKIT_FUZZ_CHECK(magnitude == ids[i].serial.bytes());

        int reason = -2;
        ASN1_GENERALIZEDTIME* revoked_at = nullptr;
        ASN1_GENERALIZEDTIME* this_upd = nullptr;
        ASN1_GENERALIZEDTIME* next_upd = nullptr;
        const int status = OCSP_single_get0_status(single, &reason, &revoked_at, &this_upd, &next_upd);
        const auto& st = statuses[i];
        const int expected_status = st.state == cert_state::good      ? V_OCSP_CERTSTATUS_GOOD
                                    : st.state == cert_state::revoked ? V_OCSP_CERTSTATUS_REVOKED
                                                                      : V_OCSP_CERTSTATUS_UNKNOWN;
        OCSPKIT_FUZZ_CHECK(status == expected_status);
        if (st.state == cert_state::revoked) {
            OCSPKIT_FUZZ_CHECK(openssl_time(revoked_at) == *st.revocation_time);
            OCSPKIT_FUZZ_CHECK(reason == (st.reason ? static_cast<int>(*st.reason) : OCSP_REVOKED_STATUS_NOSTATUS));
        }
        OCSPKIT_FUZZ_CHECK(openssl_time(this_upd) == this_update);
        OCSPKIT_FUZZ_CHECK(openssl_time(next_upd) == next_update);

        const auto single_count = [&] { return OCSP_SINGLERESP_get_ext_count(single); };
        const auto single_get = [&](int k) { return OCSP_SINGLERESP_get_ext(single, k); };
        const auto invalidity = extension_value(oid("2.5.29.24").get(), single_count, single_get);
        const bool want_invalidity = st.state == cert_state::revoked && st.invalidity_date.has_value();
        OCSPKIT_FUZZ_CHECK(invalidity.has_value() == want_invalidity);
        if (want_invalidity) OCSPKIT_FUZZ_CHECK(time_in_extension(*invalidity) == *st.invalidity_date);
        const auto cutoff = extension_value(oid("1.3.6.1.5.5.7.48.1.6").get(), single_count, single_get);
        const bool want_cutoff = profile.archive_cutoff && st.expired;
        OCSPKIT_FUZZ_CHECK(cutoff.has_value() == want_cutoff);
        if (want_cutoff) OCSPKIT_FUZZ_CHECK(time_in_extension(*cutoff) == signer.ca_not_before());
        OCSPKIT_FUZZ_CHECK(single_count() == (want_invalidity ? 1 : 0) + (want_cutoff ? 1 : 0));
    }
    ERR_clear_error();
    return 0;
}
