#include "stapler/client_check.hpp"

#include <cstring>

#include <openssl/err.h>

namespace ocspkit::stapler {

namespace {

// The serial's DER into `out`; its size, or 0 when it is missing or too long.
std::size_t serial_der(const ASN1_INTEGER* serial, std::span<std::uint8_t, client_max_serial_der> out) noexcept {
    if (serial == nullptr) return 0;
    const int len = i2d_ASN1_INTEGER(serial, nullptr);
    if (len <= 0 || static_cast<std::size_t>(len) > out.size()) {
        ERR_clear_error();
        return 0;
    }
    unsigned char* p = out.data();
    if (i2d_ASN1_INTEGER(serial, &p) != len) {
        ERR_clear_error();
        return 0;
    }
    return static_cast<std::size_t>(len);
}

const EVP_MD* or_default(const EVP_MD* md, const EVP_MD* fallback) noexcept { return md != nullptr ? md : fallback; }

}  // namespace

std::optional<cache_key> client_cache_key(const sha1_digest& issuer_key_sha1, const ASN1_INTEGER* serial,
                                          const EVP_MD* sha256) noexcept {
    std::array<std::uint8_t, client_key_tag.size() + sizeof(sha1_digest) + client_max_serial_der> input{};
    std::memcpy(input.data(), client_key_tag.data(), client_key_tag.size());
    std::memcpy(input.data() + client_key_tag.size(), issuer_key_sha1.data(), issuer_key_sha1.size());
    const std::size_t prefix = client_key_tag.size() + issuer_key_sha1.size();
    const std::size_t serial_len =
        serial_der(serial, std::span<std::uint8_t, client_max_serial_der>(input.data() + prefix, client_max_serial_der));
    if (serial_len == 0) return std::nullopt;
    cache_key key{};
    unsigned int len = 0;
    if (EVP_Digest(input.data(), prefix + serial_len, key.data(), &len, or_default(sha256, EVP_sha256()), nullptr) != 1 ||
        len != key.size()) {
        ERR_clear_error();
        return std::nullopt;
    }
    return key;
}

std::optional<sha1_digest> issuer_key_sha1(X509* issuer, const EVP_MD* sha1) noexcept {
    sha1_digest d{};
    unsigned int len = 0;
    if (issuer == nullptr || X509_pubkey_digest(issuer, or_default(sha1, EVP_sha1()), d.data(), &len) != 1 ||
        len != d.size()) {
        ERR_clear_error();
        return std::nullopt;
    }
    return d;
}

std::optional<sha1_digest> issuer_name_sha1(X509* issuer, const EVP_MD* sha1) noexcept {
    sha1_digest d{};
    unsigned int len = 0;
    if (issuer == nullptr ||
        X509_NAME_digest(X509_get_subject_name(issuer), or_default(sha1, EVP_sha1()), d.data(), &len) != 1 ||
        len != d.size()) {
        ERR_clear_error();
        return std::nullopt;
    }
    return d;
}

client_answer client_answer_of(const std::error_code& lookup_error, const lookup_result& r) noexcept {
    if (lookup_error) return client_answer::none;
    switch (r.action) {
        case staple_action::staple:
            switch (r.status) {
                case cert_status::good: return client_answer::good;
                case cert_status::revoked: return client_answer::revoked;
                case cert_status::unknown: return client_answer::unknown;
            }
            return client_answer::none;
        // Only an expired permanent revocation is published with this fallback (client_actions()).
        case staple_action::not_servable: return client_answer::revoked;
        case staple_action::no_staple: return client_answer::none;
    }
    return client_answer::none;
}

client_verdict decide(client_answer answer, client_policy policy) noexcept {
    switch (answer) {
        case client_answer::good: return client_verdict::accept;
        case client_answer::revoked: return client_verdict::refuse_revoked;
        case client_answer::unknown: return client_verdict::refuse_unknown;
        case client_answer::none: break;
    }
    return policy == client_policy::hard ? client_verdict::refuse_no_answer : client_verdict::accept;
}

std::size_t encode_client_miss(const sha1_digest& issuer_name_sha1, const sha1_digest& issuer_key_sha1,
                               const ASN1_INTEGER* serial, std::span<std::uint8_t, client_miss_max_size> out) noexcept {
    std::uint8_t* p = out.data();
    std::memcpy(p, client_miss_magic.data(), client_miss_magic.size());
    p += client_miss_magic.size();
    *p++ = client_miss_version;
    std::memcpy(p, issuer_name_sha1.data(), issuer_name_sha1.size());
    p += issuer_name_sha1.size();
    std::memcpy(p, issuer_key_sha1.data(), issuer_key_sha1.size());
    const std::size_t serial_len = serial_der(
        serial, std::span<std::uint8_t, client_max_serial_der>(out.data() + client_miss_header_size, client_max_serial_der));
    return serial_len == 0 ? 0 : client_miss_header_size + serial_len;
}

}  // namespace ocspkit::stapler
