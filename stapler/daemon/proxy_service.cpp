#include "stapler/daemon/proxy_service.hpp"

#include <algorithm>
#include <deque>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "common/prometheus.hpp"
#include "protocol/cache_headers.hpp"
#include "protocol/get_path.hpp"
#include "protocol/ocsp_request.hpp"
#include "stapler/daemon/fetcher.hpp"
#include "stapler/daemon/proxy_request.hpp"

namespace ocspkit::stapler::daemon {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// OCSPResponse with only responseStatus (RFC 6960 §4.2.1): malformedRequest(1), tryLater(3), unauthorized(6).
std::vector<std::uint8_t> error_response(std::uint8_t status) { return {0x30, 0x03, 0x0a, 0x01, status}; }
constexpr std::uint8_t malformed_request = 1;
constexpr std::uint8_t try_later = 3;
constexpr std::uint8_t unauthorized_status = 6;

std::string serials_text(const std::vector<serial_number>& serials) {
    std::string s;
    for (const auto& n : serials) s += (s.empty() ? "" : ",") + n.to_hex();
    return s;
}

}  // namespace

std::string_view to_string(proxy_service::outcome o) noexcept {
    using o_t = proxy_service::outcome;
    switch (o) {
        case o_t::hit: return "hit";
        case o_t::miss: return "miss";
        case o_t::coalesced: return "coalesced";
        case o_t::negative: return "negative";
        case o_t::nonce_forwarded: return "nonce_forwarded";
        case o_t::unavailable: return "unavailable";
        case o_t::unauthorized: return "unauthorized";
        case o_t::malformed: return "malformed";
    }
    return "unknown";
}

// What one request is answered: an OCSPResponse and, for a cached one, what RFC 5019 caching needs.
struct proxy_service::answer {
    std::vector<std::uint8_t> der;
    protocol::answer_validity validity;  // cacheable only for a response from the cache
};

// A fetch under way: later requests for the same key wait for `done`, which is cancelled at the end.
struct proxy_service::fetch_wait {
    asio::steady_timer done;
    explicit fetch_wait(const asio::any_io_executor& ex) : done(ex, asio::steady_timer::time_point::max()) {}
};

proxy_service::proxy_service(proxy_config config, std::vector<proxy_issuer> issuers,
                             const std::filesystem::path& state_dir, schedule_params params,
                             std::chrono::seconds max_skew, const clock_source& clock,
                             std::shared_ptr<spdlog::logger> log)
    : config_(std::move(config)),
      issuers_(std::move(issuers)),
      store_(state_dir / "proxy"),
      params_(params),
      max_skew_(max_skew),
      clock_(clock),
      log_(std::move(log)),
      cache_(config_.max_entries),
      server_(1, config_.listen, config_.http, *this, clock, log_) {
    for (const auto& i : issuers_) {
        issuer_hashes_.push_back(i.hashes);
        const auto& key_hash = i.hashes[hash_alg::sha1].key_hash;
        sha1_digest d{};
        std::copy_n(key_hash.begin(), std::min(key_hash.size(), d.size()), d.begin());
        issuer_key_sha1_.push_back(d);
    }
}

proxy_service::~proxy_service() { stop(); }

time_point proxy_service::now() const { return std::chrono::time_point_cast<milliseconds>(clock_.now()); }

double proxy_service::draw() { return std::uniform_real_distribution<double>(0.0, 1.0)(random_); }

void proxy_service::start() {
    if (auto opened = store_.open(); !opened) throw std::runtime_error("proxy: " + opened.error_message());
    open_client_cache();
    restore();
    server_.listen();
    refresh_timer_ = std::make_unique<asio::steady_timer>(server_.control_context());
    asio::co_spawn(server_.control_context(), refresh_loop(), asio::detached);
    if (miss_socket_) asio::co_spawn(server_.control_context(), receive_misses(), asio::detached);
    thread_ = std::thread([this] { server_.run(); });
    for (const auto& e : server_.local_endpoints())
        log_->info("proxy: listening on {}:{} for {} issuer(s), {} cached response(s) restored",
                   e.address().to_string(), e.port(), issuers_.size(), cache_.size());
}

