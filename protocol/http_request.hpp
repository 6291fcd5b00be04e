#pragma once
// One HTTP/1.x request as the responder needs it, and the incremental parser that fills it. The parser
// is Beast's basic_parser with our own callbacks: it keeps only the method, target, version, the two
// conditional-request headers and the body, in storage owned by the connection and reused from one
// request to the next, so reading a request allocates nothing once a connection is warm.
//
// On top of Beast's own checks it holds requests to RFC 9112 where a lenient reading would let a proxy
// in front and this server disagree on where a request ends (request smuggling), and refuses them:
//  - Transfer-Encoding other than exactly one `chunked` (§6.1): 501; `chunked` with Content-Length
//    (§6.3): 400; Transfer-Encoding in an HTTP/1.0 request (§6.1): 400;
//  - obs-fold, a field line continued on the next (§5.2): 400;
//  - HTTP/1.1 without Host, or more than one Host (§3.2): 400;
//  - an expectation other than 100-continue (RFC 9110 §10.1.1): 417.
// Chunked bodies are supported and count against the same body limit as Content-Length bodies;
// trailer fields are read and ignored.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/status.hpp>

namespace ocspkit::protocol {

struct http_request {
    boost::beast::http::verb method = boost::beast::http::verb::unknown;
    std::string method_text;
    std::string target;
    unsigned version = 11;  // 10 or 11
    bool keep_alive = false;
    // Expect: 100-continue on HTTP/1.1: the client waits for "100 Continue" before sending the body.
    bool expects_continue = false;
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

    // Whether a complete request that passed every check above has been read. Hides Beast's is_done(),
    // which also says true when on_header_impl refused a request without a body.
    bool is_done() const noexcept { return !refusal_ && basic_parser::is_done(); }

    // After put() failed: the status the request is refused with when the failure is one of the
    // checks above (501, 417 or 400), nullopt when it is Beast's own (malformed syntax, limits).
    std::optional<boost::beast::http::status> refusal() const noexcept { return refusal_; }

private:
    using error_code = boost::beast::error_code;
    using string_view = boost::beast::string_view;

    void refuse(boost::beast::http::status status, error_code& ec);

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
    std::optional<boost::beast::http::status> refusal_;
    unsigned host_fields_ = 0;
    bool has_transfer_encoding_ = false;
    bool has_content_length_ = false;
};

}  // namespace ocspkit::protocol
