#pragma once
// The proxy's side of the client cache (stapler/client_check.hpp): every answer the proxy caches is
// also published under its client key, so that libocspstaple's verify callback (ocsp_client_check_install)
// finds it without asking anyone. The cache file has one writer, this, on the proxy's thread.
//
// The publishing rules are the stapler's (cert_state.hpp compare()): an answer replaces the published one
// only if compare() says so, with the published entry read back from the file, so two cached CertIDs of
// one certificate (a SHA-1 and a SHA-256 one, say) cannot undo each other's newer answer or a permanent
// revocation.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>

#include "stapler/daemon/cert_state.hpp"
#include "stapler/shm_writer.hpp"
#include "stapler/validate.hpp"

namespace ocspkit::stapler::daemon {

// What the client cache holds for `key`, read back as compare() needs it (a permanent revocation is one
// whose entry stays `not_servable` once expired).
std::optional<validated_response> published_client_answer(const stored_entry& entry);

class client_publisher {
public:
    // Opens (or creates) the cache file. Throws std::runtime_error naming the path and the fix.
    client_publisher(const std::filesystem::path& path, shm_options options);

    enum class outcome : std::uint8_t { written, kept, full, failed };
    outcome publish(const cache_key& key, const validated_response& answer, sys_seconds now);
    // Removes every entry whose key is not in `live`; returns how many went.
    std::size_t keep_only(const std::set<cache_key>& live);

    std::size_t size() const noexcept { return writer_->size(); }
    std::uint32_t capacity() const noexcept { return writer_->capacity(); }
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
    std::unique_ptr<shm_writer> writer_;
};

}  // namespace ocspkit::stapler::daemon