void proxy_service::stop() {
    if (stopped_.exchange(true)) return;
    server_.stop();
    if (thread_.joinable()) thread_.join();
    // Objects bound to the server's io_context go before it does.
    refresh_timer_.reset();
    in_flight_.clear();
    if (miss_socket_) {
        miss_socket_.reset();
        std::error_code ignored;
        std::filesystem::remove(client_cache_path().string() + std::string(client_miss_socket_suffix), ignored);
    }
    disk_.join();
}

void proxy_service::restore() {
    const auto now_ms = now();
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now_ms);
    std::size_t dropped = 0;
    for (auto& loaded : store_.load_all()) {
        const auto drop = [&](std::string_view why) {
            log_->warn("proxy: {}: {}; removed", loaded.file.string(), why);
            store_.remove_file(loaded.file);
            ++dropped;
        };
        if (!loaded.record) {
            drop(loaded.record.error_message());
            continue;
        }
        auto& record = loaded.record.value();
        const auto decoded = protocol::decode_request(record.request_der, {config_.max_cert_ids, config_.http.max_body_bytes});
        if (!decoded) {
            drop("the stored request does not decode: " + decoded.error_message());
            continue;
        }
        auto request = classify(*decoded, issuer_hashes_);
        if (!request || request->has_nonce) {
            drop(request ? "a request with a nonce" : "its issuer is no longer configured: " + request.error_message());
            continue;
        }
        // Read back through the checks of a fresh answer; an expired one is kept only to go on refusing
        // `good` after a permanent revocation (the publishing rules), and is refetched at once.
        validation_options options{max_skew_, config_.max_response_bytes, std::nullopt, true};
        std::vector<validated_response> validated;
        std::string problem;
        for (const auto& serial : request->serials) {
            const auto asn1 = serial.to_asn1();
            auto v = validate_response_for(issuers_[request->issuer].ca.get(), asn1.get(), record.response_der, now_s, options);
            if (!v) {
                problem = v.error_message();
                break;
            }
            validated.push_back(std::move(v).value());
        }
        if (!problem.empty()) {
            drop("the stored response does not validate: " + problem);
            continue;
        }
        std::vector<std::string> evicted;
        auto& entry = cache_.emplace(request->key, std::move(record.request_der), request->issuer,
                                     std::move(request->serials), now_ms, evicted);
        entry.on_fetched(validated, now_ms, std::nullopt, params_, draw());
        for (const auto& key : evicted) store_.remove(key);
    }
    if (dropped > 0) log_->warn("proxy: {} stored response(s) could not be used", dropped);
    if (clients_) {
        cache_.for_each([&](const proxy_entry& e) { publish_clients(e, now_s); });
        reconcile_clients();
    }
}

void proxy_service::persist(const proxy_entry& entry) {
    const validated_response* published = entry.certs.empty() ? nullptr : entry.certs.front().current ? &*entry.certs.front().current : nullptr;
    if (published == nullptr) return;
    auto job = [this, key = entry.key, record = proxy_record{entry.request_der, published->der}] {
        if (auto saved = store_.save(key, record); !saved) log_->error("proxy: {}", saved.error_message());
    };
    asio::post(disk_, std::move(job));
}

void proxy_service::forget_files(std::vector<std::string> keys) {
    if (keys.empty()) return;
    asio::post(disk_, [this, keys = std::move(keys)] {
        for (const auto& k : keys) store_.remove(k);
    });
}

