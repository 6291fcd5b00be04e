#pragma once
// What importing a CA's CRL changes in the index (`ocspctl import-crl`): pure, the parsed CRL, what the
// index holds for the issuer and `now` in, the rows to write and the warnings out. crl_import.hpp reads
// the index and writes the plan in one transaction.
//
// The rules (docs/ocspctl.md, "Importing a CA's CRLs"):
//   - Order. CRL numbers of one CA only grow (RFC 5280 §5.2.3; full and delta CRLs share the sequence).
//     A CRL numbered below the last one imported, or with an older thisUpdate, is refused: replaying
//     it would lift holds the CA placed later. The last CRL again (same number, same thisUpdate) is
//     "already imported" and changes nothing, so a timer may re-import an unchanged file. Another CRL
//     with the same number is refused.
//   - A delta CRL (deltaCRLIndicator, §5.2.4) applies on top of a full CRL numbered at or above its
//     base: refused until such a full CRL was imported.
//   - Each listed serial becomes revoked (or on hold) with the CRL's revocation date, reason, invalidity
//     date and hold instruction; a serial the index does not know is added without a certificate.
//   - A permanent revocation (any reason but certificateHold) is never lifted and never turned into a
//     hold: a CRL that lists it as held, leaves it off (a full CRL, before the certificate expired) or
//     removes it (removeFromCRL) leaves it as it is, with a warning: the CA contradicts itself. Between
//     two permanent revocations the CRL's is taken when the CRL was issued after the index's revocation.
//   - A hold is lifted (the row becomes good) when a full CRL issued after the hold leaves the serial
//     off, or a delta CRL lists it as removeFromCRL (§5.3.1). A hold placed after the CRL's thisUpdate
//     stays: the CRL had not seen it.
//   - A hold listed by the CRL on a row whose hold was lifted in the index at or after the CRL's
//     thisUpdate stays lifted, with a warning: the CRL has not caught up with the lift.
// Serials the CRL never listed are not added: they answer as the issuer's `unknown_serials` says,
// unless their certificates were imported (they are good then).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "crl/crl_reader.hpp"
#include "schema/index_types.hpp"

namespace ocspkit::crl {

// What the plan reads of the index, for the one issuer.
struct index_view {
    std::optional<schema::crl_import_state> last;   // the last CRL imported, if any
    std::vector<schema::cert_record> revoked_rows;  // the issuer's revoked and held rows
    // The issuer's row for a serial, any status.
    std::function<std::optional<schema::cert_record>(const serial_number&)> find;
    // When a hold on the serial was last lifted in the index, if ever.
    std::function<std::optional<sys_seconds>(const serial_number&)> hold_lifted_at;
};

struct crl_import_counts {
    std::size_t added = 0;      // serials new to the index, added revoked or on hold
    std::size_t revoked = 0;    // known serials newly revoked or put on hold, or whose revocation changed
    std::size_t lifted = 0;     // holds lifted
    std::size_t unchanged = 0;  // listed serials the index already had exactly so
    std::size_t kept = 0;       // the index's status kept against the CRL (each with a warning)
};

struct crl_import_plan {
    bool already_imported = false;          // the last CRL again: nothing to do
    std::vector<schema::cert_record> rows;  // to merge, in the CRL's order, then the lifted holds
    std::vector<std::string> warnings;
    crl_import_counts counts;
    schema::crl_import_state next_state;    // to store with the rows
};

// errc::conflict (with the numbers in the message) when the CRL is older than, or contradicts, the last
// one imported, or is a delta CRL without its base.
result<crl_import_plan> plan_crl_import(const crl_contents& crl, std::int64_t issuer_id, const index_view& index,
                                        sys_seconds now);

}  // namespace ocspkit::crl
