// libFuzzer target: the stapler's validation of a fetched response (stapler/validate.hpp), against a
// leaf, its issuer and a delegated responder made once at start-up.
//
// The first octet picks how the response is made:
//   0: the rest of the input is the response DER, as a responder would send it;
//   1: the input chooses the fields of a response that is then signed (OCSP_basic_sign) by the issuer,
//      the delegated responder or an impostor: status, times, CertID hash, nonce, extensions;
//   2: as 1, then fuzz-chosen octets of the signed DER are overwritten.
// Invariants: a usable verdict is the input's bytes, within max_size, with nextUpdate after now,
// thisUpdate not later than now + max_skew and revocation details iff revoked; in mode 1 a response that
// breaks no rule (right signer, right CertID, times in range, nextUpdate not before thisUpdate, nonce as
// expected, no critical unknown extension) is usable with exactly the status and times it was signed with,
// and one that breaks a rule is rejected.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>

#include "stapler/validate.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/unit/stapler/ocsp_fixtures.hpp"

namespace {

using namespace std::chrono_literals;
using ocspkit::fuzz::fuzz_input;
using ocspkit::stapler::cert_status;
using ocspkit::stapler::validation_options;
using ocspkit::test::reference_time;
using bytes = std::vector<std::uint8_t>;
using sys_seconds = std::chrono::sys_seconds;

struct stapler_pki {
    ocspkit::test::issued ca = ocspkit::test::make_ca("Fuzz Stapler CA");
    ocspkit::test::issued leaf = ocspkit::test::make_cert(ca, "leaf.fuzz.example", ocspkit::test::key_type::ec_p256,
                                                          {.serial_hex = "1001"});
    ocspkit::test::issued other_leaf = ocspkit::test::make_cert(ca, "other.fuzz.example",
                                                                ocspkit::test::key_type::ec_p256, {.serial_hex = "1002"});
    ocspkit::test::issued responder = ocspkit::test::make_ocsp_signer(ca, "Fuzz OCSP responder");
    // Has the issuer's name but its own key: a forgery "by the issuer".
    ocspkit::test::issued impostor = ocspkit::test::make_ca("Fuzz Stapler CA");
};
const stapler_pki& pki() {
    static const stapler_pki p;
    return p;
}

constexpr sys_seconds now = reference_time;

validation_options options_from(fuzz_input& in) {
    validation_options o;
    if (in.boolean()) o.max_size = 64 + in.in_range(0, 8192);
    o.max_skew = std::chrono::seconds{in.in_range(0, 3600)};
    if (in.boolean()) {
        const auto n = in.take(in.in_range(1, 40));
        o.expected_nonce = bytes(n.begin(), n.end());
        if (o.expected_nonce->empty()) o.expected_nonce->push_back(0);  // the input ran out
    }
    return o;
}

void check_verdict(const ocspkit::stapler::verdict& v, std::span<const std::uint8_t> der,
                   const validation_options& o) {
    if (!v.has_value()) return;
    const auto& r = v.value();
    OCSPKIT_FUZZ_CHECK(r.der.size() == der.size() && std::equal(r.der.begin(), r.der.end(), der.begin()));
    OCSPKIT_FUZZ_CHECK(r.der.size() <= o.max_size);
    OCSPKIT_FUZZ_CHECK(r.next_update > now);
    OCSPKIT_FUZZ_CHECK(r.this_update <= now + o.max_skew);
    OCSPKIT_FUZZ_CHECK(r.revocation.has_value() == (r.status == cert_status::revoked));
}

// A time around `now`, in minutes: mostly near it, so that both sides of every bound are reached.
sys_seconds time_near_now(fuzz_input& in) {
    const auto minutes = static_cast<std::int64_t>(in.in_range(0, 4 * 24 * 60)) - 2 * 24 * 60;
    return now + std::chrono::minutes{minutes};
}

enum class signed_by : std::uint8_t { issuer, delegated, impostor, leaf };

struct made_response {
    bytes der;
    bool breaks_no_rule = false;
    ocspkit::stapler::test::single_spec single;
};

std::optional<made_response> signed_response(fuzz_input& in, const validation_options& o) {
    namespace t = ocspkit::stapler::test;
    const auto& p = pki();
    made_response made;
    t::single_spec& s = made.single;
    s.leaf = p.leaf.cert.get();
    s.issuer = p.ca.cert.get();
    const bool wrong_cert = in.byte() % 8 == 0;
    if (wrong_cert) s.leaf = p.other_leaf.cert.get();
    static const EVP_MD* const mds[] = {EVP_sha1(), EVP_sha256(), EVP_sha384(), EVP_sha512(), EVP_md5()};
    const std::size_t md = in.byte() % 5;
    s.certid_md = mds[md];
    s.status = static_cast<cert_status>(in.byte() % 3);
    s.this_update = time_near_now(in);
    if (in.byte() % 8 == 0) s.next_update.reset();
    else s.next_update = time_near_now(in);
    s.revoked_at = time_near_now(in) - std::chrono::hours{24};
    s.revocation_reason = static_cast<int>(in.in_range(0, 11)) - 1;  // -1: none; 7 is unused in RFC 5280
    bool critical_unknown = false;
    for (std::size_t i = in.byte() % 3; i > 0; --i) {
        const bool critical = in.boolean();
        critical_unknown = critical_unknown || critical;
        s.extensions.push_back({.oid = "1.3.6.1.4.1.99999.1", .critical = critical});
    }

    t::response_spec r;
    const auto who = static_cast<signed_by>(in.byte() % 4);
    const ocspkit::test::issued& signer = who == signed_by::issuer      ? p.ca
                                          : who == signed_by::delegated ? p.responder
                                          : who == signed_by::impostor  ? p.impostor
                                                                        : p.leaf;
    r.signer = signer.cert.get();
    r.key = signer.key.get();
    r.include_signer = who == signed_by::delegated || in.boolean();
    r.responder_id_by_key = in.boolean();
    if (in.boolean()) {
        const auto n = in.take(in.in_range(1, 40));
        r.nonce = bytes(n.begin(), n.end());
        // OCSP_basic_add1_nonce() makes up 16 octets of its own for an empty nonce.
        if (r.nonce->empty()) r.nonce->push_back(0);
    }
    const bool other_single_first = in.boolean();
    if (other_single_first) {
        t::single_spec other = s;
        other.leaf = p.other_leaf.cert.get();
        other.extensions.clear();
        r.singles.push_back(other);
    }
    r.singles.push_back(s);
    try {
        made.der = t::make_response(r);
    } catch (const std::exception&) {
        ERR_clear_error();
        return std::nullopt;
    }
    const bool nonce_ok = !o.expected_nonce || (r.nonce && *r.nonce == *o.expected_nonce);
    made.breaks_no_rule = !wrong_cert && md < 4 && (who == signed_by::issuer || who == signed_by::delegated) &&
                          s.this_update <= now + o.max_skew && s.next_update && *s.next_update > now &&
                          *s.next_update >= s.this_update && nonce_ok &&
                          !critical_unknown && made.der.size() <= o.max_size;
    return made;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto& p = pki();
    fuzz_input in(data, size);
    const int mode = in.byte() % 3;
    const validation_options o = options_from(in);
    if (mode == 0) {
        const auto der = in.rest();
        check_verdict(ocspkit::stapler::validate_response(p.leaf.cert.get(), p.ca.cert.get(), der, now, o), der, o);
        ERR_clear_error();
        return 0;
    }
    auto made = signed_response(in, o);
    if (!made) return 0;
    if (mode == 2) {
        for (std::size_t edits = in.byte() % 8 + 1; edits > 0 && !made->der.empty(); --edits) {
            const std::size_t at = in.integer(2) % made->der.size();
            made->der[at] = in.byte();
        }
    }
    const auto v = ocspkit::stapler::validate_response(p.leaf.cert.get(), p.ca.cert.get(), made->der, now, o);
    ERR_clear_error();
    check_verdict(v, made->der, o);
    if (mode == 1) {
        if (v.has_value() != made->breaks_no_rule && !v.has_value())
            std::fprintf(stderr, "rejected: %s (%s)\n", std::string(to_string(reject_reason_of(v))).c_str(),
                         v.failure().message.c_str());
        OCSPKIT_FUZZ_CHECK(v.has_value() == made->breaks_no_rule);
        if (v.has_value()) {
            const auto& r = v.value();
            const auto& s = made->single;
            OCSPKIT_FUZZ_CHECK(r.status == s.status);
            OCSPKIT_FUZZ_CHECK(r.this_update == s.this_update && r.next_update == *s.next_update);
            if (s.status == cert_status::revoked) {
                OCSPKIT_FUZZ_CHECK(r.revocation->time == s.revoked_at);
                OCSPKIT_FUZZ_CHECK(r.revocation->reason.value_or(-1) == s.revocation_reason);
            }
        }
    }
    return 0;
}