asio::awaitable<void> proxy_service::serve(protocol::http_request& req, protocol::http_exchange& exchange) {
    const bool get_or_head = req.method == http::verb::get || req.method == http::verb::head;
    protocol::response_head head;
    head.version = req.version;
    head.keep_alive = req.keep_alive;
    if (!get_or_head && req.method != http::verb::post) {
        static constexpr std::string_view text = "Method Not Allowed\n";
        head.status = http::status::method_not_allowed;
        head.content_type = "text/plain";
        head.content_length = text.size();
        head.cache_control = "no-cache";
        head.extra_fields = "Allow: GET, POST, HEAD\r\n";
        auto op = exchange.send(head, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
        co_await std::move(op);
        co_return;
    }
    std::vector<std::uint8_t> der;
    if (req.method == http::verb::post) {
        der = std::move(req.body);
    } else if (auto decoded = protocol::decode_get_path(req.target, "/")) {
        der = std::move(decoded).value();
    }
    auto op = respond(std::move(der));
    const answer a = co_await std::move(op);

    head.content_type = "application/ocsp-response";
    head.content_length = a.der.size();
    std::string validators;
    const auto now_s = clock_.now_seconds();
    if (get_or_head && a.validity.cacheable) {
        // RFC 5019 §6.2, as the responder does: max-age up to nextUpdate and the validators.
        const std::string etag = protocol::response_etag(a.der);
        validators = protocol::get_validator_fields(a.validity, a.der, now_s, etag).value_or("");
        head.max_age_cacheable = true;
        head.max_age = static_cast<std::size_t>(std::max<std::int64_t>(0, (a.validity.next_update - now_s).count()));
        head.extra_fields = validators;
        if (protocol::not_modified(etag, a.validity.this_update, req.if_none_match, req.if_modified_since))
            head.status = http::status::not_modified;
    } else {
        head.cache_control = "no-cache";
    }
    const bool send_content = req.method != http::verb::head && head.status != http::status::not_modified;
    auto send = exchange.send(head, send_content ? std::span<const std::uint8_t>(a.der) : std::span<const std::uint8_t>{});
    co_await std::move(send);
}

void proxy_service::refused(http::status, std::chrono::steady_clock::duration) { refused_requests_.fetch_add(1); }

asio::awaitable<proxy_service::answer> proxy_service::respond(std::vector<std::uint8_t> der) {
    const auto count = [this](outcome o) { requests_[static_cast<std::size_t>(o)].fetch_add(1); };
    const auto decoded = protocol::decode_request(der, {config_.max_cert_ids, config_.http.max_body_bytes});
    if (!decoded) {
        count(outcome::malformed);
        co_return answer{error_response(malformed_request), {}};
    }
    auto request = classify(*decoded, issuer_hashes_);
    if (!request) {
        const bool unauthorized = request.code() == make_error_code(errc::unauthorized);
        count(unauthorized ? outcome::unauthorized : outcome::malformed);
        co_return answer{error_response(unauthorized ? unauthorized_status : malformed_request), {}};
    }
    if (request->has_nonce) {
        count(outcome::nonce_forwarded);
        auto op = forward_uncached(std::move(der), request->issuer, request->serials);
        co_return co_await std::move(op);
    }

    const auto now_ms = now();
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now_ms);
    const auto served = [&](const proxy_entry& e) -> std::optional<answer> {
        const validated_response* r = e.servable(now_s);
        if (r == nullptr) return std::nullopt;
        const bool any_unknown = std::any_of(e.certs.begin(), e.certs.end(), [&](const cert_state& c) {
            return c.usable(now_s)->status == cert_status::unknown;
        });
        return answer{r->der, {!any_unknown, r->this_update, r->next_update}};
    };
    {
        std::vector<std::string> evicted;
        std::optional<answer> hit;
        bool negative = false;
        {
            std::lock_guard lock(mutex_);
            proxy_entry* e = cache_.find(request->key);
            if (e == nullptr) {
                e = &cache_.emplace(request->key, std::move(der), request->issuer, request->serials, now_ms, evicted);
            } else {
                cache_.requested(*e, now_ms);
            }
            hit = served(*e);
            if (hit && e->certs.front().failures > 0) stale_served_.fetch_add(1);
            negative = !hit && e->negative(now_ms);
        }
        forget_files(std::move(evicted));
        if (hit) {
            count(outcome::hit);
            co_return std::move(*hit);
        }
        if (negative) {
            count(outcome::negative);
            co_return answer{error_response(try_later), {}};
        }
    }
    const bool joined = in_flight_.contains(request->key);
    awaiting_upstream_.fetch_add(1);
    auto op = fetch_or_join(request->key);
    const bool fetched = co_await std::move(op);
    awaiting_upstream_.fetch_sub(1);
    std::optional<answer> fresh;
    if (fetched) {
        std::lock_guard lock(mutex_);
        // Looked up again: the entry may have been evicted while the fetch ran.
        if (const proxy_entry* e = cache_.find(request->key)) fresh = served(*e);
    }
    if (!fresh) {
        count(outcome::unavailable);
        co_return answer{error_response(try_later), {}};
    }
    count(joined ? outcome::coalesced : outcome::miss);
    co_return std::move(*fresh);
}

