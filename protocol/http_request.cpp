#include "protocol/http_request.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

namespace ocspkit::protocol {
namespace http = boost::beast::http;

namespace {

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Whether the field line that starts at `name` is continued on the next line (obs-fold, RFC 9112
// §5.2), which Beast accepts and joins silently. Beast passes `name` as a view into the bytes given to
// put(), and calls on_field_impl only once the whole (possibly folded) field and the octet after its
// final CRLF are in those bytes (it looks one octet ahead for a fold). A field value holds no CR (a
// bare CR fails before), so the first CR after the name ends the first physical line, and the octet
// after its LF is readable: a space or tab there is a fold.
bool continued_on_next_line(std::string_view name) {
    const char* p = name.data() + name.size();
    while (*p != '\r') ++p;
    return p[2] == ' ' || p[2] == '\t';
}

}  // namespace

void http_request::reset() {
    method = http::verb::unknown;
    method_text.clear();
    target.clear();
    version = 11;
    keep_alive = false;
    expects_continue = false;
    if_none_match.reset();
    if_modified_since.reset();
    body.clear();
}

http_request_parser::http_request_parser(http_request& out, std::size_t header_limit, std::size_t body_limit)
    : out_(out) {
    out_.reset();
    this->header_limit(static_cast<std::uint32_t>(header_limit));
    this->body_limit(body_limit);
    // Parse the body in the same put() as the header: requests are small and arrive in one segment.
    this->eager(true);
}

void http_request_parser::refuse(http::status status, error_code& ec) {
    refusal_ = status;
    // Any error stops Beast; which one does not matter, refusal() says what to answer.
    ec = status == http::status::not_implemented ? http::error::bad_transfer_encoding : http::error::bad_field;
}

void http_request_parser::on_request_impl(http::verb method, string_view method_str, string_view target,
                                          int version, error_code&) {
    out_.method = method;
    out_.method_text.assign(method_str.data(), method_str.size());
    out_.target.assign(target.data(), target.size());
    out_.version = version >= 11 ? 11 : 10;
}

void http_request_parser::on_response_impl(int, string_view, int, error_code& ec) {
    ec = http::error::bad_version;  // unreachable for a request parser
}

void http_request_parser::on_field_impl(http::field name, string_view name_string, string_view value,
                                        error_code& ec) {
    if (continued_on_next_line(name_string)) return refuse(http::status::bad_request, ec);
    if (is_header_done()) return;  // a trailer field (RFC 9112 §7.1.2): nothing we use may come from it
    switch (name) {
        case http::field::if_none_match: out_.if_none_match.emplace(value.data(), value.size()); break;
        case http::field::if_modified_since: out_.if_modified_since.emplace(value.data(), value.size()); break;
        case http::field::host: ++host_fields_; break;
        case http::field::content_length:
            // Beast refuses a Content-Length after `chunked`; this catches it after any other coding.
            if (has_transfer_encoding_) return refuse(http::status::bad_request, ec);
            has_content_length_ = true;
            break;
        case http::field::transfer_encoding:
            // RFC 9112 §6.1: the only coding we implement is chunked, once; a second field, a list or an
            // unknown coding would be framed differently by someone else. §6.3: with Content-Length the
            // framing is ambiguous (Beast refuses that already when Content-Length came first).
            if (out_.version == 10 || has_content_length_) return refuse(http::status::bad_request, ec);
            if (has_transfer_encoding_ || !boost::beast::iequals(trim_ows(value), "chunked"))
                return refuse(http::status::not_implemented, ec);
            has_transfer_encoding_ = true;
            break;
        case http::field::expect:
            // RFC 9110 §10.1.1: an HTTP/1.0 server ignores Expect; 100-continue is the only expectation.
            if (out_.version == 10) break;
            if (!boost::beast::iequals(trim_ows(value), "100-continue"))
                return refuse(http::status::expectation_failed, ec);
            out_.expects_continue = true;
            break;
        default: break;
    }
}

void http_request_parser::on_header_impl(error_code& ec) {
    // RFC 9112 §3.2: a request without Host on HTTP/1.1, or with more than one, is refused with 400.
    if (host_fields_ > 1 || (host_fields_ == 0 && out_.version == 11)) return refuse(http::status::bad_request, ec);
    out_.keep_alive = this->keep_alive();
}

void http_request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code&) {
    // body_limit() has already refused a larger Content-Length.
    if (content_length) out_.body.reserve(static_cast<std::size_t>(*content_length));
}

std::size_t http_request_parser::on_body_impl(string_view body, error_code&) {
    out_.body.insert(out_.body.end(), body.begin(), body.end());
    return body.size();
}

// Beast counts each chunk against the body limit before its data arrives.
void http_request_parser::on_chunk_header_impl(std::uint64_t, string_view, error_code&) {}

std::size_t http_request_parser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
    out_.body.insert(out_.body.end(), body.begin(), body.end());
    return body.size();
}

void http_request_parser::on_finish_impl(error_code&) {}

}  // namespace ocspkit::protocol
