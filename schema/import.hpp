#pragma once
// Bulk operations between files and the index: importing an `openssl ca` index.txt, importing issued
// certificates, exporting index.txt. Each import is one write_batch: it commits completely or not at all.
// Unreadable input throws load_error naming the file; everything wrong with the content is reported as
// "FILE:LINE: reason" (or "FILE: reason") in the report, never skipped silently.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "schema/cert_index.hpp"
#include "schema/index_store.hpp"

namespace ocspkit::schema {

struct import_counts {
    std::size_t inserted = 0;
    std::size_t updated = 0;
    std::size_t unchanged = 0;
    std::size_t skipped = 0;  // bad lines or files left out (--skip-bad)
    std::size_t kept = 0;     // conflicts where the index kept its status (import_rule.hpp)

    void add(upsert_outcome outcome) noexcept {
        switch (outcome) {
        case upsert_outcome::inserted: ++inserted; break;
        case upsert_outcome::updated: ++updated; break;
        case upsert_outcome::unchanged: ++unchanged; break;
        case upsert_outcome::kept: ++kept; break;
        }
    }
};

struct import_report {
    import_counts counts;
    std::size_t records = 0;  // data lines, or certificates, seen
    std::size_t bad = 0;      // how many were wrong
    std::vector<std::string> errors;  // the first `max_errors_kept` messages
    // "FILE:LINE: serial S is revoked in the index (...) but good in the file; kept (...)", the first
    // `max_errors_kept`, in line order; also those taken under force.
    std::vector<std::string> conflicts;
    bool committed = false;
};

struct index_import_options {
    // false: any bad line rejects the whole import and the database stays as it was.
    // true: bad lines are reported and left out, the rest is committed.
    bool skip_bad = false;
    // Take the file's status in a conflict where the rule allows it (a hold lifted or replaced, one
    // revocation replaced by another). A permanent revocation is never lifted, force or not.
    bool force = false;
    std::size_t max_errors_kept = 100;
    // Page cache for the import's connection; a million-row import touches ~100 MB of B-tree pages.
    std::int64_t cache_kib = 256 * 1024;
    // Lines are sorted by serial before writing, in chunks of about this much memory.
    std::size_t chunk_bytes = std::size_t{192} << 20;
};

// Lines that are empty or start with '#' (which OpenSSL's TXT_DB also skips) are not records. A serial
// that appears twice (within one chunk, see chunk_bytes) is a bad line, as it is for OpenSSL. A line that
// contradicts a revocation or hold in the index is a conflict, not a bad line: the index keeps its status
// (import_rule.hpp), the rest of the line and of the file is imported.
import_report import_index_file(index_store& index, std::int64_t issuer_id, const std::filesystem::path& file,
                                const index_import_options& options = {});

// Certificates from PEM/DER files, or from the *.pem, *.crt, *.cer and *.der files of a directory. Each
// must name `issuer` as its issuer and verify with its key; all or nothing. Stored rows keep their status.
import_report import_certificate_files(index_store& index, const issuer_record& issuer,
                                       const std::vector<std::filesystem::path>& paths,
                                       std::size_t max_errors_kept = 100);

// Checks that `cert` was issued by `ca` (names, key identifiers, signature) and fills a good record from
// it, or says why not.
result<cert_record> record_of_certificate(X509* cert, X509* ca, const issuer_record& issuer);

// The registered issuer whose certificate issued `cert` (checked by signature), or nullopt.
std::optional<issuer_record> find_issuer_of(const index_store& index, X509* cert);

struct export_report {
    std::size_t rows = 0;
    std::vector<std::string> warnings;  // what index.txt could not express (index_txt::format_line)
};

// All certificates of one issuer (or of all), in serial order, one index.txt line each.
export_report export_index(const index_store& index, std::optional<std::int64_t> issuer_id, std::ostream& out);

}  // namespace ocspkit::schema
