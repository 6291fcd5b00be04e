// libFuzzer target: the responder's HTTP/1.x request parser (http_request_parser over Beast's
// basic_parser) on a byte stream of pipelined requests, read the way the server reads a connection:
// bytes arrive in pieces, each request gets a fresh parser over what is left of the buffer, and reading
// stops at the first error or at a request that does not keep the connection alive.
//
// Input: header limit choice, body limit choice, number of cuts, the cuts (2 octets each), then the
// stream. Invariants:
//  - where the stream is cut into pieces changes nothing: the same requests, the same ending (TCP may
//    deliver any segmentation, so a difference would be a smuggling or a desync shape; see same_outcome
//    for the one tolerated difference, a refusal that shows as a wait);
//  - a request's body is never longer than the body limit, the parser never reports a request done
//    and an error at once, and never consumes more than it was given;
//  - reading stops at the first error (Beast's parser would go on after one if it were fed more bytes).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include "protocol/http_request.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

namespace http = boost::beast::http;
using ocspkit::protocol::http_request;
using ocspkit::protocol::http_request_parser;

struct seen_request {
    std::string method_text;
    std::string target;
    unsigned version = 0;
    bool keep_alive = false;
    std::optional<std::string> if_none_match;
    std::optional<std::string> if_modified_since;
    std::vector<std::uint8_t> body;
    bool operator==(const seen_request&) const = default;
};

// How reading the connection ended.
enum class ending { end_of_stream, incomplete, error, connection_close };

struct connection_run {
    std::vector<seen_request> requests;
    ending end = ending::end_of_stream;
    boost::beast::error_code error;
    int refusal = 0;  // the HTTP status the parser refuses the request with, where it says one
    bool operator==(const connection_run&) const = default;
};

// The parser's refusal status, for parsers that name one (the RFC 9112 checks of issue 11 item 1).
template <class Parser>
int refusal_of(const Parser& parser) {
    if constexpr (requires { parser.refusal(); }) {
        const auto r = parser.refusal();
        return r ? static_cast<int>(*r) : 0;
    } else {
        return 0;
    }
}

// The same requests, and the same ending, except how a refusal shows: Beast judges some malformed
// headers by what it has buffered, so the same bytes can be refused with another error (header too
// large instead of a bad version: 431 instead of 400), or, for bare LF line ends, refused when they
// arrive in one piece and waited on when split (the server then times the request out). Nothing is
// served either way; what must never differ is a request served in one reading and not in the other.
// Beast also applies header_limit to what it has buffered while it looks for the end of the header, so a
// header within a few octets of the limit can pass in one piece and be refused (431) when it arrives in
// small pieces: then the refused reading serves a prefix of the other's requests and nothing else.
bool same_outcome(const connection_run& a, const connection_run& b) {
    if (a.requests != b.requests) {
        const connection_run& fewer = a.requests.size() < b.requests.size() ? a : b;
        const connection_run& more = &fewer == &a ? b : a;
        return fewer.end == ending::error && fewer.error == http::error::header_limit &&
               std::equal(fewer.requests.begin(), fewer.requests.end(), more.requests.begin());
    }
    const auto refused_or_waiting = [](ending e) { return e == ending::error || e == ending::incomplete; };
    return a.end == b.end || (refused_or_waiting(a.end) && refused_or_waiting(b.end));
}

// Reads requests from `pieces` as responder/http_server.cpp read_request() does.
connection_run read_connection(const std::vector<std::string_view>& pieces, std::size_t header_limit,
                               std::size_t body_limit) {
    connection_run run;
    http_request req;
    std::string buffer;
    std::size_t next_piece = 0;
    for (;;) {
        if (buffer.empty() && next_piece == pieces.size()) {
            run.end = ending::end_of_stream;
            return run;
        }
        http_request_parser parser(req, header_limit, body_limit);
        while (!parser.is_done()) {
            if (!buffer.empty()) {
                boost::beast::error_code ec;
                const std::size_t used = parser.put(boost::asio::buffer(buffer), ec);
                OCSPKIT_FUZZ_CHECK(used <= buffer.size());
                buffer.erase(0, used);
                if (ec && ec != http::error::need_more) {
                    OCSPKIT_FUZZ_CHECK(!parser.is_done());
                    run.refusal = refusal_of(parser);
                    // Beast's parser does not latch an error: given more bytes after a failure it can go on
                    // and finish a request (found by this target). read_request() in http_server.cpp, like
                    // this loop, therefore stops at the first error and never calls put() again.
                    run.end = ending::error;
                    run.error = ec;
                    return run;
                }
                if (parser.is_done()) break;
                // As in read_request(): after need_more, more bytes before the next put() (Beast asserts so).
                if (used > 0 && !buffer.empty() && ec != http::error::need_more) continue;
            }
            if (next_piece == pieces.size()) {
                run.end = ending::incomplete;
                return run;
            }
            buffer.append(pieces[next_piece++]);
        }
        OCSPKIT_FUZZ_CHECK(req.body.size() <= body_limit);
        OCSPKIT_FUZZ_CHECK(req.version == 10 || req.version == 11);
        run.requests.push_back({req.method_text, req.target, req.version, req.keep_alive, req.if_none_match,
                                req.if_modified_since, req.body});
        if (!req.keep_alive) {
            run.end = ending::connection_close;
            return run;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    ocspkit::fuzz::fuzz_input in(data, size);
    // Small limits as well as the defaults (8 KiB / 16 KiB), so that both limits are reached.
    const std::size_t header_limit = 64 + in.byte() * 64;
    const std::size_t body_limit = in.byte() * 72;
    std::vector<std::size_t> cuts(in.byte() % 16);
    for (auto& c : cuts) c = static_cast<std::size_t>(in.integer(2));
    const auto stream_bytes = in.rest();
    const std::string_view stream(reinterpret_cast<const char*>(stream_bytes.data()), stream_bytes.size());

    std::vector<std::string_view> one_piece;
    if (!stream.empty()) one_piece.push_back(stream);
    const connection_run whole = read_connection(one_piece, header_limit, body_limit);

    std::vector<std::string_view> pieces;
    std::size_t from = 0;
    std::sort(cuts.begin(), cuts.end());
    for (const std::size_t c : cuts) {
        const std::size_t at = std::min(c, stream.size());
        if (at <= from) continue;
        pieces.push_back(stream.substr(from, at - from));
        from = at;
    }
    if (from < stream.size()) pieces.push_back(stream.substr(from));
    const connection_run split = read_connection(pieces, header_limit, body_limit);
    if (!same_outcome(split, whole)) {
        for (const auto* r : {&whole, &split})
            std::fprintf(stderr, "%s: %zu requests, ending %d, error '%s', refusal %d\n", r == &whole ? "whole" : "split",
                         r->requests.size(), static_cast<int>(r->end), r->error.message().c_str(), r->refusal);
    }
    OCSPKIT_FUZZ_CHECK(same_outcome(split, whole));

    // Byte by byte, the most extreme segmentation (bounded: it is quadratic in the header size).
    if (stream.size() <= 512) {
        std::vector<std::string_view> bytes;
        for (std::size_t i = 0; i < stream.size(); ++i) bytes.push_back(stream.substr(i, 1));
        OCSPKIT_FUZZ_CHECK(same_outcome(read_connection(bytes, header_limit, body_limit), whole));
    }
    return 0;
}
