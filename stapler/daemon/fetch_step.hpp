#pragma once
// What one finished fetch changes, as a pure step (house rule 2): the bytes the responder sent (or why
// there are none) and `now`, read once, go in; the certificate's new state and the actions the daemon
// then performs come out. The network (building the request, the HTTP exchange) happens before it in
// stapler_daemon::fetch_once, the disk and the shm cache (persist, put, exports) after it.
//
//   fetch_once:  build request -> fetch() -> on_fetch_result(state, input, now, ...) -> persist / shm /
//                exports as the returned actions say -> the `refresh` report
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <openssl/x509.h>

#include "stapler/daemon/cert_state.hpp"
#include "stapler/validate.hpp"

namespace ocspkit::stapler::daemon {

// The body of a successful HTTP exchange (200, application/ocsp-response, within the size limit).
struct fetched_body {
    std::vector<std::uint8_t> der;
    std::optional<std::chrono::seconds> max_age;  // Cache-Control max-age, when the responder sent one
};
// Why there is no body: no request could be built, or the exchange failed.
struct fetch_problem {
    std::string reason;  // the ocsp_stapler_fetch_total label: internal_error, a fetch_error, ...
    std::string detail;  // one line for the log
};
using fetch_input = std::variant<fetched_body, fetch_problem>;

// Everything besides the state that the step reads. Certificates are borrowed.
struct fetch_step_context {
    X509* leaf = nullptr;
    X509* issuer = nullptr;
    validation_options validation;  // max_skew, max_size, and the nonce that was sent
    schedule_params schedule;
};

enum class fetch_step_kind : std::uint8_t {
    published,      // a new response: persist it, put it into the shm cache, export it
    unchanged,      // the published response came back byte for byte: publish nothing again
    not_published,  // a valid response the publishing rules refuse (stale, contradiction)
    failed,         // no usable response (transport, HTTP, validation)
};

enum class log_severity : std::uint8_t { info, warn, error };

// The summary of a validated response, kept for the log and the report once the response itself has
// been moved into the state (or dropped).
struct response_summary {
    cert_status status = cert_status::unknown;
    sys_seconds this_update{}, next_update{};
};

struct fetch_step_result {
    fetch_step_kind kind = fetch_step_kind::failed;
    // The ocsp_stapler_fetch_total label: "ok", "stale", "contradiction", or the failure's reason.
    std::string result;
    // Failed or not published: `result` again for `refresh`, and its detail (also in state.last_error).
    std::string detail;
    std::optional<response_summary> fetched;  // the validated response, whatever became of it
    // A failure left no usable response: the shm entry must say so ("no response", action_without_response).
    bool no_usable_response = false;
    log_severity severity = log_severity::info;
    std::string log;  // one line, without the certificate's name
};

// Validates `input` at `now` and applies it to `state` (cert_state::on_fetched / on_failed). `u` is the
// jitter draw in [0, 1). Never throws for anything the responder sends.
fetch_step_result on_fetch_result(cert_state& state, const fetch_step_context& context, fetch_input input,
                                  time_point now, double u);

}  // namespace ocspkit::stapler::daemon
