// libFuzzer target: a CA's CRL as `ocspctl import-crl` reads it (crl/crl_reader.hpp), and what it would
// change in the index (crl/crl_import_plan.hpp). Input: 4 choice octets, then the CRL (DER or PEM).
//   choice 0: the last import the index remembers: none; the CRL's number - 1 (full); the CRL itself
//             (already imported); the CRL's number + 1 (the CRL is older); a full CRL below its base
//   choice 1: seeds what the index holds for each listed serial (absent, good, held, revoked; before or
//             after the CRL's thisUpdate) and whether a hold was lifted since
//   choice 2: how many extra revoked or held rows the index has that the CRL does not list
//   choice 3: `now`, in days after thisUpdate
// Invariants: a parsed CRL is as parse_crl promises (numbers of at most 20 octets, a delta's base below
// its number, nextUpdate not before thisUpdate, no serial twice); the signature check against an unrelated
// CA refuses it; a plan never lifts or holds a permanent revocation, lifts only holds, writes nothing for
// a CRL already imported, refuses a CRL older than the last import, and moves the number to the CRL's.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "crl/crl_import_plan.hpp"
#include "crl/crl_reader.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "tests/support/test_pki.hpp"

namespace {

using namespace ocspkit;
using schema::cert_record;
using schema::cert_status;
using schema::revocation_reason;
using sys_seconds = std::chrono::sys_seconds;

serial_number plus(const serial_number& n, int delta) {
    std::vector<std::uint8_t> b = n.bytes();
    if (delta > 0) {
        std::size_t i = b.size();
        while (i > 0 && b[i - 1] == 0xff) b[--i] = 0;
        if (i == 0) {
            if (b.size() >= serial_number::max_octets) return n;  // saturate at the largest number
            b.insert(b.begin(), 1);
        } else {
            ++b[i - 1];
        }
    } else {
        bool zero = true;
        for (auto o : b) zero = zero && o == 0;
        if (zero) return n;
        std::size_t i = b.size();
        while (b[i - 1] == 0) b[--i] = 0xff;
        --b[i - 1];
    }
    return *serial_number::from_bytes(b);
}

cert_record row(const serial_number& serial, cert_status status, sys_seconds when, unsigned pick) {
    cert_record r;
    r.issuer_id = 1;
    r.serial = serial;
    r.status = status;
    if (status != cert_status::good) {
        r.revocation_time = when;
        r.reason = status == cert_status::hold ? revocation_reason::certificate_hold
                                               : ((pick & 1) ? revocation_reason::key_compromise
                                                             : revocation_reason::superseded);
    }
    if (pick & 2) r.not_after = when - std::chrono::hours{24 * 400};  // expired long ago
    return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::fuzz_input in(data, size);
    const unsigned last_mode = in.byte() % 5;
    unsigned generator = in.byte();
    const unsigned extra_rows = in.byte() % 8;
    const auto now_days = std::chrono::hours{24 * in.byte()};
    const auto bytes = in.rest();

    auto parsed = crl::parse_crl(bytes);
    if (!parsed) {
        OCSPKIT_FUZZ_CHECK(!parsed.error_message().empty());
        return 0;
    }
    const crl::crl_contents& crl = *parsed;
    OCSPKIT_FUZZ_CHECK(crl.number.bytes().size() <= serial_number::max_octets);
    OCSPKIT_FUZZ_CHECK(!crl.der.empty());
    if (crl.delta_base) OCSPKIT_FUZZ_CHECK(crl::number_less(*crl.delta_base, crl.number));
    if (crl.next_update) OCSPKIT_FUZZ_CHECK(*crl.next_update >= crl.this_update);
    {
        std::map<std::vector<std::uint8_t>, int> seen;
        for (const auto& e : crl.entries) OCSPKIT_FUZZ_CHECK(++seen[e.serial.bytes()] == 1);
    }

    static const auto unrelated_ca = test::make_ca("Fuzz unrelated CA");
    OCSPKIT_FUZZ_CHECK(!crl::check_crl_signed_by(crl, unrelated_ca.cert.get()).has_value());

    // The index, as choice 1 and 2 make it.
    const auto next = [&] {
        generator = generator * 1103515245u + 12345u;
        return (generator >> 16) & 0xffu;
    };
    std::map<std::vector<std::uint8_t>, cert_record> rows;
    std::map<std::vector<std::uint8_t>, sys_seconds> lifts;
    const auto before = crl.this_update - std::chrono::hours{1};
    const auto after = crl.this_update + std::chrono::hours{1};
    for (const auto& e : crl.entries) {
        const unsigned pick = next();
        const auto when = (pick & 4) ? after : before;
        switch (pick % 4) {
        case 0: break;
        case 1: rows.emplace(e.serial.bytes(), row(e.serial, cert_status::good, when, pick)); break;
        case 2: rows.emplace(e.serial.bytes(), row(e.serial, cert_status::hold, when, pick)); break;
        case 3: rows.emplace(e.serial.bytes(), row(e.serial, cert_status::revoked, when, pick)); break;
        }
        if (pick & 8) lifts.emplace(e.serial.bytes(), (pick & 16) ? after : before);
    }
    auto extra_serial = *serial_number::from_hex("7F00");
    for (unsigned i = 0; i < extra_rows; ++i) {
        extra_serial = plus(extra_serial, 1);
        const unsigned pick = next();
        rows.emplace(extra_serial.bytes(), row(extra_serial, (pick & 1) ? cert_status::hold : cert_status::revoked,
                                               (pick & 4) ? after : before, pick));
    }

    crl::index_view view;
    schema::crl_import_state last;
    last.this_update = crl.this_update;
    switch (last_mode) {
    case 0: break;
    case 1:
        last.last_number = last.last_full_number = plus(crl.number, -1);
        last.this_update = before;
        view.last = last;
        break;
    case 2:
        last.last_number = crl.number;
        last.last_full_number = crl.delta_base ? *crl.delta_base : crl.number;
        view.last = last;
        break;
    case 3:
        last.last_number = last.last_full_number = plus(crl.number, 1);
        view.last = last;
        break;
    case 4:
        last.last_number = plus(crl.number, -1);
        last.last_full_number = crl.delta_base ? plus(*crl.delta_base, -1) : plus(crl.number, -1);
        last.this_update = before;
        view.last = last;
        break;
    }
    for (const auto& [key, r] : rows)
        if (r.status != cert_status::good) view.revoked_rows.push_back(r);
    view.find = [&](const serial_number& s) -> std::optional<cert_record> {
        const auto it = rows.find(s.bytes());
        if (it == rows.end()) return std::nullopt;
        return it->second;
    };
    view.hold_lifted_at = [&](const serial_number& s) -> std::optional<sys_seconds> {
        const auto it = lifts.find(s.bytes());
        if (it == lifts.end()) return std::nullopt;
        return it->second;
    };

    const auto plan = crl::plan_crl_import(crl, 1, view, crl.this_update + now_days);
    if (!plan) {
        OCSPKIT_FUZZ_CHECK(!plan.error_message().empty());
        return 0;
    }
    if (view.last) OCSPKIT_FUZZ_CHECK(!crl::number_less(crl.number, view.last->last_number));
    if (crl.is_delta()) OCSPKIT_FUZZ_CHECK(view.last && !crl::number_less(view.last->last_full_number, *crl.delta_base));
    if (plan->already_imported) {
        OCSPKIT_FUZZ_CHECK(plan->rows.empty());
        OCSPKIT_FUZZ_CHECK(view.last && view.last->last_number == crl.number);
        return 0;
    }
    OCSPKIT_FUZZ_CHECK(plan->next_state.last_number == crl.number);
    for (const auto& r : plan->rows) {
        OCSPKIT_FUZZ_CHECK(ocspkit::schema::check_consistency(r).has_value());
        const auto existing = view.find(r.serial);
        if (existing && existing->status == cert_status::revoked) OCSPKIT_FUZZ_CHECK(r.status == cert_status::revoked);
        if (r.status == cert_status::good) OCSPKIT_FUZZ_CHECK(existing && existing->status == cert_status::hold);
    }
    return 0;
}
