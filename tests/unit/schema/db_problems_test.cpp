// Database problems are told with the path and the fix (issue 10 "Bad input"): the message texts, and
// access_problem() on real files with real permissions.
#include <fstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "schema/cert_index.hpp"
#include "schema/db_problems.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::schema {
namespace {

using sqlite::open_mode;

TEST(db_problem_messages, name_the_path_and_the_fix) {
    EXPECT_EQ(missing_file_message("/var/lib/ocspkit/index.db"),
              "/var/lib/ocspkit/index.db: database does not exist; create it with `ocspctl init --db "
              "/var/lib/ocspkit/index.db`");
    EXPECT_EQ(missing_folder_message("/var/lib/ocspkit/index.db"),
              "/var/lib/ocspkit/index.db: folder /var/lib/ocspkit does not exist; create it with `install -d -o "
              "ocspkit -g ocspkit -m 0750 /var/lib/ocspkit`, then run `ocspctl init --db /var/lib/ocspkit/index.db "
              "--owner ocspkit:ocspkit`");
    const file_facts f{"ocspkit", "ocspkit", 0640};
    EXPECT_EQ(unwritable_message("/var/lib/ocspkit/index.db", f),
              "cannot write /var/lib/ocspkit/index.db (owned by ocspkit, mode 0640): run ocspctl as root or as "
              "ocspkit, e.g. sudo -u ocspkit ocspctl ...");
    EXPECT_EQ(unwritable_message("/var/lib/ocspkit", file_facts{"root", "root", 0755}, "folder"),
              "cannot write folder /var/lib/ocspkit (owned by root, mode 0755): run ocspctl as root or as root, e.g. "
              "sudo -u root ocspctl ...");
    EXPECT_EQ(unreadable_message("/srv/index.db", file_facts{"ocspkit", "ocspkit", 0600}),
              "cannot read /srv/index.db (owned by ocspkit:ocspkit, mode 0600): run as root or as ocspkit (e.g. sudo "
              "-u ocspkit ocspctl ...), or let the group read it: `chown ocspkit:ocspkit /srv/index.db && chmod 0640 "
              "/srv/index.db`");
    EXPECT_EQ(busy_message("/srv/index.db", std::chrono::milliseconds{5000}),
              "database /srv/index.db is locked by another writer (waited 5000 ms); nothing changed, try again (or "
              "raise --busy-timeout)");
    EXPECT_EQ(corrupt_message("/srv/index.db", "file is not a database"),
              "/srv/index.db is not a readable SQLite database (file is not a database): move it aside and restore "
              "the last backup, e.g. `mv /srv/index.db /srv/index.db.broken && ocspctl restore BACKUP --db "
              "/srv/index.db`");
}

class db_access : public testing::Test {
protected:
    test::temp_dir dir;
    std::filesystem::path db = dir / "index.db";
};

TEST_F(db_access, missing_file_and_folder) {
    EXPECT_EQ(access_problem(db, open_mode::read_write), missing_file_message(db));
    EXPECT_EQ(access_problem(db, open_mode::read_only), missing_file_message(db));
    EXPECT_FALSE(access_problem(db, open_mode::read_write_create));
    const auto deep = dir / "absent" / "index.db";
    EXPECT_EQ(access_problem(deep, open_mode::read_write_create), missing_folder_message(deep));
    try {
        cert_index::open(deep, open_mode::read_write_create);
        FAIL() << "opened a database in a missing folder";
    } catch (const database_error& e) {
        EXPECT_EQ(std::string{e.what()}, missing_folder_message(deep));
    }
}

TEST_F(db_access, corrupt_file_is_named_with_the_restore_fix) {
    std::ofstream(db) << std::string(8192, 'x');
    try {
        cert_index::open(db, open_mode::read_only);
        FAIL() << "opened a file of x";
    } catch (const database_error& e) {
        EXPECT_EQ(std::string{e.what()}, corrupt_message(db, "file is not a database"));
    }
}

// Root passes every permission check, so these need an unprivileged user: they drop to `nobody` in a
// child process (the test binary runs as root in CI containers) or run directly when not root.
TEST_F(db_access, permissions_as_an_unprivileged_user) {
    { cert_index::open(db, open_mode::read_write_create); }
    ::chmod(dir.path().c_str(), 0755);
    ::chmod(db.c_str(), 0644);
    for (const char* side : {"-wal", "-shm"}) ::unlink((db.string() + side).c_str());
    const auto facts = facts_of(db);
    ASSERT_TRUE(facts);

    const auto check = [&] {
        // Readable by others, writable only by the owner; the folder likewise.
        auto ro = access_problem(db, open_mode::read_only);
        if (ro) return std::string{"read_only: "} + *ro;
        auto rw = access_problem(db, open_mode::read_write);
        if (!rw) return std::string{"read_write: no problem found"};
        if (*rw != unwritable_message(db, *facts)) return std::string{"read_write: "} + *rw;
        try {
            cert_index::open(db, open_mode::read_write);
            return std::string{"open(read_write): no error"};
        } catch (const database_error& e) {
            if (std::string{e.what()} != unwritable_message(db, *facts)) return std::string{"open: "} + e.what();
        }
        return std::string{};
    };
    if (::geteuid() != 0) {
        EXPECT_EQ(check(), "");
        return;
    }
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(90);
        const std::string problem = check();
        if (!problem.empty()) {
            std::fprintf(stderr, "%s\n", problem.c_str());
            ::_exit(1);
        }
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace ocspkit::schema