asio::awaitable<proxy_service::answer> proxy_service::forward_uncached(std::vector<std::uint8_t> der, std::size_t issuer,
                                                                       const std::vector<serial_number>& serials) {
    if (upstream_running_.load() >= config_.max_upstream_fetches) co_return answer{error_response(try_later), {}};
    upstream_running_.fetch_add(1);
    fetch_request fr{issuers_[issuer].responder_url, std::move(der), true, config_.upstream_timeout,
                     config_.max_response_bytes};
    auto op = fetch(std::move(fr));
    auto fetched = co_await std::move(op);
    upstream_running_.fetch_sub(1);
    if (!fetched) co_return answer{error_response(try_later), {}};
    // Relayed only once it is a valid answer for every CertID; the client checks its nonce itself.
    const validation_options options{max_skew_, config_.max_response_bytes, std::nullopt, false};
    for (const auto& serial : serials) {
        const auto asn1 = serial.to_asn1();
        if (!validate_response_for(issuers_[issuer].ca.get(), asn1.get(), fetched->body, clock_.now_seconds(), options))
            co_return answer{error_response(try_later), {}};
    }
    co_return answer{std::move(fetched->body), {}};
}

asio::awaitable<bool> proxy_service::fetch_or_join(std::string key) {
    if (const auto it = in_flight_.find(key); it != in_flight_.end()) {
        const auto wait = it->second;
        auto op = wait->done.async_wait(use_tuple);
        co_await std::move(op);
        co_return true;
    }
    if (upstream_running_.load() >= config_.max_upstream_fetches) co_return false;
    const auto wait = std::make_shared<fetch_wait>(server_.control_context().get_executor());
    in_flight_.emplace(key, wait);
    auto op = fetch_entry(key);
    co_await std::move(op);
    in_flight_.erase(key);
    wait->done.cancel();
    co_return true;
}

asio::awaitable<void> proxy_service::fetch_entry(std::string key) {
    fetch_request fr;
    std::size_t issuer = 0;
    std::vector<serial_number> serials;
    {
        std::lock_guard lock(mutex_);
        const proxy_entry* e = cache_.find(key);
        if (e == nullptr) co_return;
        issuer = e->issuer;
        serials = e->serials;
        fr = fetch_request{issuers_[issuer].responder_url, e->request_der, true, config_.upstream_timeout,
                           config_.max_response_bytes};
    }
    upstream_running_.fetch_add(1);
    auto op = fetch(std::move(fr));
    const auto fetched = co_await std::move(op);
    upstream_running_.fetch_sub(1);

    const auto now_ms = now();
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now_ms);
    std::string failure_reason, failure_detail;
    std::vector<validated_response> validated;
    if (!fetched) {
        failure_reason = to_string(fetch_error_of(fetched));
        failure_detail = fetched.error_message();
    } else {
        const validation_options options{max_skew_, config_.max_response_bytes, std::nullopt, false};
        for (const auto& serial : serials) {
            const auto asn1 = serial.to_asn1();
            auto v = validate_response_for(issuers_[issuer].ca.get(), asn1.get(), fetched->body, now_s, options);
            if (!v) {
                failure_reason = to_string(reject_reason_of(v));
                failure_detail = v.error_message();
                break;
            }
            validated.push_back(std::move(v).value());
        }
    }
    std::lock_guard lock(mutex_);
    proxy_entry* e = cache_.find(key);
    if (e == nullptr) co_return;
    if (failure_reason.empty()) {
        const auto applied = e->on_fetched(validated, now_ms, fetched->max_age, params_, draw());
        if (applied.publish) {
            persist(*e);
            publish_clients(*e, now_s);
        }
        if (applied.result == publish_result::ok) {
            upstream_ok_.fetch_add(1);
        } else {
            failure_reason = std::string(to_string(applied.result));
            failure_detail = applied.detail;
        }
    } else {
        e->on_failed(failure_reason, failure_detail, now_ms, params_, draw(), config_.negative_ttl);
    }
    if (!failure_reason.empty()) {
        ++upstream_failures_[failure_reason];
        log_->warn("proxy: {} serial {}: {}: {}", issuers_[issuer].name, serials_text(serials), failure_reason,
                   failure_detail);
    }
    reschedule(e->negative_until ? std::max(e->next_refresh(), *e->negative_until) : e->next_refresh());
}

