#include "tests/unit/schema/index_backends.hpp"

#include <cctype>

namespace ocspkit::test {

std::string backend_name(const testing::TestParamInfo<backend>& info) {
    return info.param == backend::sqlite ? "sqlite" : "postgresql";
}

postgres_server& shared_postgres() {
    // A function-local static: started by the first PostgreSQL test, stopped when the process exits.
    static postgres_server server;
    return server;
}

std::string fresh_database(backend kind, const std::filesystem::path& folder) {
    if (kind == backend::sqlite) return (folder / "index.db").string();
    // PostgreSQL names are at most 63 bytes; the counter keeps truncated names apart.
    static int made = 0;
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "t" + std::to_string(++made) + "_";
    for (const char c : std::string{info->test_suite_name()} + "_" + info->name()) {
        name += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
    }
    return shared_postgres().create_database(name.substr(0, 63));
}

}  // namespace ocspkit::test
