#include "responder/http_policy.hpp"

#include <algorithm>

#include "protocol/cache_headers.hpp"
#include "protocol/get_path.hpp"

namespace ocspkit::responder {
namespace http = boost::beast::http;

namespace {

constexpr std::string_view allow_field = "Allow: GET, POST, HEAD\r\n";
constexpr std::string_view no_cache = "no-cache";

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

http_response method_not_allowed(const http_request& req) {
    auto r = text_response(req, http::status::method_not_allowed, {});
    r.head.extra_fields = allow_field;
    return r;
}

}  // namespace

std::span<const std::uint8_t> http_response::content() const {
    if (!send_content) return {};
    if (answer) return answer->der;
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

http_response health_response(const http_request& req, bool ok, std::string report) {
    return text_response(req, ok ? http::status::ok : http::status::service_unavailable, std::move(report));
}

http_response metrics_response(const http_request& req, std::string text) {
    return text_response(req, http::status::ok, std::move(text), "text/plain; version=0.0.4");
}

}  // namespace ocspkit::responder
