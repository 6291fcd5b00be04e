#pragma once
// What ocsp-responder reads from the certificate index, whatever holds it: cert_index (a SQLite file)
// and pg_index (PostgreSQL, primary or hot standby) both implement it, with the same answers
// (record_rows.hpp decodes both). One reader per thread.
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <openssl/x509.h>

#include "common/serial.hpp"

namespace ocspkit::schema {

// Defined in cert_index.hpp, which includes this header for cert_index's base class.
struct issuer_record;
struct cert_record;
struct changed_cert;

// The index cannot be reached now (a PostgreSQL server restarting, failing over or out of reach): the
// question was fine and may be asked again later. Readers' own exceptions (pg::pg_error, sqlite errors)
// say what went wrong; the responder turns the transient ones into this, and answers them tryLater.
class index_unavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class index_reader {
public:
    virtual ~index_reader() = default;
    virtual std::optional<issuer_record> find_issuer(std::int64_t id) const = 0;
    virtual std::optional<issuer_record> find_issuer_by_cert(X509* ca_cert) const = 0;
    virtual std::optional<cert_record> find_certificate(std::int64_t issuer_id, const serial_number& serial) const = 0;
    virtual std::int64_t current_change_seq() const = 0;
    // Rows and tombstones stamped after `seq`, oldest first, at most `limit` (see cert_index).
    virtual std::vector<changed_cert> changes_since(std::int64_t seq, std::size_t limit = 100000) const = 0;
};

// Opens `database` for reading: a PostgreSQL connection string (pg::database_kind_of) or the path of a
// SQLite file, opened read-only. Throws what cert_index::open or pg_index::open throw.
std::unique_ptr<index_reader> open_index_reader(const std::string& database);

}  // namespace ocspkit::schema
