// The proxy's client cache: publishing what it caches for libocspstaple's client check, and fetching
// the misses that library reports (proxy_service.hpp, stapler/client_check.hpp).
#include <set>

#include <sys/stat.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "protocol/ocsp_request.hpp"
#include "stapler/client_miss.hpp"
#include "stapler/daemon/ocsp_request_builder.hpp"
#include "stapler/daemon/proxy_request.hpp"
#include "stapler/daemon/proxy_service.hpp"

namespace ocspkit::stapler::daemon {
namespace asio = boost::asio;

namespace {

std::string_view to_string(proxy_service::client_miss_outcome o) noexcept {
    using o_t = proxy_service::client_miss_outcome;
    switch (o) {
        case o_t::fetching: return "fetching";
        case o_t::cached: return "cached";
        case o_t::joined: return "joined";
        case o_t::negative: return "negative";
        case o_t::busy: return "busy";
        case o_t::unknown_issuer: return "unknown_issuer";
        case o_t::malformed: return "malformed";
    }
    return "unknown";
}

}  // namespace

std::filesystem::path proxy_service::client_cache_path() const {
    return config_.client_cache.value_or(std::filesystem::path{});
}

void proxy_service::open_client_cache() {
    const auto path = client_cache_path();
    if (path.empty()) return;
    // The writer's lock comes first: a second daemon on the same file stops here, before it could take
    // over the first one's miss socket.
    clients_ = std::make_unique<client_publisher>(path, shm_options{config_.client_cache_capacity,
                                                                    config_.client_cache_slot_size});
    // The file is read by the TLS servers, which run as other users.
    ::chmod(path.c_str(), 0644);
    const std::string socket_path = path.string() + std::string(client_miss_socket_suffix);
    std::error_code ignored;
    std::filesystem::remove(socket_path, ignored);  // left by a daemon that did not stop cleanly
    miss_socket_ = std::make_unique<asio::local::datagram_protocol::socket>(server_.control_context());
    boost::system::error_code ec;
    miss_socket_->open(asio::local::datagram_protocol{}, ec);
    if (!ec) miss_socket_->bind(asio::local::datagram_protocol::endpoint(socket_path), ec);
    if (ec) throw std::runtime_error("proxy: cannot listen for client-check misses on " + socket_path + ": " + ec.message());
    // Any local process may report a miss: it can only make the proxy fetch a certificate of a
    // configured issuer, within max_entries and max_upstream_fetches, as its HTTP side already allows.
    ::chmod(socket_path.c_str(), 0666);
    log_->info("proxy: client cache {} ({} entries), misses on {}", path.string(), clients_->size(), socket_path);
}

std::optional<cache_key> proxy_service::client_key_of(std::size_t issuer, const serial_number& serial) const {
    const auto asn1 = serial.to_asn1();
    return client_cache_key(issuer_key_sha1_[issuer], asn1.get(), nullptr);
}

void proxy_service::publish_clients(const proxy_entry& entry, sys_seconds now) {
    if (!clients_) return;
    for (std::size_t i = 0; i < entry.certs.size() && i < entry.serials.size(); ++i) {
        const auto& published = entry.certs[i].current;
        const auto key = published ? client_key_of(entry.issuer, entry.serials[i]) : std::nullopt;
        if (!key) continue;
        auto done = clients_->publish(*key, *published, now);
        if (done == client_publisher::outcome::full) {
            // Entries the proxy evicted are still there (valid until their nextUpdate): make room.
            reconcile_clients();
            done = clients_->publish(*key, *published, now);
        }
        if (done == client_publisher::outcome::full || done == client_publisher::outcome::failed) {
            client_publish_failures_.fetch_add(1);
            log_->warn("proxy: client cache {}: cannot publish {} serial {}: {}", clients_->path().string(),
                       issuers_[entry.issuer].name, entry.serials[i].to_hex(),
                       done == client_publisher::outcome::full
                           ? "full (raise [proxy] client_cache_capacity)"
                           : "the response does not fit a slot (raise [proxy] client_cache_slot_size)");
        }
    }
    client_entries_.store(clients_->size());
}

void proxy_service::reconcile_clients() {
    if (!clients_) return;
    std::set<cache_key> live;
    cache_.for_each([&](const proxy_entry& e) {
        for (const auto& serial : e.serials)
            if (const auto key = client_key_of(e.issuer, serial)) live.insert(*key);
    });
    if (const std::size_t removed = clients_->keep_only(live); removed > 0)
        log_->info("proxy: client cache: removed {} entries the proxy no longer caches", removed);
    client_entries_.store(clients_->size());
}

asio::awaitable<void> proxy_service::receive_misses() {
    // One byte more than the largest valid datagram, so that a longer one is seen as such.
    std::array<std::uint8_t, client_miss_max_size + 1> buffer{};
    for (;;) {
        auto op = miss_socket_->async_receive(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
        const auto [ec, n] = co_await std::move(op);
        if (stopped_ || ec == asio::error::operation_aborted) co_return;
        if (ec) {
            log_->warn("proxy: client-check misses: {}", ec.message());
            continue;
        }
        on_client_miss({buffer.data(), n});
    }
}

void proxy_service::on_client_miss(std::span<const std::uint8_t> datagram) {
    const auto count = [this](client_miss_outcome o) { client_misses_[static_cast<std::size_t>(o)].fetch_add(1); };
    const auto miss = decode_client_miss(datagram);
    if (!miss) {
        count(client_miss_outcome::malformed);
        return;
    }
    std::size_t issuer = issuers_.size();
    for (std::size_t i = 0; i < issuers_.size(); ++i) {
        const auto& sha1 = issuer_hashes_[i][hash_alg::sha1];
        if (std::equal(sha1.key_hash.begin(), sha1.key_hash.end(), miss->issuer_key_sha1.begin(), miss->issuer_key_sha1.end()) &&
            std::equal(sha1.name_hash.begin(), sha1.name_hash.end(), miss->issuer_name_sha1.begin(), miss->issuer_name_sha1.end())) {
            issuer = i;
            break;
        }
    }
    if (issuer == issuers_.size()) {
        count(client_miss_outcome::unknown_issuer);
        return;
    }
    // The request a client with a SHA-1 CertID would send (RFC 5019 §2.1.1's default): one entry, as if
    // asked over HTTP, refreshed from then on like every other.
    const auto serial = miss->serial.to_asn1();
    auto built = build_ocsp_request_for(issuers_[issuer].ca.get(), serial.get(), hash_alg::sha1, false);
    const auto decoded = built ? protocol::decode_request(built->der, {config_.max_cert_ids, config_.http.max_body_bytes})
                               : result<protocol::decoded_request>(built.failure());
    auto request = decoded ? classify(*decoded, issuer_hashes_) : result<proxy_request>(decoded.failure());
    if (!request) {
        count(client_miss_outcome::malformed);
        return;
    }
    const auto now_ms = now();
    std::vector<std::string> evicted;
    {
        std::lock_guard lock(mutex_);
        proxy_entry* e = cache_.find(request->key);
        if (e == nullptr) {
            e = &cache_.emplace(request->key, std::move(built->der), request->issuer, request->serials, now_ms, evicted);
        } else {
            cache_.requested(*e, now_ms);
        }
        const auto now_s = std::chrono::floor<std::chrono::seconds>(now_ms);
        if (e->servable(now_s) != nullptr) {
            // Fetched since the handshake looked (or published under another CertID of the certificate).
            publish_clients(*e, now_s);
            count(client_miss_outcome::cached);
            e = nullptr;
        } else if (e->negative(now_ms)) {
            count(client_miss_outcome::negative);
            e = nullptr;
        }
        if (e == nullptr) {
            forget_files(std::move(evicted));
            return;
        }
    }
    forget_files(std::move(evicted));
    if (in_flight_.contains(request->key)) {
        count(client_miss_outcome::joined);
    } else if (upstream_running_.load() >= config_.max_upstream_fetches) {
        count(client_miss_outcome::busy);
    } else {
        count(client_miss_outcome::fetching);
        asio::co_spawn(server_.control_context(), fetch_or_join(request->key), asio::detached);
    }
}

std::string proxy_service::render_client_metrics() const {
    if (!clients_) return {};
    std::string out =
        "# HELP ocsp_stapler_proxy_client_misses_total Misses reported by libocspstaple's client check, by what they led to.\n"
        "# TYPE ocsp_stapler_proxy_client_misses_total counter\n";
    for (std::size_t i = 0; i < client_miss_outcome_count; ++i)
        out += fmt::format("ocsp_stapler_proxy_client_misses_total{{result=\"{}\"}} {}\n",
                           to_string(static_cast<client_miss_outcome>(i)), client_misses_[i].load());
    out += fmt::format("# HELP ocsp_stapler_proxy_client_cache_entries Answers in the client cache libocspstaple reads.\n"
                       "# TYPE ocsp_stapler_proxy_client_cache_entries gauge\n"
                       "ocsp_stapler_proxy_client_cache_entries {}\n"
                       "# HELP ocsp_stapler_proxy_client_cache_publish_failures_total Answers that could not be put into the client cache (full, or too large for a slot).\n"
                       "# TYPE ocsp_stapler_proxy_client_cache_publish_failures_total counter\n"
                       "ocsp_stapler_proxy_client_cache_publish_failures_total {}\n",
                       client_entries_.load(), client_publish_failures_.load());
    return out;
}

}  // namespace ocspkit::stapler::daemon
