#include "schema/import.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "common/asn1_time.hpp"
#include "common/openssl_error.hpp"
#include "common/pem.hpp"
#include "schema/index_txt.hpp"

namespace ocspkit::schema {

namespace {

// Lines of a file as views into a reused buffer: no allocation per line, which matters at a million lines.
class line_reader {
public:
    explicit line_reader(const std::filesystem::path& file) : name_(file.string()) {
        std::error_code ec;
        if (std::filesystem::is_directory(file, ec)) throw load_error(fmt::format("{}: is a directory", name_));
        in_.open(file, std::ios::binary);
        if (!in_) throw load_error(fmt::format("{}: cannot open: {}", name_, std::strerror(errno)));
        buf_.resize(std::size_t{1} << 20);
    }

    // The next line without its '\n', valid until the next call; false at the end of the file.
    bool next(std::string_view& line) {
        while (true) {
            const char* begin = buf_.data() + pos_;
            if (const void* nl = std::memchr(begin, '\n', end_ - pos_)) {
                const auto len = static_cast<std::size_t>(static_cast<const char*>(nl) - begin);
                line = std::string_view{begin, len};
                pos_ += len + 1;
                return true;
            }
            if (eof_) {
                if (pos_ == end_) return false;
                line = std::string_view{begin, end_ - pos_};  // last line without a newline
                pos_ = end_;
                return true;
            }
            fill();
        }
    }

private:
    void fill() {
        std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
        end_ -= pos_;
        pos_ = 0;
        if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);  // a line longer than the buffer
        in_.read(buf_.data() + end_, static_cast<std::streamsize>(buf_.size() - end_));
        if (in_.bad()) throw load_error(fmt::format("{}: read error: {}", name_, std::strerror(errno)));
        end_ += static_cast<std::size_t>(in_.gcount());
        if (!in_) eof_ = true;  // a short read sets eofbit and failbit
    }

    std::string name_;
    std::ifstream in_;
    std::vector<char> buf_;
    std::size_t pos_ = 0;
    std::size_t end_ = 0;
    bool eof_ = false;
};

void note(import_report& report, std::size_t max_kept, std::string message) {
    ++report.bad;
    if (report.errors.size() < max_kept) report.errors.push_back(std::move(message));
}


bool is_certificate_file(const std::filesystem::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".pem" || ext == ".crt" || ext == ".cer" || ext == ".der";
}

// Files named on the command line are taken as they are; directories contribute their certificate files.
std::vector<std::filesystem::path> expand(const std::vector<std::filesystem::path>& paths, import_report& report,
                                          std::size_t max_kept) {
    std::vector<std::filesystem::path> files;
    for (const auto& p : paths) {
        std::error_code ec;
        if (std::filesystem::is_directory(p, ec)) {
            std::vector<std::filesystem::path> found;
            for (const auto& entry : std::filesystem::directory_iterator(p, ec)) {
                if (entry.is_regular_file() && is_certificate_file(entry.path())) found.push_back(entry.path());
            }
            if (ec) {
                note(report, max_kept, fmt::format("{}: cannot list: {}", p.string(), ec.message()));
                continue;
            }
            if (found.empty()) {
                note(report, max_kept, fmt::format("{}: no certificate files (*.pem, *.crt, *.cer, *.der)", p.string()));
            }
            std::sort(found.begin(), found.end());
            files.insert(files.end(), found.begin(), found.end());
        } else if (std::filesystem::exists(p, ec)) {
            files.push_back(p);
        } else {
            note(report, max_kept, fmt::format("{}: no such file or directory", p.string()));
        }
    }
    return files;
}

}  // namespace

