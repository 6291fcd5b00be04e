#include "stapler/daemon/client_publisher.hpp"

#include <stdexcept>
#include <string>

#include "stapler/client_check.hpp"

namespace ocspkit::stapler::daemon {

std::optional<validated_response> published_client_answer(const stored_entry& entry) {
    validated_response r;
    r.der = entry.der;
    r.status = entry.status;
    r.this_update = entry.this_update;
    r.next_update = entry.next_update;
    if (entry.status == cert_status::revoked) {
        const bool permanent = entry.action_when_expired == staple_action::not_servable;
        r.revocation = revocation_info{entry.this_update,
                                       permanent ? std::nullopt : std::optional<int>{crl_reason_certificate_hold}};
    }
    return r;
}

client_publisher::client_publisher(const std::filesystem::path& path, shm_options options) : path_(path) {
    std::error_code ec;
    writer_ = shm_writer::open(path, options, ec);
    if (!writer_) {
        throw std::runtime_error("proxy: cannot open the client cache " + path.string() + ": " + ec.message() +
                                 (ec == shm_errc::locked ? " (another ocsp-stapler writes it: give each its own "
                                                           "[proxy] client_cache)"
                                                         : " (check that its folder exists and is writable by "
                                                           "the service user)"));
    }
}

client_publisher::outcome client_publisher::publish(const cache_key& key, const validated_response& answer,
                                                    sys_seconds now) {
    std::optional<validated_response> current;
    if (const auto stored = writer_->get(key)) current = published_client_answer(*stored);
    if (compare(current, answer, now) != replace_verdict::replace) return outcome::kept;
    const auto actions = client_actions(answer.status, is_permanent_revocation(answer));
    const cache_entry entry{answer.status, actions.action, actions.action_when_expired, answer.this_update,
                            answer.next_update, answer.der};
    const std::error_code ec = writer_->put(key, entry);
    if (!ec) return outcome::written;
    return ec == shm_errc::full ? outcome::full : outcome::failed;
}

std::size_t client_publisher::keep_only(const std::set<cache_key>& live) {
    std::size_t removed = 0;
    for (const auto& [key, entry] : writer_->entries()) {
        if (!live.contains(key) && writer_->remove(key)) ++removed;
    }
    return removed;
}

}  // namespace ocspkit::stapler::daemon
