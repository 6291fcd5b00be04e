#include "tests/fuzz/fuzz_support.hpp"

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "common/ossl_ptr.hpp"
#include "responder/answer.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::fuzz {

namespace {

struct identity {
    test::issued ca = test::make_ca("Fuzz CA", test::key_type::ec_p256);
    std::shared_ptr<const responder::signer> signer =
        responder::signer::from_parts(ossl::up_ref(ca.cert.get()), ossl::up_ref(ca.key.get()),
                                      ossl::up_ref(ca.cert.get()), responder::responder_id_form::by_key_hash,
                                      responder::rsa_padding::pkcs1);
};
const identity& fuzz_identity() {
    static const identity id;
    return id;
}

bytes der_of_basic(OCSP_BASICRESP* basic) {
    unsigned char* out = nullptr;
    const int len = i2d_OCSP_BASICRESP(basic, &out);
    OCSPKIT_FUZZ_CHECK(len > 0);
    bytes der(out, out + len);
    OPENSSL_free(out);
    return der;
}

}  // namespace

void check_decoded_and_answer(const protocol::decode_result& decoded, const protocol::request_limits& limits) {
    if (!decoded) {
        OCSPKIT_FUZZ_CHECK(decoded.code() == errc::malformed || decoded.code() == errc::out_of_range);
        OCSPKIT_FUZZ_CHECK(!decoded.failure().message.empty());
        return;
    }
    const auto& req = decoded.value();
    OCSPKIT_FUZZ_CHECK(!req.certs.empty() && req.certs.size() <= limits.max_cert_ids);
    for (const auto& c : req.certs) {
        OCSPKIT_FUZZ_CHECK(c.issuer_name_hash.size() == hash_size(c.alg));
        OCSPKIT_FUZZ_CHECK(c.issuer_key_hash.size() == hash_size(c.alg));
        OCSPKIT_FUZZ_CHECK(c.serial.bytes().size() <= serial_number::max_octets);
    }
    OCSPKIT_FUZZ_CHECK(req.nonce_out_of_range() == (req.nonce && (req.nonce->empty() || req.nonce->size() > 128)));

    const auto& id = fuzz_identity();
    responder::issuer_profile profile;
    profile.issuer_id = 1;
    profile.signing = id.signer;
    profile.unknown_serials = req.certs.size() % 2 == 0 ? responder::unknown_serial_policy::revoked
                                                        : responder::unknown_serial_policy::unknown;
    profile.archive_cutoff = true;
    // Serve exactly the first CertID's issuer, under its algorithm.
    auto& slot = profile.hashes.by_alg[static_cast<std::size_t>(req.certs.front().alg)];
    slot.name_hash = req.certs.front().issuer_name_hash;
    slot.key_hash = req.certs.front().issuer_key_hash;
    std::vector<responder::issuer_profile> profiles;
    profiles.push_back(std::move(profile));
    const responder::issuer_set set(std::move(profiles));

    // Rows derived from the serial so that good, revoked, hold, expired and missing all occur.
    const responder::cert_lookup lookup = [](std::int64_t, const serial_number& s) -> std::optional<schema::cert_record> {
        const auto last = s.bytes().back();
        if (last % 5 == 0) return std::nullopt;
        schema::cert_record row;
        row.serial = s;
        row.status = static_cast<schema::cert_status>(last % 3);
        row.not_after = test::reference_time + std::chrono::hours{last % 2 == 0 ? 1 : -1};
        if (row.status != schema::cert_status::good) {
            row.revocation_time = test::reference_time - std::chrono::hours{last};
            row.reason = static_cast<schema::revocation_reason>(last % 11 == 7 ? 0 : last % 11);
            if (last % 4 == 0) row.invalidity_date = test::reference_time - std::chrono::hours{2 * last};
        }
        return row;
    };

    const auto result = responder::answer(decoded, set, lookup, test::reference_time);
    const unsigned char* p = result.der.data();
    ossl::ocsp_response_ptr resp{d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(result.der.size()))};
    OCSPKIT_FUZZ_CHECK(resp != nullptr);
    OCSPKIT_FUZZ_CHECK(p == result.der.data() + result.der.size());
    OCSPKIT_FUZZ_CHECK(OCSP_response_status(resp.get()) == static_cast<int>(result.meta.status));
    if (result.meta.status != responder::ocsp_status::successful) {
        ERR_clear_error();
        return;
    }
    ossl::ocsp_basicresp_ptr basic{OCSP_response_get1_basic(resp.get())};
    OCSPKIT_FUZZ_CHECK(basic != nullptr);
    OCSPKIT_FUZZ_CHECK(static_cast<std::size_t>(OCSP_resp_count(basic.get())) == req.certs.size());
    OCSPKIT_FUZZ_CHECK(result.meta.cert_states.size() == req.certs.size());
    // DER: OpenSSL re-encodes what it parsed to the very same octets.
    const bytes basic_der = der_of_basic(basic.get());
    OCSPKIT_FUZZ_CHECK(std::search(result.der.begin(), result.der.end(), basic_der.begin(), basic_der.end()) !=
                       result.der.end());
    // The signature verifies with the CA key (the chain is not the point here).
    ossl::x509_stack_ptr certs{sk_X509_new_null()};
    OCSPKIT_FUZZ_CHECK(certs != nullptr);
    sk_X509_push(certs.get(), ossl::up_ref(id.ca.cert.get()).release());
    ossl::x509_store_ptr store{X509_STORE_new()};
    OCSPKIT_FUZZ_CHECK(OCSP_basic_verify(basic.get(), certs.get(), store.get(), OCSP_NOVERIFY) == 1);
    ERR_clear_error();
}

}  // namespace ocspkit::fuzz
