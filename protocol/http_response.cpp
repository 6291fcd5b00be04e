#include "protocol/http_response.hpp"

#include <fmt/format.h>

#include "protocol/cache_headers.hpp"

namespace ocspkit::protocol {
namespace http = boost::beast::http;

std::string_view date_field(sys_seconds now) {
    thread_local sys_seconds formatted_for{};
    thread_local std::string field;
    if (field.empty() || formatted_for != now) {
        field = "Date: " + imf_fixdate(now) + "\r\n";
        formatted_for = now;
    }
    return field;
}

void append_response_head(std::string& out, const response_head& head, sys_seconds now) {
    const auto code = static_cast<unsigned>(head.status);
    const auto reason = http::obsolete_reason(head.status);
    out += head.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    fmt::format_int code_text(code);
    out.append(code_text.data(), code_text.size());
    out += ' ';
    out.append(reason.data(), reason.size());
    out += "\r\n";
    out += date_field(now);
    if (head.max_age_cacheable) {
        out += "Cache-Control: max-age=";
        fmt::format_int age(head.max_age);
        out.append(age.data(), age.size());
        if (head.s_maxage) {
            out += ", s-maxage=";
            fmt::format_int shared(*head.s_maxage);
            out.append(shared.data(), shared.size());
        }
        out += cacheable_directives;
        out += "\r\n";
    } else if (!head.cache_control.empty()) {
        out += "Cache-Control: ";
        out += head.cache_control;
        out += "\r\n";
    }
    out += head.extra_fields;
    // RFC 9110 §15.4.5: a 304 has no content; its Content-Length would describe the full response.
    if (head.status != http::status::not_modified) {
        if (!head.content_type.empty()) {
            out += "Content-Type: ";
            out += head.content_type;
            out += "\r\n";
        }
        out += "Content-Length: ";
        fmt::format_int length(head.content_length);
        out.append(length.data(), length.size());
        out += "\r\n";
    }
    if (!head.keep_alive)
        out += "Connection: close\r\n";
    else if (head.version == 10)
        out += "Connection: keep-alive\r\n";  // HTTP/1.0 closes unless told otherwise
    out += "\r\n";
}

void append_refusal(std::string& out, http::status status, sys_seconds now) {
    const auto reason = http::obsolete_reason(status);
    response_head head;
    head.status = status;
    head.keep_alive = false;
    head.content_type = "text/plain";
    head.content_length = reason.size() + 1;
    append_response_head(out, head, now);
    out.append(reason.data(), reason.size());
    out += '\n';
}

}  // namespace ocspkit::protocol
