#pragma once
// One HTTP/1.x request as the responder needs it, and the incremental parser that fills it. The parser
// is Beast's basic_parser with our own callbacks: it keeps only the method, target, version, the two
// conditional-request headers and the body, in storage owned by the connection and reused from one
// request to the next, so reading a request allocates nothing once a connection is warm.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/basic_parser.hpp>

namespace ocspkit::responder {

struct http_request {
    boost::beast::http::verb method = boost::beast::http::verb::unknown;
    std::string method_text;
    std::string target;
    unsigned version = 11;  // 10 or 11
    bool keep_alive = false;
    std::optional<std::string> if_none_match;
    std::optional<std::string> if_modified_since;
    std::vector<std::uint8_t> body;

    // Empties every field but keeps the capacity.
    void reset();
};

class http_request_parser final : public boost::beast::http::basic_parser<true> {
public:
    // Fills `out` (reset first). header_limit and body_limit as in Beast.
    http_request_parser(http_request& out, std::size_t header_limit, std::size_t body_limit);

private:
    using error_code = boost::beast::error_code;
    using string_view = boost::beast::string_view;

    void on_request_impl(boost::beast::http::verb method, string_view method_str, string_view target, int version,
                         error_code& ec) override;
    void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
    void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                       error_code& ec) override;
    void on_header_impl(error_code& ec) override;
    void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& ec) override;
    std::size_t on_body_impl(string_view body, error_code& ec) override;
    void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& ec) override;
    std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
    void on_finish_impl(error_code& ec) override;

    http_request& out_;
};

}  // namespace ocspkit::responder
