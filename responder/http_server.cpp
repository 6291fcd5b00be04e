#include "responder/http_server.hpp"

#include <spdlog/spdlog.h>

#include "responder/http_policy.hpp"

namespace ocspkit::responder {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using steady = std::chrono::steady_clock;

namespace {

responder_metrics::method method_of(http::verb v) {
    switch (v) {
        case http::verb::get: return responder_metrics::method::get;
        case http::verb::post: return responder_metrics::method::post;
        case http::verb::head: return responder_metrics::method::head;
        default: return responder_metrics::method::other;
    }
}

std::string cert_states_text(const answer_metadata& m) {
    std::string s;
    for (auto st : m.cert_states) {
        if (!s.empty()) s += ',';
        s += cert_state_name(st);
    }
    return s.empty() ? "-" : s;
}

}  // namespace

class http_server::ocsp_handler final : public protocol::http_handler {
public:
    ocsp_handler(ocsp_service& service, responder_metrics& metrics, const clock_source& clock)
        : service_(service), metrics_(metrics), clock_(clock),
          access_(service.config().log.access_log ? spdlog::get("access") : nullptr) {}

    asio::awaitable<void> serve(http_request& req, protocol::http_exchange& exchange) override {
        const auto started = steady::now();
        const http_response r = co_await respond(req, exchange);
        if (!co_await exchange.send(r.head, r.content())) co_return;

        const auto latency = steady::now() - started;
        metrics_.count_request(method_of(req.method), static_cast<unsigned>(r.head.status), latency);
        if (access_) {
            const cached_answer* ocsp = r.answer.get();
            access_->info("{} \"{} {:.120} HTTP/{}.{}\" {} {} ocsp={} certs={} issuer=\"{}\" {}us",
                          exchange.remote().address().to_string(), req.method_text, req.target, req.version / 10,
                          req.version % 10, static_cast<unsigned>(r.head.status), r.content().size(),
                          ocsp ? ocsp_status_name(ocsp->meta.status) : "-", ocsp ? cert_states_text(ocsp->meta) : "-",
                          ocsp ? ocsp->issuer_name : "",
                          std::chrono::duration_cast<std::chrono::microseconds>(latency).count());
        }
    }

    void refused(http::status status, steady::duration elapsed) override {
        metrics_.count_request(responder_metrics::method::other, static_cast<unsigned>(status), elapsed);
    }

private:
    // The answer to one request read whole: route() it, fetch what it asks for, format (http_policy.hpp).
    asio::awaitable<http_response> respond(http_request& req, const protocol::http_exchange& exchange) {
        http_step step = route(req, service_.config().server.path);
        switch (step.what) {
            case http_step::kind::respond: co_return std::move(step.response);
            case http_step::kind::report_health: {
                auto report = co_await service_.health();
                co_return health_response(req, report.ok, std::move(report.text));
            }
            case http_step::kind::report_metrics: {
                auto g = service_.gauges();
                g.open_connections = exchange.open_connections();
                co_return metrics_response(req, metrics_.render(g));
            }
            case http_step::kind::serve_crl: {
                // From memory, on this thread: the publisher signs on its own.
                const auto now = clock_.now_seconds();
                auto found = service_.find_crl(step.crl_name);
                if (found.what == crl_publisher::lookup::kind::ok) co_return crl_response(req, std::move(found.crl), now);
                co_return crl_unavailable(req, found.what != crl_publisher::lookup::kind::unknown, found.why);
            }
            case http_step::kind::answer_ocsp: break;
        }
        // A cache hit is answered here without leaving the network thread; a miss (or a request that did
        // not decode, answered malformedRequest) goes to the signing pool.
        const auto der = step.ocsp_request(req);
        auto answer = der.empty() ? nullptr : service_.find_cached(der);
        if (!answer)
            answer = co_await service_.answer_miss(step.from_get_path ? std::move(step.decoded_get_path)
                                                                      : std::move(req.body));
        metrics_.count_ocsp(answer->meta.status);
        for (auto st : answer->meta.cert_states) metrics_.count_cert_state(st);
        co_return ocsp_response(req, std::move(answer), clock_.now_seconds(), service_.config().http_cache.s_maxage);
    }

    ocsp_service& service_;
    responder_metrics& metrics_;
    const clock_source& clock_;
    std::shared_ptr<spdlog::logger> access_;
};

http_server::http_server(unsigned network_threads, ocsp_service& service, responder_metrics& metrics,
                         const clock_source& clock)
    : handler_(std::make_unique<ocsp_handler>(service, metrics, clock)),
      server_(std::make_unique<protocol::http_server>(network_threads, service.config().server.listen,
                                                      service.config().server.http_limits(), *handler_, clock)) {}

http_server::~http_server() = default;

}  // namespace ocspkit::responder
