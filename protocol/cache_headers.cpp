#include "protocol/cache_headers.hpp"

#include <algorithm>
#include <array>

#include <openssl/evp.h>

#include <fmt/format.h>

#include "common/cert_id.hpp"  // to_hex
#include "common/openssl_error.hpp"

namespace ocspkit::protocol {

namespace {

constexpr std::array<std::string_view, 7> day_names{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> long_day_names{"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                         "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> month_names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// ETag: the first 16 octets of SHA-256 over the response. 128 bits is far beyond what a cache needs to
// tell two responses apart, and keeps the header short.
constexpr std::size_t etag_octets = 16;

// A tiny cursor over the date text: every step either matches or fails the whole parse.
class cursor {
public:
    explicit cursor(std::string_view s) : s_(s) {}
    bool literal(std::string_view lit) {
        if (s_.substr(0, lit.size()) != lit) return false;
        s_.remove_prefix(lit.size());
        return true;
    }
    // Exactly `n` digits (a leading space instead of a digit when `space_pad`, for asctime's day).
    std::optional<int> digits(std::size_t n, bool space_pad = false) {
        if (s_.size() < n) return std::nullopt;
        int v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const char c = s_[i];
            if (space_pad && i == 0 && c == ' ') continue;
            if (c < '0' || c > '9') return std::nullopt;
            v = v * 10 + (c - '0');
        }
        s_.remove_prefix(n);
        return v;
    }
    template <std::size_t N>
    std::optional<int> one_of(const std::array<std::string_view, N>& names) {
        for (std::size_t i = 0; i < N; ++i)
            if (literal(names[i])) return static_cast<int>(i);
        return std::nullopt;
    }
    bool done() const noexcept { return s_.empty(); }

private:
    std::string_view s_;
};

std::optional<sys_seconds> make_time(int year, int month, int day, int hour, int minute, int second) {
    const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                          std::chrono::day{static_cast<unsigned>(day)}};
    // RFC 9110 §5.6.7 allows second 60 (a leap second); it reads as the next minute's 00.
    if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    return sys_seconds{std::chrono::sys_days{ymd}.time_since_epoch()} + std::chrono::hours{hour} +
           std::chrono::minutes{minute} + std::chrono::seconds{second};
}

struct clock_time {
    int h, m, s;
};
std::optional<clock_time> time_of_day(cursor& c) {
    const auto h = c.digits(2);
    if (!h || !c.literal(":")) return std::nullopt;
    const auto m = c.digits(2);
    if (!m || !c.literal(":")) return std::nullopt;
    const auto s = c.digits(2);
    if (!s) return std::nullopt;
    return clock_time{*h, *m, *s};
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<sys_seconds> parse_imf_fixdate(std::string_view text) {
    cursor c(text);
    if (!c.one_of(day_names) || !c.literal(", ")) return std::nullopt;
    const auto day = c.digits(2);
    if (!day || !c.literal(" ")) return std::nullopt;
    const auto month = c.one_of(month_names);
    if (!month || !c.literal(" ")) return std::nullopt;
    const auto year = c.digits(4);
    if (!year || !c.literal(" ")) return std::nullopt;
    const auto t = time_of_day(c);
    if (!t || !c.literal(" GMT") || !c.done()) return std::nullopt;
    return make_time(*year, *month + 1, *day, t->h, t->m, t->s);
}

// rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT". RFC 9110 §5.6.7 reads a two-digit year that looks
// more than 50 years ahead as the past century; without a clock here we pivot at 70 (the Unix
// epoch), which agrees with that rule for every date this century.
std::optional<sys_seconds> parse_rfc850_date(std::string_view text) {
    cursor c(text);
    if (!c.one_of(long_day_names) || !c.literal(", ")) return std::nullopt;
    const auto day = c.digits(2);
    if (!day || !c.literal("-")) return std::nullopt;
    const auto month = c.one_of(month_names);
    if (!month || !c.literal("-")) return std::nullopt;
    const auto yy = c.digits(2);
    if (!yy || !c.literal(" ")) return std::nullopt;
    const auto t = time_of_day(c);
    if (!t || !c.literal(" GMT") || !c.done()) return std::nullopt;
    return make_time(*yy < 70 ? 2000 + *yy : 1900 + *yy, *month + 1, *day, t->h, t->m, t->s);
}

// asctime-date: "Sun Nov  6 08:49:37 1994"
std::optional<sys_seconds> parse_asctime_date(std::string_view text) {
    cursor c(text);
    if (!c.one_of(day_names) || !c.literal(" ")) return std::nullopt;
    const auto month = c.one_of(month_names);
    if (!month || !c.literal(" ")) return std::nullopt;
    const auto day = c.digits(2, true);
    if (!day || !c.literal(" ")) return std::nullopt;
    const auto t = time_of_day(c);
    if (!t || !c.literal(" ")) return std::nullopt;
    const auto year = c.digits(4);
    if (!year || !c.done()) return std::nullopt;
    return make_time(*year, *month + 1, *day, t->h, t->m, t->s);
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The opaque-tag of an entity-tag (RFC 9110 §8.8.3), quotes included, without any W/ prefix.
std::string_view opaque_tag(std::string_view etag) {
    if (etag.substr(0, 2) == "W/") etag.remove_prefix(2);
    return etag;
}

}  // namespace

std::string imf_fixdate(sys_seconds t) {
    // RFC 9110 §5.6.7: IMF-fixdate, always GMT.
    const auto day = std::chrono::floor<std::chrono::days>(t);
    const std::chrono::year_month_day ymd{day};
    const std::chrono::hh_mm_ss hms{t - day};
    const std::chrono::weekday wd{day};
    return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", day_names[wd.c_encoding()],
                       static_cast<unsigned>(ymd.day()), month_names[static_cast<unsigned>(ymd.month()) - 1],
                       static_cast<int>(ymd.year()), hms.hours().count(), hms.minutes().count(),
                       hms.seconds().count());
}

std::optional<sys_seconds> parse_http_date(std::string_view text) {
    // RFC 9110 §5.6.7: recipients accept all three forms; senders use only IMF-fixdate.
    text = trim_ows(text);
    if (auto t = parse_imf_fixdate(text)) return t;
    if (auto t = parse_rfc850_date(text)) return t;
    return parse_asctime_date(text);
}

std::optional<std::size_t> shared_max_age(std::size_t max_age, std::optional<std::chrono::seconds> cap) {
    if (!cap) return std::nullopt;
    return std::min(max_age, static_cast<std::size_t>(std::max<std::chrono::seconds::rep>(0, cap->count())));
}

http_cache_headers cache_headers_for(const answer_validity& answer, std::span<const std::uint8_t> response_der,
                                     bool is_get, sys_seconds now, std::string_view precomputed_etag,
                                     std::optional<std::chrono::seconds> s_maxage_cap) {
    http_cache_headers h;
    // RFC 5019 §6.2 caching applies to GET only (POST responses are not cached by HTTP caches).
    if (!is_get || !answer.cacheable) {
        h.cache_control = "no-cache";
        return h;
    }
    // RFC 5019 §6.2: max-age no later than nextUpdate; "must-revalidate" so that a cache never serves it
    // stale, "no-transform" because a proxy that re-encodes the body breaks the signature.
    const auto remaining = std::max<std::chrono::seconds::rep>(0, (answer.next_update - now).count());
    h.cache_control = fmt::format("max-age={}", remaining);
    if (const auto shared = shared_max_age(static_cast<std::size_t>(remaining), s_maxage_cap))
        h.cache_control += fmt::format(", s-maxage={}", *shared);
    h.cache_control += cacheable_directives;
    h.last_modified = imf_fixdate(answer.this_update);
    h.expires = imf_fixdate(answer.next_update);

    h.etag = precomputed_etag.empty() ? response_etag(response_der) : std::string(precomputed_etag);
    return h;
}

std::string response_etag(std::span<const std::uint8_t> response_der) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(response_der.data(), response_der.size(), md, &md_len, EVP_sha256(), nullptr) != 1)
        throw openssl_error("hashing a response for its ETag");
    return "\"" + to_hex(md, std::min<std::size_t>(md_len, etag_octets)) + "\"";
}

