// answer() and sign_response(): responses checked by OpenSSL's own OCSP client code in-process
// (OCSP_basic_verify against a store holding the CA, OCSP_resp_find_status, OCSP_check_nonce), and,
// for every key type, by Python's cryptography.x509.ocsp.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/asn1_time.hpp"
#include "common/sqlite.hpp"
#include "common/openssl_error.hpp"
#include "common/pem.hpp"
#include "responder/answer.hpp"
#include "tests/unit/responder/responder_test_util.hpp"

namespace ocspkit::responder {
namespace {

using namespace test_util;
using namespace std::chrono_literals;
using schema::revocation_reason;

constexpr std::int64_t main_id = 1;
constexpr std::int64_t stranger_id = 2;
const sys_seconds now = reference_time;
const sys_seconds revoked_at = reference_time - 48h;

struct single_view {
    int status = -1;
    int reason = -1;
    sys_seconds revoked{};
    sys_seconds this_update{};
    sys_seconds next_update{};
    OCSP_SINGLERESP* raw = nullptr;
};

single_view single_at(OCSP_BASICRESP* basic, int i) {
    single_view v;
    v.raw = OCSP_resp_get0(basic, i);
    if (v.raw == nullptr) throw std::runtime_error("no SingleResponse " + std::to_string(i));
    ASN1_GENERALIZEDTIME* rev = nullptr;
    ASN1_GENERALIZEDTIME* thisupd = nullptr;
    ASN1_GENERALIZEDTIME* nextupd = nullptr;
    v.status = OCSP_single_get0_status(v.raw, &v.reason, &rev, &thisupd, &nextupd);
    if (rev != nullptr) v.revoked = to_sys(rev);
    if (thisupd != nullptr) v.this_update = to_sys(thisupd);
    if (nextupd != nullptr) v.next_update = to_sys(nextupd);
    return v;
}

// Finds the status for (issuer, serial, alg) the way an OpenSSL client does: by a CertID it computes.
int find_status(OCSP_BASICRESP* basic, X509* issuer, const std::string& serial_hex, hash_alg alg, int* reason = nullptr) {
    const auto s = serial(serial_hex).to_asn1();
    ossl::ocsp_certid_ptr id{OCSP_cert_id_new(evp_md(alg), X509_get_subject_name(issuer), X509_get0_pubkey_bitstr(issuer),
                                              s.get())};
    int status = -1;
    int r = -1;
    if (OCSP_resp_find_status(basic, id.get(), &status, &r, nullptr, nullptr, nullptr) != 1) return -2;
    if (reason != nullptr) *reason = r;
    return status;
}

bytes extension_value(X509_EXTENSION* ext) {
    const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(ext);
    const unsigned char* p = ASN1_STRING_get0_data(v);
    return bytes(p, p + ASN1_STRING_length(v));
}

bytes generalized_time_der(sys_seconds t) {
    const auto gt = to_generalized_time(t);
    unsigned char* out = nullptr;
    const int len = i2d_ASN1_GENERALIZEDTIME(gt.get(), &out);
    bytes der(out, out + len);
    OPENSSL_free(out);
    return der;
}

class answer_test : public ::testing::Test {
protected:
    fake_index index;

