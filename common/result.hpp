#pragma once
// Expected failures are values (house rule): result<T> holds a value or an error, and an error is a
// std::error_code (ocspkit::errc, or a subsystem's own enum such as fetch_error whose values become
// metric labels) with an optional message for the log. status is result<> of nothing: success or why not.
#include <cassert>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

#include "common/errc.hpp"

namespace ocspkit {

struct error {
    std::error_code code;
    std::string message;  // for people and logs; may be empty, then code.message() stands in

    error(std::error_code c, std::string m = {}) : code(c), message(std::move(m)) {}
    template <class E>
        requires std::is_error_code_enum_v<E>
    error(E e, std::string m = {}) : code(make_error_code(e)), message(std::move(m)) {}

    // The message if there is one, else the code's text.
    std::string text() const { return message.empty() ? code.message() : message; }
};

template <class T>
class result {
public:
    result(T value) : v_(std::move(value)) {}
    result(error e) : v_(std::move(e)) { assert(std::get<1>(v_).code); }

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }
    T& value() & { assert(has_value()); return std::get<0>(v_); }
    const T& value() const& { assert(has_value()); return std::get<0>(v_); }
    T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const error& failure() const& { assert(!has_value()); return std::get<1>(v_); }
    error&& failure() && { assert(!has_value()); return std::get<1>(std::move(v_)); }
    std::error_code code() const { return has_value() ? std::error_code{} : std::get<1>(v_).code; }
    std::string error_message() const { return failure().text(); }

private:
    std::variant<T, error> v_;
};

using status = result<std::monostate>;
inline status success() { return std::monostate{}; }

}  // namespace ocspkit
