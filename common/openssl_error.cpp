#include "common/openssl_error.hpp"

#include <openssl/err.h>

#include <fmt/format.h>

namespace ocspkit {

std::string drain_openssl_errors() {
    std::string out;
    const char* file = nullptr;
    const char* func = nullptr;
    const char* data = nullptr;
    int line = 0;
    int flags = 0;
    // ERR_get_error_all removes each entry as it reads it, so the queue is empty afterwards and a later
    // failure cannot report this one's causes.
    while (unsigned long code = ERR_get_error_all(&file, &line, &func, &data, &flags)) {
        if (!out.empty()) out += "; ";
        const char* lib = ERR_lib_error_string(code);
        const char* reason = ERR_reason_error_string(code);
        out += fmt::format("{}:{}:{}:{}", lib != nullptr ? lib : fmt::format("lib({})", ERR_GET_LIB(code)),
                           reason != nullptr ? reason : fmt::format("reason({})", ERR_GET_REASON(code)),
                           file != nullptr ? file : "?", line);
        if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0') out += fmt::format(" ({})", data);
    }
    return out;
}

openssl_error::openssl_error(std::string_view context) : openssl_error(context, drain_openssl_errors()) {}

openssl_error::openssl_error(std::string_view context, std::string queue)
    : std::runtime_error(queue.empty() ? std::string(context) : fmt::format("{}: {}", context, queue)),
      queue_text_(std::move(queue)) {}

}  // namespace ocspkit
