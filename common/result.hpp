#pragma once
// Expected failures are values (house rule): a value or a human-readable error message.
#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace ocspkit {

struct error {
    std::string message;
};

template <class T>
class result {
public:
    result(T value) : v_(std::move(value)) {}
    result(error e) : v_(std::move(e)) {}

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }
    T& value() & { assert(has_value()); return std::get<0>(v_); }
    const T& value() const& { assert(has_value()); return std::get<0>(v_); }
    T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const std::string& error_message() const { assert(!has_value()); return std::get<1>(v_).message; }

private:
    std::variant<T, error> v_;
};

}  // namespace ocspkit
