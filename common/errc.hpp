#pragma once
// The project's general error codes, as a std::error_category (like stapler's shm_errc). A subsystem
// whose failure reasons become metric labels or protocol answers (the responder's request_error, the
// stapler's fetch_error, shm_errc) has its own enum and category; everything else uses errc. Either
// travels in result<T> (result.hpp) as a std::error_code with an optional message for the log.
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>

namespace ocspkit {

enum class errc : int {
    // 0 is success for std::error_code, so no enumerator has it.
    malformed = 1,  // bytes or text from outside that do not parse (a request, a file, a URL)
    unsupported,    // well-formed but outside what is implemented
    out_of_range,   // a value that parses but is not allowed (too long, too large, too many)
    not_found,      // the thing named does not exist
    unauthorized,   // not one of ours (an unknown issuer) or not allowed
    conflict,       // would contradict what is stored (e.g. undo a permanent revocation)
    io,             // a file, socket or pipe operation failed
    refused,        // a peer answered and said no (HAProxy refused a response, a non-200 status)
    database,       // the certificate index refused
    crypto,         // OpenSSL refused (the message carries its error queue)
    timeout,        // a deadline passed
    overloaded,     // load shedding
    config,         // a configuration value is wrong
    internal,       // a broken invariant: a bug
    unavailable,    // something needed is down for now and being reconnected (a token key's HSM)
};

// Stable lower-case names (log fields, JSON); message() gives the same words for people.
inline const char* to_string(errc e) noexcept {
    switch (e) {
    case errc::malformed: return "malformed";
    case errc::unsupported: return "unsupported";
    case errc::out_of_range: return "out_of_range";
    case errc::not_found: return "not_found";
    case errc::unauthorized: return "unauthorized";
    case errc::conflict: return "conflict";
    case errc::io: return "io";
    case errc::refused: return "refused";
    case errc::database: return "database";
    case errc::crypto: return "crypto";
    case errc::timeout: return "timeout";
    case errc::overloaded: return "overloaded";
    case errc::config: return "config";
    case errc::internal: return "internal";
    case errc::unavailable: return "unavailable";
    }
    return "unknown";
}

namespace detail {
class errc_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "ocspkit"; }
    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
        case errc::malformed: return "malformed input";
        case errc::unsupported: return "not supported";
        case errc::out_of_range: return "value out of range";
        case errc::not_found: return "not found";
        case errc::unauthorized: return "not authorized";
        case errc::conflict: return "conflicts with what is stored";
        case errc::io: return "input/output error";
        case errc::refused: return "refused by the peer";
        case errc::database: return "database error";
        case errc::crypto: return "cryptographic operation failed";
        case errc::timeout: return "timed out";
        case errc::overloaded: return "overloaded";
        case errc::config: return "configuration error";
        case errc::internal: return "internal error";
        case errc::unavailable: return "temporarily unavailable";
        }
        return "unknown error " + std::to_string(value);
    }
};
}  // namespace detail

// An inline function's static is one object in the whole program, so category identity (which
// error_code comparison uses) holds across libraries without a .cpp.
inline const std::error_category& error_category() noexcept {
    static const detail::errc_category category;
    return category;
}

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

// The category of a subsystem's own reason enum E, whose values are metric labels or protocol answers
// and whose to_string(E) names them. The subsystem defines, next to E:
//   std::error_code make_error_code(E e) noexcept;   // {int(e), the one reason_category<E> object}
//   template <> struct std::is_error_code_enum<E> : std::true_type {};
// and reads the reason back from a failure with reason_of<E>(code).
template <class E>
class reason_category final : public std::error_category {
public:
    explicit constexpr reason_category(const char* name) noexcept : name_(name) {}
    const char* name() const noexcept override { return name_; }
    std::string message(int value) const override { return std::string(to_string(static_cast<E>(value))); }

private:
    const char* name_;
};

// The enum value a code carries if it is of E's category, else nullopt.
template <class E>
    requires std::is_error_code_enum_v<E>
std::optional<E> reason_of(const std::error_code& code) noexcept {
    if (!code || code.category() != make_error_code(E{}).category()) return std::nullopt;
    return static_cast<E>(code.value());
}

}  // namespace ocspkit

template <>
struct std::is_error_code_enum<ocspkit::errc> : std::true_type {};
