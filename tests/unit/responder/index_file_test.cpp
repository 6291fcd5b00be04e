// The index as a file: the start-up access check and the "replaced or removed under us" check that
// /health and the change watcher use. Messages are what an operator reads, so the tests pin them.
#include "responder/index_file.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "schema/cert_index.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::responder {
namespace {

namespace fs = std::filesystem;

void make_index(const fs::path& db) {
    (void)schema::cert_index::open(db, sqlite::open_mode::read_write_create);
}

TEST(index_access_problem, a_missing_folder_says_how_to_create_it) {
    const test::temp_dir dir;
    const fs::path db = dir / "missing" / "index.db";
    const std::string problem = index_access_problem(db);
    EXPECT_TRUE(problem.starts_with(fmt::format("index folder {} does not exist; create it: `install -d -o ",
                                                (dir / "missing").string())))
        << problem;
    EXPECT_NE(problem.find(fmt::format("`ocspctl init --db {} --owner ", db.string())), std::string::npos) << problem;
}

TEST(index_access_problem, a_missing_file_says_ocspctl_init) {
    const test::temp_dir dir;
    const fs::path db = dir / "index.db";
    const std::string problem = index_access_problem(db);
    EXPECT_TRUE(problem.starts_with(fmt::format("index {} does not exist; make it with `ocspctl init --db {} --owner ",
                                                db.string(), db.string())))
        << problem;
}

TEST(index_access_problem, a_folder_in_place_of_the_file_is_refused) {
    const test::temp_dir dir;
    fs::create_directory(dir / "index.db");
    EXPECT_EQ(index_access_problem(dir / "index.db"), fmt::format("index {} is not a regular file", (dir / "index.db").string()));
}

TEST(index_access_problem, a_usable_index_has_no_problem) {
    const test::temp_dir dir;
    make_index(dir / "index.db");
    EXPECT_EQ(index_access_problem(dir / "index.db"), "");
}

TEST(index_access_problem, a_service_user_that_cannot_create_the_shm_is_told_the_chown) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to another user";
    const test::temp_dir dir;
    const fs::path db = dir / "index.db";
    make_index(db);  // WAL mode; the last connection closed, so no -shm remains
    ASSERT_FALSE(fs::exists(db.string() + "-shm"));
    fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
    fs::permissions(db, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                            fs::perms::others_read);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
        const std::string problem = index_access_problem(db);
        const bool named = problem.find(fmt::format("cannot create index.db-shm in {}", dir.path().string())) !=
                               std::string::npos &&
                           problem.find(fmt::format("{} {}*`", dir.path().string(), db.string())) != std::string::npos &&
                           problem.find("fix: `chown ") != std::string::npos;
        ::_exit(named ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(index_file_problem, notices_a_replaced_and_a_removed_file) {
    const test::temp_dir dir;
    const fs::path db = dir / "index.db";
    make_index(db);
    const auto opened = identify_file(db);
    ASSERT_TRUE(opened);
    EXPECT_EQ(index_file_problem(db, *opened), "");

    make_index(dir / "other.db");
    const auto other = identify_file(dir / "other.db");
    ASSERT_TRUE(other);
    fs::rename(dir / "other.db", db);
    EXPECT_EQ(index_file_problem(db, *opened),
              fmt::format("index {} was replaced (inode {}, now {}) and is not reopened yet; answers come from the "
                          "file opened before",
                          db.string(), opened->inode, other->inode));

    fs::remove(db);
    EXPECT_EQ(index_file_problem(db, *opened),
              fmt::format("index {}: No such file or directory; still answering from the file opened before",
                          db.string()));
}

}  // namespace
}  // namespace ocspkit::responder