std::optional<std::string> get_validator_fields(const answer_validity& answer, std::span<const std::uint8_t> response_der,
                                                sys_seconds now, std::string_view etag) {
    const auto h = cache_headers_for(answer, response_der, true, now, etag);
    if (!h.etag) return std::nullopt;
    std::string fields;
    fields.reserve(128);
    fields.append("Last-Modified: ").append(h.last_modified.value_or("")).append("\r\n");
    fields.append("Expires: ").append(h.expires.value_or("")).append("\r\n");
    fields.append("ETag: ").append(*h.etag).append("\r\n");
    return fields;
}

bool not_modified(const http_cache_headers& headers, std::optional<std::string_view> if_none_match,
                  std::optional<std::string_view> if_modified_since) {
    // Only cacheable answers carry validators; everything else is always sent in full.
    if (!headers.etag || !headers.last_modified) return false;
    const auto modified = parse_http_date(*headers.last_modified);
    if (!modified) return false;
    return not_modified(*headers.etag, *modified, if_none_match, if_modified_since);
}

bool not_modified(std::string_view etag, sys_seconds last_modified, std::optional<std::string_view> if_none_match,
                  std::optional<std::string_view> if_modified_since) {
    // RFC 9110 §13.1.3: with If-None-Match present, If-Modified-Since is ignored.
    if (if_none_match) {
        std::string_view list = trim_ows(*if_none_match);
        if (list == "*") return true;  // §13.1.2: any current representation matches
        const std::string_view ours = opaque_tag(etag);
        // §13.1.2: If-None-Match uses the weak comparison, so W/"x" matches "x".
        while (!list.empty()) {
            list = trim_ows(list);
            if (!list.empty() && list.front() == ',') {
                list.remove_prefix(1);
                continue;
            }
            std::size_t start = list.substr(0, 2) == "W/" ? 2 : 0;
            if (list.size() <= start || list[start] != '"') return false;  // not an entity-tag list
            const auto close = list.find('"', start + 1);
            if (close == std::string_view::npos) return false;
            if (opaque_tag(list.substr(0, close + 1)) == ours) return true;
            list.remove_prefix(close + 1);
        }
        return false;
    }

    if (if_modified_since) {
        const auto since = parse_http_date(*if_modified_since);
        // §13.1.3: an invalid date is ignored (so the full response is sent).
        if (!since) return false;
        return last_modified <= *since;
    }
    return false;
}

}  // namespace ocspkit::protocol
