#include "schema/index_reader.hpp"

#include "common/pg.hpp"
#include "schema/cert_index.hpp"
#include "schema/pg_index.hpp"

namespace ocspkit::schema {

std::unique_ptr<index_reader> open_index_reader(const std::string& database) {
    if (pg::database_kind_of(database) == pg::database_kind::postgresql)
        return std::make_unique<pg_index>(pg_index::open(database));
    return std::make_unique<cert_index>(cert_index::open(database, sqlite::open_mode::read_only));
}

}  // namespace ocspkit::schema
