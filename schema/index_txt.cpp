#include "schema/index_txt.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "common/ascii.hpp"
#include "common/asn1_time.hpp"
#include "common/ossl_ptr.hpp"

namespace ocspkit::schema::index_txt {

namespace {

constexpr std::size_t field_count = 6;

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// BN_bn2hex output (any case, any length) to the canonical serial, without the temporary strings of
// serial_number::from_hex: this runs once per line of a million-line file.
result<serial_number> parse_serial(std::string_view text) {
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return hex_digit(c) >= 0; })) {
        return error{errc::malformed, fmt::format("invalid serial '{}' (expected hexadecimal digits)", text)};
    }
    std::string_view digits = text.substr(std::min(text.find_first_not_of('0'), text.size()));
    if (digits.empty()) digits = "0";
    const std::size_t octets = (digits.size() + 1) / 2;
    if (octets > serial_number::max_octets) {
        return error{errc::out_of_range, fmt::format("invalid serial '{}': {} octets, more than {} (RFC 5280 §4.1.2.2)",
                                                     text, octets, serial_number::max_octets)};
    }
    std::array<std::uint8_t, serial_number::max_octets> raw{};
    std::size_t in = 0;
    for (std::size_t out = 0; out < octets; ++out) {
        int value = 0;
        // An odd number of digits: the first octet has one.
        if (out == 0 && digits.size() % 2 != 0) {
            value = hex_digit(digits[in++]);
        } else {
            value = hex_digit(digits[in]) * 16 + hex_digit(digits[in + 1]);
            in += 2;
        }
        raw[out] = static_cast<std::uint8_t>(value);
    }
    return serial_number::from_bytes(raw.data(), octets);
}

}  // namespace

// Read as OpenSSL's OBJ_txt2obj reads it; stored in dotted form so that the value does not depend on
// OpenSSL's name table.
result<std::string> normalize_hold_instruction(std::string_view text) {
    const std::string copy{text};
    ossl::asn1_object_ptr obj{OBJ_txt2obj(copy.c_str(), 0)};
    if (!obj) {
        ERR_clear_error();  // reported below with the line's own words
        return error{errc::malformed, fmt::format("invalid hold instruction '{}' (not an OID or a known name)", text)};
    }
    std::array<char, 128> buf{};
    const int len = OBJ_obj2txt(buf.data(), static_cast<int>(buf.size()), obj.get(), 1);
    if (len <= 0 || static_cast<std::size_t>(len) >= buf.size()) {
        ERR_clear_error();
        return error{errc::out_of_range, fmt::format("invalid hold instruction '{}' (OID too long)", text)};
    }
    return std::string{buf.data(), static_cast<std::size_t>(len)};
}

namespace {

// The revocation field of an R line, into `rec` (apps/ca.c unpack_revinfo is the reference reader).
std::optional<std::string> parse_revocation(std::string_view field, cert_record& rec) {
    std::string_view time_text = field;
    std::string_view reason_text;
    std::optional<std::string_view> argument;
    if (const auto comma = field.find(','); comma != std::string_view::npos) {
        time_text = field.substr(0, comma);
        reason_text = field.substr(comma + 1);
        if (const auto second = reason_text.find(','); second != std::string_view::npos) {
            argument = reason_text.substr(second + 1);
            reason_text = reason_text.substr(0, second);
        }
    }
    const auto when = parse_asn1_time_string(time_text);
    if (!when) {
        return fmt::format("invalid revocation date '{}' (expected YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ)", time_text);
    }
    rec.status = cert_status::revoked;
    rec.revocation_time = when;
    if (field.find(',') == std::string_view::npos) return std::nullopt;  // revoked without a reason code

    const auto no_argument = [&]() -> std::optional<std::string> {
        if (argument) return fmt::format("unexpected '{}' after reason {}", *argument, reason_text);
        return std::nullopt;
    };
    const auto compromise_time = [&](revocation_reason reason) -> std::optional<std::string> {
        if (!argument || argument->empty()) return fmt::format("{} needs a compromise time", reason_text);
        // OpenSSL checks it with ASN1_GENERALIZEDTIME_set_string: GeneralizedTime only.
        const auto t = argument->size() == 15 ? parse_asn1_time_string(*argument) : std::nullopt;
        if (!t) return fmt::format("invalid compromise time '{}' (expected YYYYMMDDHHMMSSZ)", *argument);
        rec.reason = reason;
        rec.invalidity_date = t;
        return std::nullopt;
    };
    const auto hold = [&](bool instruction_required) -> std::optional<std::string> {
        rec.status = cert_status::hold;
        rec.reason = revocation_reason::certificate_hold;
        if (!argument || argument->empty()) {
            if (instruction_required) return std::string{"holdInstruction needs an instruction OID"};
            return std::nullopt;
        }
        auto oid = normalize_hold_instruction(*argument);
        if (!oid) return oid.error_message();
        rec.hold_instruction = std::move(*oid);
        return std::nullopt;
    };

    if (iequals(reason_text, "holdInstruction")) return hold(true);
    if (iequals(reason_text, "keyTime")) return compromise_time(revocation_reason::key_compromise);
    if (iequals(reason_text, "CAkeyTime")) return compromise_time(revocation_reason::ca_compromise);
    const auto reason = reason_from_name(reason_text);
    if (!reason) return fmt::format("unknown revocation reason '{}'", reason_text);
    switch (*reason) {
    case revocation_reason::certificate_hold: return hold(false);
    case revocation_reason::remove_from_crl:
        // See the header: the hold was released, the certificate is good again.
        if (auto problem = no_argument()) return problem;
        rec.status = cert_status::good;
        rec.revocation_time.reset();
        return std::nullopt;
    default:
        if (auto problem = no_argument()) return problem;
        rec.reason = reason;
        return std::nullopt;
    }
}

// OpenSSL's spelling in index.txt; privilegeWithdrawn and aACompromise have none (apps/ca.c crl_reasons).
std::optional<std::string_view> openssl_reason_name(revocation_reason r) {
    switch (r) {
    case revocation_reason::unspecified: return "unspecified";
    case revocation_reason::key_compromise: return "keyCompromise";
    case revocation_reason::ca_compromise: return "CACompromise";
    case revocation_reason::affiliation_changed: return "affiliationChanged";
    case revocation_reason::superseded: return "superseded";
    case revocation_reason::cessation_of_operation: return "cessationOfOperation";
    case revocation_reason::certificate_hold: return "certificateHold";
    case revocation_reason::remove_from_crl: return "removeFromCRL";
    case revocation_reason::privilege_withdrawn:
    case revocation_reason::aa_compromise: return std::nullopt;
    }
    return std::nullopt;
}

// A tab or newline inside the subject would split the line; X509_NAME_oneline already writes other
// control characters as \xHH, so do the same for these.
std::string escape_subject(std::string_view subject) {
    std::string out;
    out.reserve(subject.size());
    for (char c : subject) {
        if (c == '\t' || c == '\n' || c == '\r') {
            out += fmt::format("\\x{:02X}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
            out.push_back(c);
        }
    }
    return out;
}

}  // namespace

namespace {
std::optional<std::string> line_problem(std::string_view line, cert_record& rec) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    std::array<std::string_view, field_count> fields;
    std::size_t count = 0;
    std::size_t start = 0;
    while (true) {
        const auto tab = line.find('\t', start);
        const auto piece = line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start);
        if (count < field_count) fields[count] = piece;
        ++count;
        if (tab == std::string_view::npos) break;
        start = tab + 1;
    }
    if (count != field_count) return fmt::format("expected 6 tab-separated fields, found {}", count);
    const auto& [type, expiry, revocation, serial_text, file, subject] = fields;
    static_cast<void>(file);  // where `openssl ca` wrote the certificate: not ours to keep