result<cert_record> record_of_certificate(X509* cert, X509* ca, const issuer_record& issuer) {
    auto serial = serial_number::from_asn1(X509_get0_serialNumber(cert));
    if (!serial) return serial.failure();
    const std::string hex = serial->to_hex();
    // Names, authorityKeyIdentifier and the CA's keyUsage: the checks a chain builder would make.
    const int rc = X509_check_issued(ca, cert);
    if (rc != X509_V_OK) {
        return error{errc::unauthorized,
                     fmt::format("certificate {} ({}) was not issued by {}: {}", hex, subject_oneline(cert),
                                 issuer.subject, X509_verify_cert_error_string(rc))};
    }
    if (X509_verify(cert, X509_get0_pubkey(ca)) != 1) {
        const std::string queue = drain_openssl_errors();
        return error{errc::unauthorized,
                     fmt::format("certificate {} ({}): signature does not verify with the key of {}{}", hex,
                                 subject_oneline(cert), issuer.subject, queue.empty() ? "" : " (" + queue + ")")};
    }
    cert_record rec;
    rec.issuer_id = issuer.id;
    rec.serial = std::move(*serial);
    rec.not_before = from_asn1_time(X509_get0_notBefore(cert));
    rec.not_after = from_asn1_time(X509_get0_notAfter(cert));
    if (!rec.not_before || !rec.not_after) return error{errc::malformed,
                 fmt::format("certificate {}: unreadable validity dates", hex)};
    rec.subject = subject_oneline(cert);
    rec.cert_der = der_of(cert);
    return rec;
}

std::optional<issuer_record> find_issuer_of(const index_store& index, X509* cert) {
    for (auto& issuer : index.list_issuers()) {
        const unsigned char* p = issuer.cert_der.data();
        ossl::x509_ptr ca{d2i_X509(nullptr, &p, static_cast<long>(issuer.cert_der.size()))};
        if (!ca) continue;
        if (X509_check_issued(ca.get(), cert) != X509_V_OK) continue;
        if (X509_verify(cert, X509_get0_pubkey(ca.get())) != 1) {
            drain_openssl_errors();  // another CA with the same name may follow
            continue;
        }
        return std::move(issuer);
    }
    return std::nullopt;
}