void proxy_service::reschedule(time_point when) {
    if (when < planned_wake_ && refresh_timer_) refresh_timer_->cancel();
}

asio::awaitable<void> proxy_service::refresh_loop() {
    for (;;) {
        const auto now_ms = now();
        std::vector<std::string> due;
        time_point wake = now_ms + std::chrono::hours(1);
        {
            std::lock_guard lock(mutex_);
            cache_.for_each([&](const proxy_entry& e) {
                if (in_flight_.contains(e.key)) return;
                auto at = e.next_refresh();
                if (e.negative_until) at = std::max(at, *e.negative_until);
                if (at <= now_ms) {
                    due.push_back(e.key);
                } else {
                    wake = std::min(wake, at);
                }
            });
        }
        for (auto& key : due) {
            // Refreshes leave room for misses: a client waiting matters more than a refresh due now.
            if (upstream_running_.load() + 1 >= config_.max_upstream_fetches && config_.max_upstream_fetches > 1) {
                wake = std::min(wake, now_ms + 1s);
                break;
            }
            asio::co_spawn(server_.control_context(), fetch_or_join(std::move(key)), asio::detached);
        }
        planned_wake_ = wake;
        refresh_timer_->expires_after(std::max(milliseconds(0), wake - now_ms));
        auto op = refresh_timer_->async_wait(use_tuple);
        co_await std::move(op);
        planned_wake_ = time_point::max();
        if (stopped_) co_return;
    }
}

asio::awaitable<std::vector<fetch_report>> proxy_service::refresh_all() {
    auto op = asio::co_spawn(server_.control_context(), refresh_all_here(), asio::use_awaitable);
    co_return co_await std::move(op);
}

asio::awaitable<std::vector<fetch_report>> proxy_service::refresh_all_here() {
    std::deque<std::string> keys;
    {
        std::lock_guard lock(mutex_);
        cache_.for_each([&](const proxy_entry& e) { keys.push_back(e.key); });
    }
    const std::vector<std::string> all(keys.begin(), keys.end());
    // Workers, as many as upstream fetches may run, take keys in turn; a fetch refused for lack of room
    // (misses took it) is retried shortly.
    const std::size_t workers = std::min<std::size_t>(std::max<std::size_t>(1, config_.max_upstream_fetches), keys.size());
    std::size_t running = workers;
    asio::steady_timer all_done(server_.control_context(), asio::steady_timer::time_point::max());
    auto worker = [&]() -> asio::awaitable<void> {
        while (!keys.empty()) {
            std::string key = std::move(keys.front());
            keys.pop_front();
            for (;;) {
                auto op = fetch_or_join(key);
                if (co_await std::move(op)) break;
                asio::steady_timer later(server_.control_context(), 50ms);
                auto wait = later.async_wait(use_tuple);
                co_await std::move(wait);
            }
        }
        if (--running == 0) all_done.cancel();
    };
    for (std::size_t i = 0; i < workers; ++i) asio::co_spawn(server_.control_context(), worker(), asio::detached);
    if (workers > 0) {
        auto wait = all_done.async_wait(use_tuple);
        co_await std::move(wait);
    }
    std::vector<fetch_report> out;
    const auto now_s = clock_.now_seconds();
    std::lock_guard lock(mutex_);
    for (const auto& key : all) {
        const proxy_entry* e = cache_.find(key);
        if (e == nullptr) continue;
        fetch_report r;
        r.name = entry_name(*e);
        const auto failed = std::find_if(e->certs.begin(), e->certs.end(), [](const cert_state& c) { return c.failures > 0; });
        if (failed == e->certs.end()) {
            r.ok = true;
            const validated_response* served = e->servable(now_s);
            r.status = served ? std::string(to_string(served->status)) : "none";
        } else {
            // last_error is "<reason>: <detail>" (cert_state::on_failed).
            const auto colon = failed->last_error.find(": ");
            r.reason = failed->last_error.substr(0, colon);
            r.detail = colon == std::string::npos ? "" : failed->last_error.substr(colon + 2);
            r.not_published = r.reason == "stale" || r.reason == "contradiction";
        }
        out.push_back(std::move(r));
    }
    co_return out;
}

