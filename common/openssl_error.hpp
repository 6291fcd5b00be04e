#pragma once
// The one error type for OpenSSL failures: the caller's context plus the drained error queue.
#include <stdexcept>
#include <string>
#include <string_view>

namespace ocspkit {

// Empties OpenSSL's thread-local error queue and returns its entries joined by "; ".
std::string drain_openssl_errors();

class openssl_error : public std::runtime_error {
public:
    // Drains the error queue at the failure site so the text belongs to this failure only.
    explicit openssl_error(std::string_view context);
    const std::string& queue_text() const noexcept { return queue_text_; }

private:
    openssl_error(std::string_view context, std::string queue);
    std::string queue_text_;
};

}  // namespace ocspkit
