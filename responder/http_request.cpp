#include "responder/http_request.hpp"

namespace ocspkit::responder {
namespace http = boost::beast::http;

void http_request::reset() {
    method = http::verb::unknown;
    method_text.clear();
    target.clear();
    version = 11;
    keep_alive = false;
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

void http_request_parser::on_field_impl(http::field name, string_view, string_view value, error_code&) {
    if (name == http::field::if_none_match)
        out_.if_none_match.emplace(value.data(), value.size());
    else if (name == http::field::if_modified_since)
        out_.if_modified_since.emplace(value.data(), value.size());
}

void http_request_parser::on_header_impl(error_code&) { out_.keep_alive = this->keep_alive(); }

void http_request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code&) {
    // body_limit() has already refused a larger Content-Length.
    if (content_length) out_.body.reserve(static_cast<std::size_t>(*content_length));
}

std::size_t http_request_parser::on_body_impl(string_view body, error_code&) {
    out_.body.insert(out_.body.end(), body.begin(), body.end());
    return body.size();
}

void http_request_parser::on_chunk_header_impl(std::uint64_t, string_view, error_code&) {}

std::size_t http_request_parser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
    out_.body.insert(out_.body.end(), body.begin(), body.end());
    return body.size();
}

void http_request_parser::on_finish_impl(error_code&) {}

}  // namespace ocspkit::responder