import_report import_index_file(index_store& index, std::int64_t issuer_id, const std::filesystem::path& file,
                                const index_import_options& options) {
    if (!index.find_issuer(issuer_id)) throw not_found_error(fmt::format("issuer ID {} is not registered", issuer_id));
    const std::string name = file.string();
    line_reader reader(file);
    // PostgreSQL's cache is the server's (shared_buffers); a SQLite connection sizes its own.
    if (auto* sqlite_index = dynamic_cast<cert_index*>(&index)) sqlite_index->set_cache_size_kib(options.cache_kib);

    import_report report;
    std::vector<std::pair<std::size_t, std::string>> errors;  // (line, message), sorted before reporting
    std::vector<std::pair<std::size_t, std::string>> conflicts;
    std::string detail;
    merge_options merge_opts{.detail = {}, .import_rule = true, .force = options.force, .audit_good_inserts = false};
    const auto bad_line = [&](std::size_t line_no, std::string_view problem) {
        ++report.bad;
        if (errors.size() < options.max_errors_kept) errors.emplace_back(line_no, fmt::format("{}:{}: {}", name, line_no, problem));
    };

    // Lines are parsed as they are read, then written in key order, a chunk at a time. Serials are
    // often random (RFC 5280 §4.1.2.2 asks for 20 bits of entropy at least), and B-tree inserts in random
    // order touch a random page each; in key order they walk the tree once, which halves the import
    // time. Sorting also puts repeated serials next to each other.
    // A parsed line kept compactly until its chunk is written: the subject lives in `subjects`, hold
    // instructions (a handful of distinct OIDs) in `oids`.
    struct pending {
        std::array<std::uint8_t, serial_number::max_octets> key;
        std::uint8_t key_len;
        std::int8_t status;
        std::int8_t reason;  // -1: none
        std::int32_t hold_instruction;  // index into oids, -1: none
        std::int64_t not_after;
        std::int64_t revocation_time;  // absent_time: none
        std::int64_t invalidity_date;
        std::uint64_t subject_offset;
        std::uint32_t subject_length;
        std::size_t line_no;
    };
    constexpr std::int64_t absent_time = INT64_MIN;
    const auto to_int = [](const std::optional<sys_seconds>& t) { return t ? t->time_since_epoch().count() : absent_time; };
    const auto to_time = [](std::int64_t v) -> std::optional<sys_seconds> {
        if (v == absent_time) return std::nullopt;
        return sys_seconds{std::chrono::seconds{v}};
    };

    std::string subjects;
    std::vector<std::string> oids;
    std::vector<pending> chunk;
    std::error_code size_ec;
    const auto file_size = static_cast<std::size_t>(std::filesystem::file_size(file, size_ec));
    if (!size_ec) {
        // Subjects are part of the file and a line is at least ~40 bytes: reserving that much avoids copying
        // on growth, and costs address space only, since untouched pages are never mapped in.
        subjects.reserve(std::min(file_size, options.chunk_bytes));
        chunk.reserve(std::min(file_size / 40, options.chunk_bytes / sizeof(pending)) + 1);
    }
    cert_record rec;
    const auto batch_owner = index.begin_write();
    auto& batch = *batch_owner;

    const auto flush = [&] {
        // SQLite orders BLOBs by memcmp over the shorter length, then shorter first.
        std::sort(chunk.begin(), chunk.end(), [](const pending& a, const pending& b) {
            const int c = std::memcmp(a.key.data(), b.key.data(), std::min(a.key_len, b.key_len));
            if (c != 0) return c < 0;
            if (a.key_len != b.key_len) return a.key_len < b.key_len;
            return a.line_no < b.line_no;
        });
        for (std::size_t i = 0; i < chunk.size(); ++i) {
            const pending& p = chunk[i];
            if (i > 0 && chunk[i - 1].key_len == p.key_len &&
                std::memcmp(chunk[i - 1].key.data(), p.key.data(), p.key_len) == 0) {
                // `openssl ca` never writes a serial twice and `openssl ocsp -index` refuses such a file.
                bad_line(p.line_no, fmt::format("serial {} already appears on line {}",
                                                to_hex(p.key.data(), p.key_len), chunk[i - 1].line_no));
                continue;
            }
            rec.issuer_id = issuer_id;
            rec.serial = *serial_number::from_bytes(p.key.data(), p.key_len);  // canonical already
            rec.not_before.reset();
            rec.not_after = to_time(p.not_after);
            rec.status = static_cast<cert_status>(p.status);
            rec.revocation_time = to_time(p.revocation_time);
            rec.reason = p.reason < 0 ? std::nullopt : reason_from_code(p.reason);
            rec.invalidity_date = to_time(p.invalidity_date);
            if (p.hold_instruction < 0) {
                rec.hold_instruction.reset();
            } else {
                rec.hold_instruction = oids[static_cast<std::size_t>(p.hold_instruction)];
            }
            rec.subject.assign(subjects, p.subject_offset, p.subject_length);
            rec.cert_der.reset();
            detail.clear();
            // The file is named once, in the summary row; a million rows repeating its path would be
            // tens of megabytes.
            fmt::format_to(std::back_inserter(detail), "line {}", p.line_no);
            merge_opts.detail = detail;
            auto outcome = batch.merge(rec, merge_opts);
            if (!outcome) {
                bad_line(p.line_no, outcome.error_message());
                continue;
            }
            if (const auto& conflict = batch.last_conflict()) {
                if (conflicts.size() < options.max_errors_kept) {
                    conflicts.emplace_back(p.line_no, fmt::format("{}:{}: {}", name, p.line_no, *conflict));
                }
            }
            report.counts.add(*outcome);
        }
        chunk.clear();
        subjects.clear();
    };

    std::string_view line;
    std::size_t line_no = 0;
    while (reader.next(line)) {
        ++line_no;
        if (line.empty() || line == "\r" || line.front() == '#') continue;
        ++report.records;
        if (auto parsed = index_txt::parse_line_into(line, rec); !parsed) {
            bad_line(line_no, parsed.failure().message);
            continue;
        }
        pending p{};
        const auto& serial = rec.serial.bytes();
        std::copy(serial.begin(), serial.end(), p.key.begin());
        p.key_len = static_cast<std::uint8_t>(serial.size());
        p.status = static_cast<std::int8_t>(rec.status);
        p.reason = rec.reason ? static_cast<std::int8_t>(*rec.reason) : std::int8_t{-1};
        p.hold_instruction = -1;
        if (rec.hold_instruction) {
            auto it = std::find(oids.begin(), oids.end(), *rec.hold_instruction);
            if (it == oids.end()) it = oids.insert(oids.end(), *rec.hold_instruction);
            p.hold_instruction = static_cast<std::int32_t>(it - oids.begin());
        }
        p.not_after = to_int(rec.not_after);
        p.revocation_time = to_int(rec.revocation_time);
        p.invalidity_date = to_int(rec.invalidity_date);
        p.subject_offset = subjects.size();
        p.subject_length = static_cast<std::uint32_t>(rec.subject.size());
        p.line_no = line_no;
        subjects.append(rec.subject);
        chunk.push_back(p);
        // Bounded memory for any file size; a million typical lines still sort as one chunk.
        if (subjects.size() + chunk.size() * sizeof(pending) >= options.chunk_bytes) flush();
    }
    flush();

    std::sort(errors.begin(), errors.end());
    for (auto& e : errors) report.errors.push_back(std::move(e.second));
    std::sort(conflicts.begin(), conflicts.end());
    for (auto& e : conflicts) report.conflicts.push_back(std::move(e.second));
    // Without skip_bad, one bad line rejects the file: returning here rolls the batch back.
    if (report.bad > 0 && !options.skip_bad) return report;
    report.counts.skipped = report.bad;
    // An unchanged re-import (the cron job's usual run) changes nothing and so records nothing.
    if (batch.changed_rows() > 0) {
        audit_entry summary;
        summary.issuer_id = issuer_id;
        summary.detail = fmt::format("{}: {} lines: {} inserted, {} updated, {} unchanged, {} skipped, {} conflicts "
                                     "kept{}",
                                     name, report.records, report.counts.inserted, report.counts.updated,
                                     report.counts.unchanged, report.counts.skipped, report.counts.kept,
                                     options.force ? " (--force)" : "");
        batch.audit(summary);
    }
    batch.commit();
    report.committed = true;
    return report;
}