    issuer_set one_issuer(std::shared_ptr<const signer> s, std::function<void(issuer_profile&)> tweak = {}) {
        auto p = make_profile(main_ca(), std::move(s), main_id);
        if (tweak) tweak(p);
        std::vector<issuer_profile> v;
        v.push_back(std::move(p));
        return issuer_set(std::move(v));
    }
    answer_result run(const issuer_set& set, const bytes& request, sys_seconds at = now) {
        return answer(decode_request(request), set, index.lookup(), at);
    }
};

TEST_F(answer_test, good_revoked_unknown_in_request_order) {
    index.add_good(main_id, "01");
    index.add_revoked(main_id, "02", revoked_at, revocation_reason::key_compromise);
    const auto set = one_issuer(delegated_signer(main_ca(), delegate_of(key_type::ec_p256)));
    X509* ca = main_ca().cert.get();
    const bytes req = make_request_der(
        {.certs = {{ca, "01", hash_alg::sha1}, {ca, "02", hash_alg::sha256}, {ca, "03", hash_alg::sha384}}});

    const auto r = run(set, req);
    ASSERT_EQ(r.meta.status, ocsp_status::successful) << r.meta.detail;
    EXPECT_EQ(r.meta.cert_states, (std::vector<cert_state>{cert_state::good, cert_state::revoked, cert_state::unknown}));
    EXPECT_EQ(r.meta.this_update, now - 1h);
    EXPECT_EQ(r.meta.next_update, now + 24h);
    EXPECT_FALSE(r.meta.has_nonce);
    EXPECT_FALSE(r.meta.cacheable);  // an `unknown` may become known any moment
    EXPECT_EQ(r.meta.issuer, &set.profiles()[0]);
    EXPECT_EQ(index.lookups(), 3);

    const auto parsed = parse_response(r.der);
    ASSERT_EQ(parsed.status, OCSP_RESPONSE_STATUS_SUCCESSFUL);
    EXPECT_EQ(verify_with_ca(parsed.basic.get(), ca), 1) << drain_openssl_errors();
    ASSERT_EQ(OCSP_resp_count(parsed.basic.get()), 3);
    EXPECT_EQ(to_sys(OCSP_resp_get0_produced_at(parsed.basic.get())), now);

    const auto good = single_at(parsed.basic.get(), 0);
    EXPECT_EQ(good.status, V_OCSP_CERTSTATUS_GOOD);
    EXPECT_EQ(good.this_update, now - 1h);
    EXPECT_EQ(good.next_update, now + 24h);
    const auto revoked = single_at(parsed.basic.get(), 1);
    EXPECT_EQ(revoked.status, V_OCSP_CERTSTATUS_REVOKED);
    EXPECT_EQ(revoked.reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
    EXPECT_EQ(revoked.revoked, revoked_at);
    EXPECT_EQ(single_at(parsed.basic.get(), 2).status, V_OCSP_CERTSTATUS_UNKNOWN);

    // Each answer is found under the CertID OpenSSL computes itself, with the request's algorithm.
    EXPECT_EQ(find_status(parsed.basic.get(), ca, "01", hash_alg::sha1), V_OCSP_CERTSTATUS_GOOD);
    int reason = -1;
    EXPECT_EQ(find_status(parsed.basic.get(), ca, "02", hash_alg::sha256, &reason), V_OCSP_CERTSTATUS_REVOKED);
    EXPECT_EQ(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
    EXPECT_EQ(find_status(parsed.basic.get(), ca, "03", hash_alg::sha384), V_OCSP_CERTSTATUS_UNKNOWN);
    EXPECT_EQ(find_status(parsed.basic.get(), ca, "02", hash_alg::sha1), -2);  // not asked that way
}

TEST_F(answer_test, response_cert_ids_are_the_request_cert_ids_octet_for_octet) {
    // One CertID with NULL hash parameters (OpenSSL style), one without (Go style).
    const auto h = compute_issuer_hashes(main_ca().cert.get());
    const bytes with_null = raw_cert_id(tlv(0x30, cat({oid_der("1.3.14.3.2.26"), bytes{0x05, 0x00}})),
                                        h[hash_alg::sha1].name_hash, h[hash_alg::sha1].key_hash, {0x00, 0x80});
    const bytes absent = raw_cert_id(tlv(0x30, oid_der("2.16.840.1.101.3.4.2.1")), h[hash_alg::sha256].name_hash,
                                     h[hash_alg::sha256].key_hash, {0x01, 0x02, 0x03});
    index.add_good(main_id, "80");
    const auto set = one_issuer(ca_signer(main_ca()));
    const auto r = run(set, raw_request({with_null, absent}));
    ASSERT_EQ(r.meta.status, ocsp_status::successful) << r.meta.detail;
    const auto parsed = parse_response(r.der);
    for (int i = 0; i < 2; ++i) {
        const OCSP_CERTID* id = OCSP_SINGLERESP_get0_id(single_at(parsed.basic.get(), i).raw);
        unsigned char* out = nullptr;
        const int len = i2d_OCSP_CERTID(id, &out);
        const bytes got(out, out + len);
        OPENSSL_free(out);
        EXPECT_EQ(got, i == 0 ? with_null : absent) << "CertID " << i;
    }
}

TEST_F(answer_test, issuer_not_served_is_unauthorized) {
    const auto set = one_issuer(ca_signer(main_ca()));
    const auto r = run(set, make_request_der({.certs = {{stranger_ca().cert.get(), "01"}}}));
    EXPECT_EQ(r.meta.status, ocsp_status::unauthorized);
    EXPECT_EQ(r.der, (bytes{0x30, 0x03, 0x0A, 0x01, 0x06}));
    EXPECT_EQ(parse_response(r.der).status, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
    EXPECT_FALSE(r.meta.cacheable);
    EXPECT_EQ(index.lookups(), 0);
}

TEST_F(answer_test, known_issuer_under_a_hash_of_another_issuer_is_unauthorized) {
    // The name hash of one CA with the key hash of another matches neither.
    const auto a = compute_issuer_hashes(main_ca().cert.get());
    const auto b = compute_issuer_hashes(stranger_ca().cert.get());
    const bytes alg = tlv(0x30, cat({oid_der("1.3.14.3.2.26"), bytes{0x05, 0x00}}));
    const auto set = one_issuer(ca_signer(main_ca()));
    const auto r = run(set, raw_request({raw_cert_id(alg, a[hash_alg::sha1].name_hash, b[hash_alg::sha1].key_hash, {0x01})}));
    EXPECT_EQ(r.meta.status, ocsp_status::unauthorized);
}

TEST_F(answer_test, cert_ids_of_two_issuers_with_two_signers_are_unauthorized) {
    std::vector<issuer_profile> v;
    v.push_back(make_profile(main_ca(), ca_signer(main_ca()), main_id));
    v.push_back(make_profile(stranger_ca(), ca_signer(stranger_ca()), stranger_id));
    const issuer_set set(std::move(v));
    // Each alone is fine...
    EXPECT_EQ(run(set, make_request_der({.certs = {{stranger_ca().cert.get(), "01"}}})).meta.status,
              ocsp_status::successful);
    // ...together one signature cannot cover both.
    const auto r = run(set, make_request_der({.certs = {{main_ca().cert.get(), "01"}, {stranger_ca().cert.get(), "01"}}}));
    EXPECT_EQ(r.meta.status, ocsp_status::unauthorized);
}

TEST_F(answer_test, decode_errors_are_malformed_request) {
    const auto set = one_issuer(ca_signer(main_ca()));
    for (const bytes& req : {bytes{0x30, 0x03, 0x02, 0x01}, bytes{}, bytes{0x04, 0x00}}) {
        const auto r = run(set, req);
        EXPECT_EQ(r.meta.status, ocsp_status::malformed_request);
        EXPECT_EQ(r.der, (bytes{0x30, 0x03, 0x0A, 0x01, 0x01}));
        EXPECT_FALSE(r.meta.detail.empty());
    }
}

TEST_F(answer_test, too_many_cert_ids_is_malformed_request) {
    std::vector<cert_spec> specs;
    for (int i = 0; i < 65; ++i) specs.push_back({main_ca().cert.get(), fmt::format("{:X}", i + 1)});
    const auto set = one_issuer(ca_signer(main_ca()));
    const auto r = run(set, make_request_der({.certs = specs}));
    EXPECT_EQ(r.meta.status, ocsp_status::malformed_request);
    EXPECT_EQ(parse_response(r.der).status, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
}

TEST_F(answer_test, error_response_encodes_each_status) {
    for (const auto s : {ocsp_status::malformed_request, ocsp_status::internal_error, ocsp_status::try_later,
                         ocsp_status::sig_required, ocsp_status::unauthorized}) {
        const auto parsed = parse_response(error_response(s));
        EXPECT_EQ(parsed.status, static_cast<int>(s)) << ocsp_status_name(s);
        EXPECT_FALSE(parsed.basic);
    }
}

// --- nonces (RFC 9654) ---
enum class nonce_in_request { none, valid, raw, too_long };
struct nonce_case {
    std::string name;
    nonce_policy policy;
    nonce_in_request sent;
    ocsp_status expect_status;
    bool expect_echo;
};

class nonce_policies : public answer_test, public ::testing::WithParamInterface<nonce_case> {};

TEST_P(nonce_policies, decide_status_and_echo) {
    const auto& c = GetParam();
    index.add_good(main_id, "0B");
    const auto set = one_issuer(ca_signer(main_ca()), [&](issuer_profile& p) { p.nonces = c.policy; });
    request_spec spec{.certs = {{main_ca().cert.get(), "0B"}}};
    if (c.sent == nonce_in_request::valid) spec.nonce = filled(32, 0x90);
    if (c.sent == nonce_in_request::raw) {
        spec.nonce = filled(16, 0x21);
        spec.form = nonce_form::raw;
    }
    if (c.sent == nonce_in_request::too_long) spec.nonce = filled(129);
    const bytes req_der = make_request_der(spec);

    const auto r = run(set, req_der);
    ASSERT_EQ(r.meta.status, c.expect_status) << r.meta.detail;
    if (c.expect_status != ocsp_status::successful) return;
    EXPECT_EQ(r.meta.has_nonce, c.expect_echo);
    EXPECT_EQ(r.meta.cacheable, !c.expect_echo);

    const auto parsed = parse_response(r.der);
    EXPECT_EQ(verify_with_ca(parsed.basic.get(), main_ca().cert.get()), 1);
    const unsigned char* p = req_der.data();
    ossl::ocsp_request_ptr req{d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(req_der.size()))};
    ASSERT_TRUE(req);
    // OCSP_check_nonce: 1 both equal, 2 both absent, 3 only the response has one, -1 only the request.
    const int check = OCSP_check_nonce(req.get(), parsed.basic.get());
    if (c.expect_echo) EXPECT_EQ(check, 1);
    else if (c.sent == nonce_in_request::none) EXPECT_EQ(check, 2);
    else EXPECT_EQ(check, -1);
}

INSTANTIATE_TEST_SUITE_P(
    table, nonce_policies,
    ::testing::Values(
        nonce_case{"echo_without_nonce", nonce_policy::echo, nonce_in_request::none, ocsp_status::successful, false},
        nonce_case{"echo_with_nonce", nonce_policy::echo, nonce_in_request::valid, ocsp_status::successful, true},
        nonce_case{"echo_with_raw_nonce_echoes_it_raw", nonce_policy::echo, nonce_in_request::raw,
                   ocsp_status::successful, true},
        nonce_case{"echo_with_129_octet_nonce", nonce_policy::echo, nonce_in_request::too_long,
                   ocsp_status::malformed_request, false},
        nonce_case{"required_without_nonce", nonce_policy::required, nonce_in_request::none,
                   ocsp_status::malformed_request, false},
        nonce_case{"required_with_nonce", nonce_policy::required, nonce_in_request::valid, ocsp_status::successful, true},
        nonce_case{"required_with_129_octet_nonce", nonce_policy::required, nonce_in_request::too_long,
                   ocsp_status::malformed_request, false},
        nonce_case{"ignore_with_nonce", nonce_policy::ignore, nonce_in_request::valid, ocsp_status::successful, false},
        nonce_case{"ignore_with_129_octet_nonce", nonce_policy::ignore, nonce_in_request::too_long,
                   ocsp_status::successful, false},
        nonce_case{"ignore_without_nonce", nonce_policy::ignore, nonce_in_request::none, ocsp_status::successful, false}),
    [](const ::testing::TestParamInfo<nonce_case>& p) { return p.param.name; });

// --- extensions ---
TEST_F(answer_test, unknown_serial_under_revoked_policy_carries_extended_revoke) {
    const auto set = one_issuer(ca_signer(main_ca()),
                                [](issuer_profile& p) { p.unknown_serials = unknown_serial_policy::revoked; });
    const auto r = run(set, make_request_der({.certs = {{main_ca().cert.get(), "DEAD"}}}));
    ASSERT_EQ(r.meta.status, ocsp_status::successful) << r.meta.detail;
    EXPECT_TRUE(r.meta.cacheable);
    const auto parsed = parse_response(r.der);
    ASSERT_EQ(verify_with_ca(parsed.basic.get(), main_ca().cert.get()), 1);
    const auto s = single_at(parsed.basic.get(), 0);
    EXPECT_EQ(s.status, V_OCSP_CERTSTATUS_REVOKED);
    EXPECT_EQ(s.revoked, sys_seconds{});  // 1970-01-01T00:00:00Z
    EXPECT_EQ(s.reason, OCSP_REVOKED_STATUS_CERTIFICATEHOLD);

    const ossl::asn1_object_ptr oid{OBJ_txt2obj("1.3.6.1.5.5.7.48.1.9", 1)};
    const int at = OCSP_BASICRESP_get_ext_by_OBJ(parsed.basic.get(), oid.get(), -1);
    ASSERT_GE(at, 0);
    X509_EXTENSION* ext = OCSP_BASICRESP_get_ext(parsed.basic.get(), at);
    EXPECT_EQ(X509_EXTENSION_get_critical(ext), 0);
    EXPECT_EQ(extension_value(ext), (bytes{0x05, 0x00}));  // NULL
}

TEST_F(answer_test, unknown_serial_under_unknown_policy_has_no_extended_revoke) {
    const auto set = one_issuer(ca_signer(main_ca()));
    const auto r = run(set, make_request_der({.certs = {{main_ca().cert.get(), "DEAD"}}}));
    const auto parsed = parse_response(r.der);
    EXPECT_EQ(single_at(parsed.basic.get(), 0).status, V_OCSP_CERTSTATUS_UNKNOWN);
    EXPECT_EQ(OCSP_BASICRESP_get_ext_count(parsed.basic.get()), 0);
}

struct single_extension_case {
    std::string name;
    bool expired;
    bool archive_cutoff_enabled;
    bool with_invalidity_date;
    bool expect_cutoff;
};

class single_extensions : public answer_test, public ::testing::WithParamInterface<single_extension_case> {};

TEST_P(single_extensions, appear_when_due) {
    const auto& c = GetParam();
    schema::cert_record row;
    row.serial = serial("0C");
    row.not_after = c.expired ? now - 24h : now + 24h;
    row.status = schema::cert_status::revoked;
    row.revocation_time = revoked_at;
    row.reason = revocation_reason::key_compromise;
    if (c.with_invalidity_date) row.invalidity_date = revoked_at - 24h;
    index.add(main_id, row);
    const auto set = one_issuer(ca_signer(main_ca()), [&](issuer_profile& p) { p.archive_cutoff = c.archive_cutoff_enabled; });
    const auto r = run(set, make_request_der({.certs = {{main_ca().cert.get(), "0C"}}}));
    ASSERT_EQ(r.meta.status, ocsp_status::successful) << r.meta.detail;
    const auto parsed = parse_response(r.der);
    ASSERT_EQ(verify_with_ca(parsed.basic.get(), main_ca().cert.get()), 1);
    OCSP_SINGLERESP* single = single_at(parsed.basic.get(), 0).raw;
    EXPECT_EQ(single_at(parsed.basic.get(), 0).status, V_OCSP_CERTSTATUS_REVOKED);  // expiry changes nothing

    const int cutoff = OCSP_SINGLERESP_get_ext_by_NID(single, NID_id_pkix_OCSP_archiveCutoff, -1);
    if (c.expect_cutoff) {
        ASSERT_GE(cutoff, 0);
        // The CA's notBefore (see answer.cpp for why).
        EXPECT_EQ(extension_value(OCSP_SINGLERESP_get_ext(single, cutoff)),
                  generalized_time_der(to_sys(X509_get0_notBefore(main_ca().cert.get()))));
    } else {
        EXPECT_LT(cutoff, 0);
    }
    const int invalidity = OCSP_SINGLERESP_get_ext_by_NID(single, NID_invalidity_date, -1);
    if (c.with_invalidity_date) {
        ASSERT_GE(invalidity, 0);
        EXPECT_EQ(extension_value(OCSP_SINGLERESP_get_ext(single, invalidity)), generalized_time_der(revoked_at - 24h));
    } else {
        EXPECT_LT(invalidity, 0);
    }
}

INSTANTIATE_TEST_SUITE_P(
    table, single_extensions,
    ::testing::Values(single_extension_case{"expired_with_archive_cutoff", true, true, false, true},
                      single_extension_case{"expired_without_archive_cutoff_setting", true, false, false, false},
                      single_extension_case{"valid_certificate_gets_no_cutoff", false, true, false, false},
                      single_extension_case{"invalidity_date", false, false, true, false},
                      single_extension_case{"invalidity_date_and_archive_cutoff", true, true, true, true}),
    [](const ::testing::TestParamInfo<single_extension_case>& p) { return p.param.name; });

TEST_F(answer_test, hold_and_unspecified_reasons_on_the_wire) {
    schema::cert_record hold;
    hold.serial = serial("0D");
    hold.status = schema::cert_status::hold;
    hold.revocation_time = revoked_at;
    hold.reason = revocation_reason::certificate_hold;
    index.add(main_id, hold);
    index.add_revoked(main_id, "0E", revoked_at, revocation_reason::unspecified);
    const auto set = one_issuer(ca_signer(main_ca()));
    const auto r = run(set, make_request_der({.certs = {{main_ca().cert.get(), "0D"}, {main_ca().cert.get(), "0E"}}}));
    const auto parsed = parse_response(r.der);
    const auto h = single_at(parsed.basic.get(), 0);
    EXPECT_EQ(h.status, V_OCSP_CERTSTATUS_REVOKED);
    EXPECT_EQ(h.reason, OCSP_REVOKED_STATUS_CERTIFICATEHOLD);
    const auto u = single_at(parsed.basic.get(), 1);
    EXPECT_EQ(u.status, V_OCSP_CERTSTATUS_REVOKED);
    EXPECT_EQ(u.reason, OCSP_REVOKED_STATUS_NOSTATUS);  // revocationReason left out
}

// --- signer identity in the response ---
TEST_F(answer_test, delegated_signer_certificate_travels_with_the_response) {
    const auto& d = delegate_of(key_type::ec_p256);
    const auto r = run(one_issuer(delegated_signer(main_ca(), d)), make_request_der({.certs = {{main_ca().cert.get(), "01"}}}));
    const auto parsed = parse_response(r.der);
    const STACK_OF(X509)* certs = OCSP_resp_get0_certs(parsed.basic.get());
    ASSERT_EQ(sk_X509_num(certs), 1);
    EXPECT_EQ(X509_cmp(sk_X509_value(certs, 0), d.cert.get()), 0);
    EXPECT_EQ(verify_with_ca(parsed.basic.get(), main_ca().cert.get()), 1);
}

TEST_F(answer_test, ca_signed_response_carries_no_certificates) {
    const auto r = run(one_issuer(ca_signer(main_ca())), make_request_der({.certs = {{main_ca().cert.get(), "01"}}}));
    const auto parsed = parse_response(r.der);
    EXPECT_EQ(certificate_count(parsed.basic.get()), 0);
    EXPECT_EQ(verify_with_ca(parsed.basic.get(), main_ca().cert.get()), 1);
}

TEST_F(answer_test, delegated_certificate_left_out_on_request) {
    const auto& d = delegate_of(key_type::ec_p256);
    const auto set = one_issuer(delegated_signer(main_ca(), d), [](issuer_profile& p) { p.include_signer_cert = false; });
    const auto r = run(set, make_request_der({.certs = {{main_ca().cert.get(), "01"}}}));
    const auto parsed = parse_response(r.der);
    EXPECT_EQ(certificate_count(parsed.basic.get()), 0);
    // Without the certificate the client cannot find the signer, with it out of band it can.
    EXPECT_LE(verify_with_ca(parsed.basic.get(), main_ca().cert.get()), 0);
    ERR_clear_error();
    ossl::x509_stack_ptr extra{sk_X509_new_null()};
    sk_X509_push(extra.get(), copy_cert(d.cert.get()).release());
    EXPECT_EQ(verify_with_ca(parsed.basic.get(), main_ca().cert.get(), extra.get()), 1);
}

class responder_ids : public answer_test, public ::testing::WithParamInterface<responder_id_form> {};

TEST_P(responder_ids, name_the_signer) {
    const auto& d = delegate_of(key_type::ec_p384);
    const auto r = run(one_issuer(delegated_signer(main_ca(), d, GetParam())),
                       make_request_der({.certs = {{main_ca().cert.get(), "01"}}}));
    const auto parsed = parse_response(r.der);
    const ASN1_OCTET_STRING* key_hash = nullptr;
    const X509_NAME* name = nullptr;
    ASSERT_EQ(OCSP_resp_get0_id(parsed.basic.get(), &key_hash, &name), 1);
    if (GetParam() == responder_id_form::by_key_hash) {
        ASSERT_NE(key_hash, nullptr);
        EXPECT_EQ(name, nullptr);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        ASSERT_EQ(X509_pubkey_digest(d.cert.get(), EVP_sha1(), md, &len), 1);
        EXPECT_EQ(bytes(ASN1_STRING_get0_data(key_hash), ASN1_STRING_get0_data(key_hash) + ASN1_STRING_length(key_hash)),
                  bytes(md, md + len));
    } else {
        ASSERT_NE(name, nullptr);
        EXPECT_EQ(key_hash, nullptr);
        EXPECT_EQ(X509_NAME_cmp(name, X509_get_subject_name(d.cert.get())), 0);
    }
    EXPECT_EQ(verify_with_ca(parsed.basic.get(), main_ca().cert.get()), 1);
}

INSTANTIATE_TEST_SUITE_P(forms, responder_ids,
                         ::testing::Values(responder_id_form::by_key_hash, responder_id_form::by_name),
                         [](const ::testing::TestParamInfo<responder_id_form>& p) {
                             return p.param == responder_id_form::by_key_hash ? "by_key_hash" : "by_name";
                         });

// --- times ---
TEST_F(answer_test, validity_counts_from_now_and_backdate_only_moves_this_update) {
    const auto set = one_issuer(ca_signer(main_ca()), [](issuer_profile& p) {
        p.validity = 6h;
        p.backdate = 15min;
    });
    const auto r = run(set, make_request_der({.certs = {{main_ca().cert.get(), "01"}}}));
    EXPECT_EQ(r.meta.this_update, now - 15min);
    EXPECT_EQ(r.meta.next_update, now + 6h);
    const auto s = single_at(parse_response(r.der).basic.get(), 0);
    EXPECT_EQ(s.this_update, now - 15min);
    EXPECT_EQ(s.next_update, now + 6h);
}

TEST_F(answer_test, next_update_never_outlives_the_signer_certificate) {
    static const issued short_lived = ocspkit::test::make_ocsp_signer(
        main_ca(), "short-lived signer", key_type::ec_p256, {.not_after = reference_time + 2h});
    const auto r = run(one_issuer(delegated_signer(main_ca(), short_lived)),
                       make_request_der({.certs = {{main_ca().cert.get(), "01"}}}));
    EXPECT_EQ(r.meta.next_update, now + 2h);
    EXPECT_EQ(single_at(parse_response(r.der).basic.get(), 0).next_update, now + 2h);
}

// --- failures that are not the client's ---
TEST_F(answer_test, index_failures_map_to_internal_error_or_try_later) {
    const auto set = one_issuer(ca_signer(main_ca()));
    const auto decoded = decode_request(make_request_der({.certs = {{main_ca().cert.get(), "01"}}}));
    const cert_lookup busy = [](std::int64_t, const serial_number&) -> std::optional<schema::cert_record> {
        throw sqlite::sqlite_error("database is locked", SQLITE_BUSY);
    };
    const cert_lookup broken = [](std::int64_t, const serial_number&) -> std::optional<schema::cert_record> {
        throw std::runtime_error("disk on fire");
    };
    const cert_lookup unreachable = [](std::int64_t, const serial_number&) -> std::optional<schema::cert_record> {
        throw schema::index_unavailable("PostgreSQL at host=db1: server closed the connection unexpectedly");
    };
    const auto u = answer(decoded, set, unreachable, now);
    EXPECT_EQ(u.meta.status, ocsp_status::try_later);
    EXPECT_EQ(parse_response(u.der).status, OCSP_RESPONSE_STATUS_TRYLATER);
    const auto a = answer(decoded, set, busy, now);
    EXPECT_EQ(a.meta.status, ocsp_status::try_later);
    EXPECT_EQ(parse_response(a.der).status, OCSP_RESPONSE_STATUS_TRYLATER);
    const auto b = answer(decoded, set, broken, now);
    EXPECT_EQ(b.meta.status, ocsp_status::internal_error);
    EXPECT_NE(b.meta.detail.find("disk on fire"), std::string::npos);
}

TEST(sign_response, refuses_mismatched_inputs) {
    const auto p = make_profile(main_ca(), ca_signer(main_ca()));
    const std::vector<requested_cert> ids(2, requested_cert{.alg = hash_alg::sha1,
                                                            .issuer_name_hash = p.hashes[hash_alg::sha1].name_hash,
                                                            .issuer_key_hash = p.hashes[hash_alg::sha1].key_hash,
                                                            .serial = serial("01")});
    const std::vector<single_status> statuses(1);
    EXPECT_THROW((void)sign_response(p, ids, statuses, std::nullopt, now), std::invalid_argument);
    EXPECT_THROW((void)sign_response(p, {}, {}, std::nullopt, now), std::invalid_argument);
}

TEST(sign_response, presigned_answer_for_built_cert_ids) {
    // The pre-signing path: CertIDs made from the issuer's hashes, no request involved.
    const auto p = make_profile(main_ca(), ca_signer(main_ca()));
    const std::vector<requested_cert> ids{{.alg = hash_alg::sha256,
                                           .issuer_name_hash = p.hashes[hash_alg::sha256].name_hash,
                                           .issuer_key_hash = p.hashes[hash_alg::sha256].key_hash,
                                           .serial = serial("4242")}};
    single_status good;
    good.state = cert_state::good;
    sys_seconds this_update{}, next_update{};
    const bytes nonce = filled(8);
    const bytes der = sign_response(p, ids, std::vector<single_status>{good}, nonce, now, &this_update, &next_update);
    EXPECT_EQ(this_update, now - 1h);
    EXPECT_EQ(next_update, now + 24h);
    const auto parsed = parse_response(der);
    ASSERT_EQ(verify_with_ca(parsed.basic.get(), main_ca().cert.get()), 1);
    EXPECT_EQ(find_status(parsed.basic.get(), main_ca().cert.get(), "4242", hash_alg::sha256), V_OCSP_CERTSTATUS_GOOD);
    const int at = OCSP_BASICRESP_get_ext_by_NID(parsed.basic.get(), NID_id_pkix_OCSP_Nonce, -1);
    ASSERT_GE(at, 0);
    EXPECT_EQ(extension_value(OCSP_BASICRESP_get_ext(parsed.basic.get(), at)), tlv(0x04, nonce));  // RFC 9654 form
}

TEST(sign_response, tampering_breaks_the_signature) {
    // Guards the verification helpers: a flipped octet in ResponseData must fail.
    const auto p = make_profile(main_ca(), ca_signer(main_ca()));
    const std::vector<requested_cert> ids{{.alg = hash_alg::sha1,
                                           .issuer_name_hash = p.hashes[hash_alg::sha1].name_hash,
                                           .issuer_key_hash = p.hashes[hash_alg::sha1].key_hash,
                                           .serial = serial("99")}};
    bytes der = sign_response(p, ids, std::vector<single_status>(1), std::nullopt, now);
    ASSERT_EQ(verify_with_ca(parse_response(der).basic.get(), main_ca().cert.get()), 1);
    // The serial inside the CertID: INTEGER 0x0099 (a 0x00 keeps it positive).
    const bytes serial_tlv{0x02, 0x02, 0x00, 0x99};
    const auto at = std::search(der.begin(), der.end(), serial_tlv.begin(), serial_tlv.end());
    ASSERT_NE(at, der.end());
    *(at + 3) = 0x98;
    EXPECT_LE(verify_with_ca(parse_response(der).basic.get(), main_ca().cert.get()), 0);
    ERR_clear_error();
}

}  // namespace
}  // namespace ocspkit::responder
