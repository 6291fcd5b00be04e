#include "common/asn1_time.hpp"

#include <cctype>
#include <cstdint>
#include <ctime>

#include <openssl/err.h>

#include <fmt/format.h>

#include "common/openssl_error.hpp"

namespace ocspkit {

namespace {

using namespace std::chrono;

struct civil {
    int year, month, day, hour, minute, second;
};

// Reads exactly `n` decimal digits at `pos`; no sign, no spaces, as X.690 DER requires.
std::optional<int> digits(std::string_view s, std::size_t pos, std::size_t n) {
    if (pos + n > s.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (std::isdigit(static_cast<unsigned char>(s[i])) == 0) return std::nullopt;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

std::optional<sys_seconds> to_sys(const civil& c) {
    const year_month_day ymd{year{c.year}, month{static_cast<unsigned>(c.month)},
                             day{static_cast<unsigned>(c.day)}};
    // ok() rejects 2026-02-30 and month 13; leap seconds (:60) are not representable in time_t either.
    if (!ymd.ok() || c.hour > 23 || c.minute > 59 || c.second > 59) return std::nullopt;
    return sys_days{ymd} + hours{c.hour} + minutes{c.minute} + seconds{c.second};
}

civil to_civil(sys_seconds t) {
    const auto day_start = floor<days>(t);
    const year_month_day ymd{day_start};
    const hh_mm_ss hms{t - day_start};
    return {static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
            static_cast<int>(static_cast<unsigned>(ymd.day())), static_cast<int>(hms.hours().count()),
            static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count())};
}

// "HHMMSS" at pos, shared by both ASN.1 forms.
std::optional<sys_seconds> finish(std::string_view s, std::size_t pos, int year) {
    const auto mon = digits(s, pos, 2), d = digits(s, pos + 2, 2), h = digits(s, pos + 4, 2),
               mi = digits(s, pos + 6, 2), sec = digits(s, pos + 8, 2);
    if (!mon || !d || !h || !mi || !sec) return std::nullopt;
    return to_sys({year, *mon, *d, *h, *mi, *sec});
}

// "YYYY-MM-DD", then optionally 'T' or ' ' and "HH:MM:SS", then optionally 'Z'.
std::optional<sys_seconds> parse_iso8601(std::string_view s) {
    if (s.size() < 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
    const auto y = digits(s, 0, 4), mon = digits(s, 5, 2), d = digits(s, 8, 2);
    if (!y || !mon || !d) return std::nullopt;
    if (s.size() == 10) return to_sys({*y, *mon, *d, 0, 0, 0});
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return std::nullopt;
    std::string_view rest = s.substr(11);
    if (!rest.empty() && (rest.back() == 'Z' || rest.back() == 'z')) rest.remove_suffix(1);
    if (rest.size() != 8 || rest[2] != ':' || rest[5] != ':') return std::nullopt;
    const auto h = digits(rest, 0, 2), mi = digits(rest, 3, 2), sec = digits(rest, 6, 2);
    if (!h || !mi || !sec) return std::nullopt;
    return to_sys({*y, *mon, *d, *h, *mi, *sec});
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
    return s;
}

}  // namespace

std::optional<sys_seconds> parse_asn1_time_string(std::string_view text) {
    if (text.empty() || text.back() != 'Z') return std::nullopt;
    if (text.size() == 13) {
        const auto yy = digits(text, 0, 2);
        if (!yy) return std::nullopt;
        // RFC 5280 §4.1.2.5.1: YY >= 50 is 19YY, YY < 50 is 20YY.
        return finish(text, 2, *yy >= 50 ? 1900 + *yy : 2000 + *yy);
    }
    if (text.size() == 15) {
        const auto yyyy = digits(text, 0, 4);
        if (!yyyy) return std::nullopt;
        return finish(text, 4, *yyyy);
    }
    return std::nullopt;
}

std::optional<sys_seconds> from_asn1_time(const ASN1_TIME* t) {
    if (t == nullptr) return std::nullopt;
    // ASN1_TIME_to_tm also copes with the non-DER forms old certificates carry (no seconds, offsets).
    std::tm tm{};
    if (ASN1_TIME_to_tm(t, &tm) != 1) {
        ERR_clear_error();  // the caller reports "invalid time" with its own context
        return std::nullopt;
    }
    return to_sys({tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec});
}

std::string to_asn1_time_string(sys_seconds t) {
    const civil c = to_civil(t);
    if (c.year >= 1950 && c.year < 2050) {
        return fmt::format("{:02}{:02}{:02}{:02}{:02}{:02}Z", c.year % 100, c.month, c.day, c.hour, c.minute,
                           c.second);
    }
    return fmt::format("{:04}{:02}{:02}{:02}{:02}{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second);
}

ossl::asn1_generalizedtime_ptr to_generalized_time(sys_seconds t) {
    const civil c = to_civil(t);
    const std::string text =
        fmt::format("{:04}{:02}{:02}{:02}{:02}{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second);
    ossl::asn1_generalizedtime_ptr out{ASN1_GENERALIZEDTIME_new()};
    // set_string validates the text, so a year outside 0000-9999 fails here rather than on the wire.
    if (!out || ASN1_GENERALIZEDTIME_set_string(out.get(), text.c_str()) != 1) {
        throw openssl_error(fmt::format("cannot encode {} as GeneralizedTime", text));
    }
    return out;
}

std::string to_iso8601(sys_seconds t) {
    const civil c = to_civil(t);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second);
}

std::optional<sys_seconds> parse_user_time(std::string_view text, sys_seconds now) {
    const std::string_view s = trim(text);
    if (s == "now") return now;
    if (!s.empty() && s.front() == '@') {
        const std::string_view num = s.substr(1);
        // At most 11 digits (year 5138): no overflow, and far past any certificate's lifetime.
        if (num.empty() || num.size() > 11) return std::nullopt;
        std::int64_t v = 0;
        for (char c : num) {
            if (std::isdigit(static_cast<unsigned char>(c)) == 0) return std::nullopt;
            v = v * 10 + (c - '0');
        }
        return sys_seconds{seconds{v}};
    }
    if (auto iso = parse_iso8601(s)) return iso;
    return parse_asn1_time_string(s);
}

}  // namespace ocspkit
