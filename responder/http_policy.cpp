#include "responder/http_policy.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "protocol/cache_headers.hpp"
#include "protocol/get_path.hpp"

namespace ocspkit::responder {
namespace http = boost::beast::http;

namespace {

constexpr std::string_view allow_field = "Allow: GET, POST, HEAD\r\n";
constexpr std::string_view no_cache = "no-cache";
constexpr std::string_view crl_prefix = "/crl/";
constexpr std::string_view crl_suffix = ".crl";

bool is_get_or_head(const http_request& req) {
    return req.method == http::verb::get || req.method == http::verb::head;
}

bool under_path(std::string_view target, std::string_view base) {
    if (base == "/") return !target.empty() && target.front() == '/';
    if (!target.starts_with(base)) return false;
    return target.size() == base.size() || target[base.size()] == '/';
}

// The head every answer to `req` starts from: its version, and keep-alive as the client asked.
response_head head_for(const http_request& req, http::status status) {
    response_head h;
    h.status = status;
    h.version = req.version;
    h.keep_alive = req.keep_alive;
    return h;
}

// A plain-text answer: `text`, or the status's reason phrase when there is nothing to say.
http_response text_response(const http_request& req, http::status status, std::string text,
                            std::string_view content_type = "text/plain") {
    http_response r;
    r.head = head_for(req, status);
    r.text = text.empty() ? std::string(http::obsolete_reason(status)) + "\n" : std::move(text);
    r.head.content_type = content_type;
    r.head.content_length = r.text.size();
    r.head.cache_control = no_cache;
    r.send_content = req.method != http::verb::head;
    return r;
}

http_step respond(http_response r) {
    http_step s;
    s.what = http_step::kind::respond;
    s.response = std::move(r);
    return s;
}

http_response method_not_allowed(const http_request& req, std::string_view allow = allow_field) {
    auto r = text_response(req, http::status::method_not_allowed, {});
    r.head.extra_fields = allow;
    return r;
}

}  // namespace

std::span<const std::uint8_t> http_response::content() const {
    if (!send_content) return {};
    if (answer) return answer->der;
    if (crl) return crl->der;
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

http_step route(const http_request& req, std::string_view ocsp_path) {
    const std::string_view target = req.target;
    if (target == "/health" || target == "/metrics") {
        if (!is_get_or_head(req)) return respond(method_not_allowed(req));
        http_step s;
        s.what = target == "/health" ? http_step::kind::report_health : http_step::kind::report_metrics;
        return s;
    }
    if (target.starts_with(crl_prefix)) {
        if (!is_get_or_head(req)) return respond(method_not_allowed(req, "Allow: GET, HEAD\r\n"));
        std::string_view name = target.substr(crl_prefix.size());
        // Names are letters, digits, '-', '_' and '.' (config.cpp): anything else is no CRL of ours.
        if (!name.ends_with(crl_suffix) || name.size() == crl_suffix.size() ||
            name.find_first_of("/?#%") != std::string_view::npos)
            return respond(text_response(req, http::status::not_found, {}));
        name.remove_suffix(crl_suffix.size());
        http_step s;
        s.what = http_step::kind::serve_crl;
        s.crl_name = std::string(name);
        return s;
    }
    if (!is_get_or_head(req) && req.method != http::verb::post) return respond(method_not_allowed(req));
    if (!under_path(target, ocsp_path)) return respond(text_response(req, http::status::not_found, {}));

    http_step s;
    s.what = http_step::kind::answer_ocsp;
    if (req.method != http::verb::post) {
        s.from_get_path = true;
        if (auto decoded = protocol::decode_get_path(target, ocsp_path)) s.decoded_get_path = std::move(*decoded);
    }
    return s;
}

bool is_not_modified(const http_request& req, const cached_answer& answer) {
    if (!is_get_or_head(req) || !answer.cacheable_get) return false;
    if (!req.if_none_match && !req.if_modified_since) return false;
    return protocol::not_modified(answer.etag, answer.meta.this_update, req.if_none_match, req.if_modified_since);
}

http_response ocsp_response(const http_request& req, std::shared_ptr<const cached_answer> answer, sys_seconds now,
                            std::optional<std::chrono::seconds> s_maxage_cap) {
    http_response r;
    r.head = head_for(req, http::status::ok);
    r.head.content_type = "application/ocsp-response";
    r.head.content_length = answer->der.size();
    // The entry decided once whether RFC 5019 caching applies to it (successful, no nonce, no
    // `unknown`); only GET (and HEAD, its head) answers are cacheable, POST ones never (§6.2).
    if (is_get_or_head(req) && answer->cacheable_get) {
        r.head.max_age_cacheable = true;
        // §6.2: max-age no later than nextUpdate; an answer past it is served with max-age=0.
        r.head.max_age = static_cast<std::size_t>(std::max<std::int64_t>(0, (answer->meta.next_update - now).count()));
        r.head.s_maxage = protocol::shared_max_age(r.head.max_age, s_maxage_cap);
        r.head.extra_fields = answer->get_validators;
        if (is_not_modified(req, *answer)) r.head.status = http::status::not_modified;
    } else {
        r.head.cache_control = no_cache;
    }
    r.send_content = req.method != http::verb::head && r.head.status != http::status::not_modified;
    r.answer = std::move(answer);
    return r;
}

http_response crl_response(const http_request& req, std::shared_ptr<const served_crl> crl, sys_seconds now) {
    http_response r;
    r.head = head_for(req, http::status::ok);
    r.head.content_type = "application/pkix-crl";
    r.head.content_length = crl->der.size();
    r.head.max_age_cacheable = true;
    // Not until nextUpdate: the publisher replaces the CRL at refresh_at at the latest (and at once after a
    // revocation), and a cache should not keep the old one for the other half of its validity.
    const sys_seconds until = std::min(crl->refresh_at, crl->next_update);
    r.head.max_age = static_cast<std::size_t>(std::max<std::int64_t>(0, (until - now).count()));
    r.head.extra_fields = crl->validators;
    if ((req.if_none_match || req.if_modified_since) &&
        protocol::not_modified(crl->etag, crl->this_update, req.if_none_match, req.if_modified_since))
        r.head.status = http::status::not_modified;
    r.send_content = req.method != http::verb::head && r.head.status != http::status::not_modified;
    r.crl = std::move(crl);
    return r;
}

http_response crl_unavailable(const http_request& req, bool known, std::string_view why) {
    if (!known) return text_response(req, http::status::not_found, {});
    return text_response(req, http::status::service_unavailable, fmt::format("CRL not available: {}\n", why));
}

http_response health_response(const http_request& req, bool ok, std::string report) {
    return text_response(req, ok ? http::status::ok : http::status::service_unavailable, std::move(report));
}

http_response metrics_response(const http_request& req, std::string text) {
    return text_response(req, http::status::ok, std::move(text), "text/plain; version=0.0.4");
}

}  // namespace ocspkit::responder