import_report import_certificate_files(index_store& index, const issuer_record& issuer,
                                       const std::vector<std::filesystem::path>& paths, std::size_t max_errors_kept) {
    import_report report;
    const auto files = expand(paths, report, max_errors_kept);

    const unsigned char* p = issuer.cert_der.data();
    ossl::x509_ptr ca{d2i_X509(nullptr, &p, static_cast<long>(issuer.cert_der.size()))};
    if (!ca) throw openssl_error(fmt::format("issuer ID {}: stored certificate does not parse", issuer.id));

    const auto batch_owner = index.begin_write();
    auto& batch = *batch_owner;
    for (const auto& file : files) {
        std::vector<ossl::x509_ptr> certs;
        try {
            certs = load_certificates(file);
        } catch (const load_error& e) {
            ++report.records;
            note(report, max_errors_kept, e.what());
            continue;
        }
        for (std::size_t i = 0; i < certs.size(); ++i) {
            ++report.records;
            const std::string where =
                certs.size() == 1 ? file.string() : fmt::format("{} (certificate {})", file.string(), i + 1);
            auto rec = record_of_certificate(certs[i].get(), ca.get(), issuer);
            if (!rec) {
                note(report, max_errors_kept, fmt::format("{}: {}", where, rec.error_message()));
                continue;
            }
            // A stored row keeps its status: the certificate says nothing about revocation.
            if (auto existing = batch.find(rec->issuer_id, rec->serial)) {
                rec->status = existing->status;
                rec->revocation_time = existing->revocation_time;
                rec->reason = existing->reason;
                rec->invalidity_date = existing->invalidity_date;
                rec->hold_instruction = existing->hold_instruction;
            }
            auto outcome = batch.merge(*rec, merge_options{.detail = where, .audit_good_inserts = false});
            if (!outcome) {
                note(report, max_errors_kept, fmt::format("{}: {}", where, outcome.error_message()));
                continue;
            }
            report.counts.add(*outcome);
        }
    }
    if (report.bad > 0) return report;  // all or nothing: the batch rolls back
    if (batch.changed_rows() > 0) {
        audit_entry summary;
        summary.issuer_id = issuer.id;
        summary.detail = fmt::format("{} certificates: {} inserted, {} updated, {} unchanged", report.records,
                                     report.counts.inserted, report.counts.updated, report.counts.unchanged);
        batch.audit(summary);
    }
    batch.commit();
    report.committed = true;
    return report;
}

export_report export_index(const index_store& index, std::optional<std::int64_t> issuer_id, std::ostream& out) {
    export_report report;
    index.for_each_certificate(issuer_id, std::nullopt, [&](const cert_record& rec) {
        auto formatted = index_txt::format_line(rec);
        out << formatted.line << '\n';
        if (formatted.warning) report.warnings.push_back(std::move(*formatted.warning));
        ++report.rows;
    });
    return report;
}

}  // namespace ocspkit::schema