std::string proxy_service::entry_name(const proxy_entry& e) const {
    return fmt::format("proxy:{}:{}", issuers_[e.issuer].name, serials_text(e.serials));
}

std::vector<proxy_status_row> proxy_service::status() const {
    const auto now_s = clock_.now_seconds();
    std::vector<proxy_status_row> rows;
    std::lock_guard lock(mutex_);
    cache_.for_each([&](const proxy_entry& e) {
        proxy_status_row row;
        row.name = entry_name(e);
        row.issuer = issuers_[e.issuer].name;
        for (const auto& s : e.serials) row.serials.push_back(s.to_hex());
        const validated_response* r = e.servable(now_s);
        row.status = r ? std::string(to_string(r->status)) : "none";
        if (r) {
            row.this_update = r->this_update;
            row.next_update = r->next_update;
        }
        row.next_refresh = std::chrono::floor<std::chrono::seconds>(e.next_refresh());
        for (const auto& c : e.certs) {
            if (c.last_fetch) row.last_fetch = std::chrono::floor<std::chrono::seconds>(*c.last_fetch);
            row.fetch_failures = std::max(row.fetch_failures, c.failures);
            if (row.last_error.empty()) row.last_error = c.last_error;
        }
        rows.push_back(std::move(row));
    });
    return rows;
}

std::string proxy_service::render_metrics() const {
    std::string out;
    out += "# HELP ocsp_stapler_proxy_requests_total OCSP requests answered by the proxy, by how.\n"
           "# TYPE ocsp_stapler_proxy_requests_total counter\n";
    for (std::size_t i = 0; i < outcome_count; ++i)
        out += fmt::format("ocsp_stapler_proxy_requests_total{{result=\"{}\"}} {}\n", to_string(static_cast<outcome>(i)),
                           requests_[i].load());
    out += fmt::format("# HELP ocsp_stapler_proxy_http_refused_total HTTP requests the proxy could not read (400, 408, 413, 417, 431, 501).\n"
                       "# TYPE ocsp_stapler_proxy_http_refused_total counter\n"
                       "ocsp_stapler_proxy_http_refused_total {}\n",
                       refused_requests_.load());
    out += fmt::format("# HELP ocsp_stapler_proxy_stale_served_total Cached responses served while their refresh was failing.\n"
                       "# TYPE ocsp_stapler_proxy_stale_served_total counter\n"
                       "ocsp_stapler_proxy_stale_served_total {}\n",
                       stale_served_.load());
    out += "# HELP ocsp_stapler_proxy_upstream_fetches_total Upstream fetches of the proxy, by result.\n"
           "# TYPE ocsp_stapler_proxy_upstream_fetches_total counter\n";
    out += fmt::format("ocsp_stapler_proxy_upstream_fetches_total{{result=\"ok\"}} {}\n", upstream_ok_.load());
    std::size_t entries = 0;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [reason, n] : upstream_failures_)
            out += fmt::format("ocsp_stapler_proxy_upstream_fetches_total{{result=\"{}\"}} {}\n",
                               prometheus_label_value(reason), n);
        entries = cache_.size();
    }
    out += fmt::format("# HELP ocsp_stapler_proxy_entries Responses the proxy caches (one per set of CertIDs).\n"
                       "# TYPE ocsp_stapler_proxy_entries gauge\n"
                       "ocsp_stapler_proxy_entries {}\n",
                       entries);
    out += fmt::format("# HELP ocsp_stapler_proxy_upstream_in_flight Upstream fetches of the proxy under way.\n"
                       "# TYPE ocsp_stapler_proxy_upstream_in_flight gauge\n"
                       "ocsp_stapler_proxy_upstream_in_flight {}\n",
                       upstream_running_.load());
    out += render_client_metrics();
    return out;
}

}  // namespace ocspkit::stapler::daemon
