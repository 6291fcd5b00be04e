// write_file_atomically: content, exact mode whatever the umask, no temporary left behind on success or
// failure, and errors as values naming the file.
#include "common/atomic_file.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/support/test_pki.hpp"

namespace ocspkit {
namespace {

namespace fs = std::filesystem;
using bytes_t = std::vector<std::uint8_t>;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0);
    return st.st_mode & 07777;
}

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

TEST(write_file_atomically, writes_content_and_mode_without_leftovers) {
    test::temp_dir dir;
    const auto file = dir / "www.der";
    const bytes_t first{1, 2, 3, 0, 255};
    const mode_t old_umask = ::umask(077);  // the mode must not depend on the daemon's umask
    auto s = write_file_atomically(file, first);
    ::umask(old_umask);
    ASSERT_TRUE(s) << s.error_message();
    EXPECT_EQ(slurp(file), std::string(first.begin(), first.end()));
    EXPECT_EQ(mode_of(file), 0644u);
    EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"www.der"});
}

TEST(write_file_atomically, overwrites_and_applies_mode) {
    test::temp_dir dir;
    const auto file = dir / "x.ocsp";
    ASSERT_TRUE(write_file_atomically(file, bytes_t(5000, 'a')));
    auto s = write_file_atomically(file, bytes_t{'n', 'e', 'w'}, 0600);
    ASSERT_TRUE(s) << s.error_message();
    EXPECT_EQ(slurp(file), "new");
    EXPECT_EQ(mode_of(file), 0600u);
    EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"x.ocsp"});
    ASSERT_TRUE(write_file_atomically(file, bytes_t{}));
    EXPECT_EQ(slurp(file), "");
}

TEST(write_file_atomically, missing_directory_is_an_error_value) {
    test::temp_dir dir;
    const auto file = dir / "no" / "such" / "dir.der";
    auto s = write_file_atomically(file, bytes_t{1});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.code(), errc::io);
    EXPECT_NE(s.error_message().find("dir.der.tmp."), std::string::npos) << s.error_message();
}

TEST(write_file_atomically, target_is_a_directory_leaves_no_tmp) {
    test::temp_dir dir;
    fs::create_directory(dir / "taken");
    fs::create_directory(dir / "taken" / "child");  // rename() of a file onto a non-empty directory fails
    auto s = write_file_atomically(dir / "taken", bytes_t{1});
    ASSERT_FALSE(s);
    EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"taken"});
}

TEST(write_file_atomically, a_relative_path_syncs_the_current_directory) {
    test::temp_dir dir;
    const fs::path old_cwd = fs::current_path();
    fs::current_path(dir.path());
    auto s = write_file_atomically("relative.der", bytes_t{7, 8});
    fs::current_path(old_cwd);
    ASSERT_TRUE(s) << s.error_message();
    EXPECT_EQ(slurp(dir / "relative.der"), std::string("\x07\x08"));
}

}  // namespace
}  // namespace ocspkit
