// The frames between a program and its PKCS#11 helpers: round trips through a real socket pair, and
// frames a broken or hostile helper could send are refused instead of trusted.
#include "keys/helper_protocol.hpp"

#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ocspkit::keys {
namespace {

// Readable test names from the table's first column (a function: a lambda trips -Wshadow in the macro).
template <class Case>
std::string case_name(const testing::TestParamInfo<Case>& info) {
    return info.param.name;
}

using namespace std::chrono_literals;

struct socket_pair {
    int fd[2] = {-1, -1};
    socket_pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0); }
    ~socket_pair() {
        for (int f : fd)
            if (f >= 0) ::close(f);
    }
};

TEST(helper_protocol, frames_round_trip_binary_fields) {
    socket_pair p;
    const std::string digest("\x00\x01\xff\n\r", 5);
    const frame sent{frame_kind::sign, {"SHA256", "pss", digest, ""}};
    ASSERT_TRUE(write_frame(p.fd[0], sent, std::chrono::steady_clock::now() + 1s));
    auto got = read_frame(p.fd[1], std::chrono::steady_clock::now() + 1s);
    ASSERT_TRUE(got) << got.error_message();
    EXPECT_EQ(got->kind, frame_kind::sign);
    EXPECT_EQ(got->fields, sent.fields);
}

TEST(helper_protocol, silence_is_a_timeout_and_a_closed_peer_an_io_error) {
    socket_pair p;
    auto silent = read_frame(p.fd[1], std::chrono::steady_clock::now() + 50ms);
    EXPECT_EQ(silent.code(), make_error_code(errc::timeout));
    ::close(p.fd[0]);
    p.fd[0] = -1;
    auto closed = read_frame(p.fd[1], std::chrono::steady_clock::now() + 1s);
    EXPECT_EQ(closed.code(), make_error_code(errc::io));
}

struct bad_body {
    const char* name;
    std::string body;
};

class bad_frames : public testing::TestWithParam<bad_body> {};

TEST_P(bad_frames, are_malformed) {
    EXPECT_EQ(decode_frame_body(GetParam().body).code(), make_error_code(errc::malformed));
}

INSTANTIATE_TEST_SUITE_P(table, bad_frames,
                         testing::Values(bad_body{"empty", ""}, bad_body{"unknown_kind", "Z"},
                                         bad_body{"truncated_length", std::string("K\x00\x00", 3)},
                                         bad_body{"field_past_the_end", std::string("K\x00\x00\x00\x09" "abc", 8)}),
                         case_name<bad_body>);

TEST(helper_protocol, oversized_frames_are_refused_before_reading_them) {
    socket_pair p;
    const char head[4] = {0x7f, 0x00, 0x00, 0x00};
    ASSERT_EQ(::write(p.fd[0], head, sizeof head), 4);
    auto got = read_frame(p.fd[1], std::chrono::steady_clock::now() + 1s);
    EXPECT_EQ(got.code(), make_error_code(errc::malformed));
}

}  // namespace
}  // namespace ocspkit::keys
