#pragma once
// The rule between the index and a re-imported index.txt (docs/ocspctl.md "One source of truth"). Pure:
// two rows and a flag in, a decision out.
//
// The index is the source of truth for revocations: a file that says less than the index (good where
// the index has a revocation or hold, or a different revocation) is stale, not an instruction. So:
//   - the file's status is taken when it adds a revocation or hold to a good row, or turns a hold into a
//     permanent revocation, or when both say the same;
//   - otherwise it is a conflict and the index's status is kept, unless --force: then a hold may be
//     lifted or replaced, and one revocation replaced by another;
//   - a permanent revocation (any reason but certificateHold) is never replaced by good or hold, not even
//     with --force (RFC 5280 §5.3.1: only certificateHold is temporary);
//   - a hold in the file on a row whose hold was lifted in the index at or after the file's hold time
//     (ocspctl unrevoke) is a conflict too: the file has not caught up with the lift.
// Fields other than the status (notAfter, subject) are taken from the file in every case.
#include <optional>
#include <string>

#include "schema/cert_index.hpp"

namespace ocspkit::schema {

enum class import_resolution { take_file, keep_index };

struct import_decision {
    import_resolution resolution = import_resolution::take_file;
    // Set for every conflict, whether kept or (under force) taken.
    std::optional<std::string> conflict;
};

// `hold_lifted_at`: when a hold on this row was last lifted in the index (audit), if ever.
import_decision decide_import(const cert_record& index_row, const cert_record& file_row, bool force,
                              std::optional<sys_seconds> hold_lifted_at);

// "revoked (keyCompromise since 2026-...)", "on hold (since ...)", "good".
std::string describe_status(const cert_record& rec);

// True when both rows say the same about revocation (status, time, reason, invalidity date, instruction).
bool same_revocation(const cert_record& a, const cert_record& b);

}  // namespace ocspkit::schema
