#pragma once
// The responder's HTTP policy, socket-free (house rule 2): which resource a request asks for, and the
// status, headers and content of the answer, as pure functions of the request, what the service
// answered and `now`. The handler in http_server.cpp gets a request read whole, calls route(), fetches
// what the step asks for (a cached or freshly signed OCSP answer, the health report, the metrics
// text), calls the matching formatter below, and writes the result.
//
// RFC 5019 §6.2 caching is decided here for every answer: a cacheable GET answer (see
// cache_headers_for) gets "max-age=<seconds until nextUpdate>, public, no-transform, must-revalidate"
// (with s-maxage=<at most the configured cap> for shared caches when the operator sets one)
// plus the validator fields its cache entry formatted once (Last-Modified, Expires, ETag), and
// If-None-Match / If-Modified-Since are evaluated against the entry's ETag and thisUpdate without
// formatting or parsing its dates again; everything else gets "no-cache".
#include <chrono>
#include <cstdint>
#include <optional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/status.hpp>

#include "common/clock.hpp"
#include "protocol/http_request.hpp"
#include "protocol/http_response.hpp"
#include "responder/response_cache.hpp"
#include "responder/served_crl.hpp"

namespace ocspkit::responder {

using protocol::http_request;
using protocol::response_head;

// A response ready to write: its head and its content, which is the OCSP answer's DER (kept alive by
// `answer`), a CRL's DER (kept alive by `crl`) or `text`.
struct http_response {
    response_head head;
    std::shared_ptr<const cached_answer> answer;
    std::shared_ptr<const served_crl> crl;
    std::string text;
    // False for HEAD (RFC 9110 §9.3.2) and 304 (§15.4.5): the head describes content that is not sent.
    bool send_content = true;

    std::span<const std::uint8_t> content() const;
};

// What the session must do to answer a request.
struct http_step {
    enum class kind {
        respond,         // `response` is complete (404, 405)
        answer_ocsp,     // look up / sign ocsp_request(), then ocsp_response()
        report_health,   // run the health checks, then health_response()
        report_metrics,  // render the metrics, then metrics_response()
        serve_crl,       // look up the CRL named crl_name, then crl_response() or crl_unavailable()
    };
    kind what = kind::respond;
    http_response response;
    // answer_ocsp: POST takes the request's body as it is; GET the decoded path, which is empty when
    // the path does not decode (the service answers that malformedRequest).
    bool from_get_path = false;
    std::vector<std::uint8_t> decoded_get_path;
    // serve_crl: the issuer name of GET /crl/<name>.crl, as it is in the path.
    std::string crl_name;

    // The OCSP request's DER: a view into `req` (POST) or into this step (GET).
    std::span<const std::uint8_t> ocsp_request(const http_request& req) const {
        return from_get_path ? std::span<const std::uint8_t>(decoded_get_path) : std::span<const std::uint8_t>(req.body);
    }
};

// Routing: /health and /metrics (GET, HEAD), CRLs at /crl/<name>.crl (GET, HEAD), OCSP requests under
// `ocsp_path` (GET <path>/<base64>, POST <path>, HEAD like GET); 405 with Allow for other methods, 404
// outside `ocsp_path` and for a /crl/ path of another form. No OCSP GET path starts with /crl/: the
// base64 of an OCSPRequest (a DER SEQUENCE, 0x30) starts with 'M'.
http_step route(const http_request& req, std::string_view ocsp_path);

// An OCSP answer (RFC 6960 §A.1 application/ocsp-response) with its RFC 5019 caching fields, or 304.
// `s_maxage_cap` (http_cache.s_maxage) adds s-maxage=min(cap, max-age) to cacheable answers.
http_response ocsp_response(const http_request& req, std::shared_ptr<const cached_answer> answer, sys_seconds now,
                            std::optional<std::chrono::seconds> s_maxage_cap = std::nullopt);
// A CRL (RFC 5280 §5; application/pkix-crl, RFC 2585 §4.2) with caching fields: max-age until the
// publisher replaces it at the latest (half its validity, never after nextUpdate), Last-Modified
// (thisUpdate), Expires (that same time) and ETag; If-None-Match / If-Modified-Since give 304.
http_response crl_response(const http_request& req, std::shared_ptr<const served_crl> crl, sys_seconds now);
// 404 for a name that serves no CRL, 503 (not cached) for one that has no valid CRL now.
http_response crl_unavailable(const http_request& req, bool known, std::string_view why);
// /health: 200 or 503 with the report; never cached.
http_response health_response(const http_request& req, bool ok, std::string report);
// /metrics: the Prometheus text exposition; never cached.
http_response metrics_response(const http_request& req, std::string text);

// RFC 9110 §13.1.2-3 against a cached answer's validators: If-None-Match (weak comparison, "*"), else
// If-Modified-Since against thisUpdate (which Last-Modified states). False for answers without
// validators (not cacheable, POST).
bool is_not_modified(const http_request& req, const cached_answer& answer);

}  // namespace ocspkit::responder
