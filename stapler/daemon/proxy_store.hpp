#pragma once
// The OCSP proxy's cache on disk, so that it survives restarts (and a responder outage across one):
// <state_dir>/proxy/<64 hex>.ocsp per entry, named by SHA-256 of the entry's key, holding the request
// the proxy sends upstream and the response it serves. Written atomically (common/atomic_file.hpp) each
// time an entry publishes a response, removed when the entry is evicted. Read back at start-up through
// the same checks as a fresh answer (decode, classify, validate), so a file is only ever a hint.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace ocspkit::stapler::daemon {

struct proxy_record {
    std::vector<std::uint8_t> request_der;
    std::vector<std::uint8_t> response_der;
};

// The file format: "OCSPKIT-PROXY 1\n", then the request and the response, each as a 4-octet big-endian
// length and its bytes. Pure.
std::vector<std::uint8_t> encode_proxy_record(const proxy_record& record);
// errc::malformed for anything but exactly that (wrong magic, lengths past the end, trailing bytes,
// empty parts, a part longer than 1 MiB).
result<proxy_record> decode_proxy_record(std::span<const std::uint8_t> bytes);

// "<64 lowercase hex>.ocsp" for a cache key.
std::string proxy_file_name(std::string_view key);

// Blocking file operations: call them on a disk thread.
class proxy_store {
public:
    explicit proxy_store(std::filesystem::path folder) : folder_(std::move(folder)) {}
    const std::filesystem::path& folder() const noexcept { return folder_; }

    // Creates the folder (mode 0700) if needed; errc::io naming it otherwise.
    status open() const;
    status save(std::string_view key, const proxy_record& record) const;
    void remove(std::string_view key) const;

    struct loaded {
        std::filesystem::path file;
        result<proxy_record> record;  // malformed files are reported (and removed by the caller)
    };
    // Every *.ocsp file in the folder.
    std::vector<loaded> load_all() const;
    void remove_file(const std::filesystem::path& file) const;

private:
    std::filesystem::path folder_;
};

}  // namespace ocspkit::stapler::daemon
