#include "stapler/daemon/proxy_request.hpp"

#include <fmt/format.h>

namespace ocspkit::stapler::daemon {
namespace {

void append_field(std::string& key, const std::vector<std::uint8_t>& octets) {
    // Lengths are at most 64 (SHA-512) and 20 (serials): one octet each, so the key is unambiguous.
    key += static_cast<char>(octets.size());
    key.append(octets.begin(), octets.end());
}

std::optional<std::size_t> issuer_of(const protocol::requested_cert& cert, std::span<const issuer_hashes> issuers) {
    for (std::size_t i = 0; i < issuers.size(); ++i) {
        const auto& h = issuers[i][cert.alg];
        if (h.name_hash == cert.issuer_name_hash && h.key_hash == cert.issuer_key_hash) return i;
    }
    return std::nullopt;
}

}  // namespace

result<proxy_request> classify(const protocol::decoded_request& request, std::span<const issuer_hashes> issuers) {
    if (request.certs.empty()) return error(errc::malformed, "the request names no certificate");
    proxy_request out;
    out.has_nonce = request.nonce.has_value();
    out.key.reserve(request.certs.size() * 64);
    for (std::size_t i = 0; i < request.certs.size(); ++i) {
        const auto& cert = request.certs[i];
        const auto issuer = issuer_of(cert, issuers);
        if (!issuer) {
            return error(errc::unauthorized, fmt::format("CertID {} (serial {}) names no configured issuer", i + 1,
                                                         cert.serial.to_hex()));
        }
        if (i > 0 && *issuer != out.issuer)
            return error(errc::unauthorized, "the CertIDs name different issuers");
        out.issuer = *issuer;
        out.key += static_cast<char>(cert.alg);
        out.key += cert.hash_params_null ? '\1' : '\0';
        append_field(out.key, cert.issuer_name_hash);
        append_field(out.key, cert.issuer_key_hash);
        append_field(out.key, cert.serial.bytes());
        out.serials.push_back(cert.serial);
    }
    return out;
}

}  // namespace ocspkit::stapler::daemon