    if (type != "V" && type != "R" && type != "E") return fmt::format("unknown status '{}' (expected V, R or E)", type);
    rec.issuer_id = 0;
    rec.not_before.reset();
    rec.status = cert_status::good;
    rec.revocation_time.reset();
    rec.reason.reset();
    rec.invalidity_date.reset();
    rec.hold_instruction.reset();
    rec.cert_der.reset();
    rec.change_seq = 0;
    rec.not_after = parse_asn1_time_string(expiry);
    if (!rec.not_after) {
        return fmt::format("invalid expiry date '{}' (expected YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ)", expiry);
    }
    auto serial = parse_serial(serial_text);
    if (!serial) return serial.error_message();
    rec.serial = std::move(*serial);
    rec.subject.assign(subject);  // reuses the record's buffer across lines

    if (type == "R") {
        if (revocation.empty()) return std::string{"status R needs a revocation date"};
        return parse_revocation(revocation, rec);
    }
    if (!revocation.empty()) {
        return fmt::format("status {} must have an empty revocation field, found '{}'", type, revocation);
    }
    return std::nullopt;
}
}  // namespace

status parse_line_into(std::string_view line, cert_record& rec) {
    if (auto problem = line_problem(line, rec)) return error{errc::malformed, std::move(*problem)};
    return success();
}

result<cert_record> parse_line(std::string_view line) {
    cert_record rec;
    if (auto parsed = parse_line_into(line, rec); !parsed) return std::move(parsed).failure();
    return rec;
}

std::string generalized_time_string(sys_seconds t) {
    // to_iso8601 gives "YYYY-MM-DDTHH:MM:SSZ"; GeneralizedTime is the same digits without separators.
    std::string out;
    for (char c : to_iso8601(t)) {
        if (c != '-' && c != ':' && c != 'T') out.push_back(c);
    }
    return out;
}

formatted_line format_line(const cert_record& rec) {
    formatted_line out;
    const std::string serial = rec.serial.to_hex();
    const std::string expiry = rec.not_after ? to_asn1_time_string(*rec.not_after) : std::string{"99991231235959Z"};

    std::string revocation;
    if (rec.status != cert_status::good && rec.revocation_time) {
        revocation = to_asn1_time_string(*rec.revocation_time);
        bool invalidity_written = false;
        if (rec.status == cert_status::hold) {
            if (rec.hold_instruction) {
                revocation += ",holdInstruction," + *rec.hold_instruction;
            } else {
                revocation += ",certificateHold";
            }
        } else if (rec.reason) {
            const bool compromise = *rec.reason == revocation_reason::key_compromise ||
                                    *rec.reason == revocation_reason::ca_compromise;
            if (compromise && rec.invalidity_date) {
                revocation += *rec.reason == revocation_reason::key_compromise ? ",keyTime," : ",CAkeyTime,";
                revocation += generalized_time_string(*rec.invalidity_date);
                invalidity_written = true;
            } else if (const auto name = openssl_reason_name(*rec.reason)) {
                revocation += ',';
                revocation += *name;
            } else {
                out.warning = fmt::format("serial {}: reason {} has no index.txt spelling; written without a reason",
                                          serial, reason_name(*rec.reason));
            }
        }
        if (rec.invalidity_date && !invalidity_written && !out.warning) {
            out.warning = fmt::format("serial {}: index.txt keeps an invalidity date only with keyCompromise or "
                                      "cACompromise; dropped",
                                      serial);
        }
    }
    out.line = fmt::format("{}\t{}\t{}\t{}\tunknown\t{}", rec.status == cert_status::good ? 'V' : 'R', expiry,
                           revocation, serial, escape_subject(rec.subject));
    return out;
}

}  // namespace ocspkit::schema::index_txt
