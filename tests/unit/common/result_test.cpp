// The error model: errc's category, result<T> carrying a code and an optional message, status.
#include <gtest/gtest.h>

#include <string>
#include <system_error>

#include "common/result.hpp"

namespace ocspkit_test_reasons {
// A subsystem's own reasons, as fetch_error or reject_reason are: values that become metric labels.
enum class fetch_reason { timeout = 1, refused = 2 };
inline const char* to_string(fetch_reason r) noexcept { return r == fetch_reason::timeout ? "timeout" : "refused"; }
inline std::error_code make_error_code(fetch_reason r) noexcept {
    static const ocspkit::reason_category<fetch_reason> category("test.fetch");
    return {static_cast<int>(r), category};
}
}  // namespace ocspkit_test_reasons
template <>
struct std::is_error_code_enum<ocspkit_test_reasons::fetch_reason> : std::true_type {};

namespace ocspkit {
namespace {
using ocspkit_test_reasons::fetch_reason;

result<int> parse_digit(char c) {
    if (c < '0' || c > '9') return error{errc::malformed, std::string("not a digit: ") + c};
    return c - '0';
}

TEST(errc, is_its_own_category_and_names_every_value) {
    const std::error_code ec = errc::database;
    EXPECT_EQ(&ec.category(), &error_category());
    EXPECT_STREQ(ec.category().name(), "ocspkit");
    EXPECT_EQ(ec.message(), "database error");
    EXPECT_TRUE(ec == errc::database);
    EXPECT_FALSE(ec == errc::io);
    // Same value in another category is a different error.
    EXPECT_NE(ec, std::error_code(static_cast<int>(errc::database), std::generic_category()));
    for (int v = static_cast<int>(errc::malformed); v <= static_cast<int>(errc::unavailable); ++v) {
        const auto e = static_cast<errc>(v);
        EXPECT_STRNE(to_string(e), "unknown") << v;
        EXPECT_EQ(make_error_code(e).message().find("unknown"), std::string::npos) << v;
    }
}

TEST(result, carries_a_value_or_a_code_with_its_message) {
    auto ok = parse_digit('7');
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, 7);
    EXPECT_FALSE(ok.code());

    auto bad = parse_digit('x');
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.code(), errc::malformed);
    EXPECT_EQ(bad.error_message(), "not a digit: x");
}

TEST(result, without_a_message_the_code_speaks) {
    result<int> r = error{errc::timeout};
    EXPECT_EQ(r.error_message(), "timed out");
    result<int> sys = error{std::make_error_code(std::errc::permission_denied)};
    EXPECT_EQ(sys.code(), std::errc::permission_denied);
}

TEST(reason_category, carries_a_subsystem_reason_back_out) {
    result<int> r = error{fetch_reason::refused, "connect 127.0.0.1:9: Connection refused"};
    EXPECT_EQ(reason_of<fetch_reason>(r.code()), fetch_reason::refused);
    EXPECT_EQ(r.code().message(), "refused");
    EXPECT_STREQ(r.code().category().name(), "test.fetch");
    EXPECT_EQ(r.error_message(), "connect 127.0.0.1:9: Connection refused");
    // A code of another category is not mistaken for one of these reasons.
    EXPECT_EQ(reason_of<fetch_reason>(make_error_code(errc::malformed)), std::nullopt);
    EXPECT_EQ(reason_of<errc>(r.code()), std::nullopt);
    EXPECT_EQ(reason_of<fetch_reason>(std::error_code{}), std::nullopt);
}

TEST(status, success_or_why_not) {
    status good = success();
    EXPECT_TRUE(good);
    status bad = error{errc::conflict, "keyCompromise is permanent"};
    EXPECT_FALSE(bad);
    EXPECT_EQ(bad.failure().code, errc::conflict);
}

}  // namespace
}  // namespace ocspkit
