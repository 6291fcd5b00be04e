#pragma once
// The index tests run on both backends: value-parameterised over `backend`, each test gets a fresh
// database, a SQLite file in its temp folder or a new database on the one PostgreSQL server of the test
// process. CMake runs all */postgresql tests of a binary in one process, so the server starts once.
#include <array>
#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "schema/index_store.hpp"
#include "tests/support/postgres_server.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::test {

enum class backend { sqlite, postgresql };
inline constexpr std::array<backend, 2> all_backends{backend::sqlite, backend::postgresql};

// "sqlite", "postgresql": the last part of a parameterised test's name.
std::string backend_name(const testing::TestParamInfo<backend>& info);

// The PostgreSQL server of this test process: started at first use, stopped at exit.
postgres_server& shared_postgres();

// A new database for the running test: `folder`/index.db, or a PostgreSQL database named after the test.
std::string fresh_database(backend kind, const std::filesystem::path& folder);

// A fixture with a fresh, initialised index on the backend of the test's parameter.
class index_fixture : public testing::TestWithParam<backend> {
protected:
    temp_dir dir;
    std::string db = fresh_database(GetParam(), dir.path());
    std::unique_ptr<schema::index_store> store = schema::open_index_store(db, sqlite::open_mode::read_write_create);
    schema::index_store& index = *store;
};

}  // namespace ocspkit::test
