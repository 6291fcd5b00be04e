// import-cfssl below the CLI: record_of_cfssl_row's table of statuses and reasons (good, each revocation
// reason, certificateHold, removeFromCRL, and the refusals); a SQLite certdb in CFSSL's schema with the
// time formats go-sqlite3 writes (plain, with zone, fractions, RFC 3339, Go's zero time) read back; and
// the import on both index backends: issuer matched by the row's authority key identifier, by the
// certificate's own, and by signature; an unregistered CA's rows counted; a bad row refusing the whole
// import unless skip_bad.
#include "schema/cfssl_import.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>

#include "common/ascii.hpp"
#include "common/cert_id.hpp"
#include "common/pem.hpp"
#include "common/sqlite.hpp"
#include "tests/unit/schema/index_backends.hpp"

namespace ocspkit::schema {
namespace {

using namespace std::chrono_literals;
const sys_seconds t0 = test::reference_time;

std::string pem_of(X509* cert) {
    ossl::bio_ptr bio{BIO_new(BIO_s_mem())};
    PEM_write_bio_X509(bio.get(), cert);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return {data, static_cast<std::size_t>(len)};
}

std::string decimal_of(const std::string& hex) {
    return std::to_string(std::stoull(hex, nullptr, 16));
}

struct row_case {
    const char* name;
    const char* status;
    std::optional<std::int64_t> reason;
    bool revoked_at;
    std::optional<cert_status> expect;  // nullopt: refused
    std::optional<revocation_reason> expect_reason;
};

const row_case row_cases[] = {
    {"good", "good", 0, false, cert_status::good, std::nullopt},
    {"revoked_unspecified", "revoked", 0, true, cert_status::revoked, std::nullopt},
    {"revoked_no_reason", "revoked", std::nullopt, true, cert_status::revoked, std::nullopt},
    {"key_compromise", "revoked", 1, true, cert_status::revoked, revocation_reason::key_compromise},
    {"aa_compromise", "revoked", 10, true, cert_status::revoked, revocation_reason::aa_compromise},
    {"hold", "revoked", 6, true, cert_status::hold, revocation_reason::certificate_hold},
    {"remove_from_crl_is_good", "revoked", 8, true, cert_status::good, std::nullopt},
    {"unknown_status", "unknown", 0, false, std::nullopt, std::nullopt},
    {"reason_7", "revoked", 7, true, std::nullopt, std::nullopt},
    {"revoked_without_time", "revoked", 1, false, std::nullopt, std::nullopt},
};

// Names the case in ctest's listing instead of the parameter's bytes.
void PrintTo(const row_case& c, std::ostream* os) { *os << c.name; }

class cfssl_row_test : public testing::TestWithParam<row_case> {};

TEST_P(cfssl_row_test, maps_status_and_reason) {
    const auto& c = GetParam();
    static const auto ca = test::make_ca("CFSSL row CA");
    static const auto leaf = test::make_cert(ca, "leaf", test::key_type::ec_p256, {.serial_hex = "1A2B"});
    issuer_record issuer;
    issuer.id = 7;
    cfssl_row row;
    row.serial_number = "6699";
    row.status = c.status;
    row.reason = c.reason;
    if (c.revoked_at) row.revoked_at_unix = (t0 - 1h).time_since_epoch().count();
    auto rec = record_of_cfssl_row(row, leaf.cert.get(), ca.cert.get(), issuer);
    if (!c.expect) {
        ASSERT_FALSE(rec.has_value());
        EXPECT_EQ(rec.code(), errc::malformed);
        return;
    }
    ASSERT_TRUE(rec.has_value()) << rec.error_message();
    EXPECT_EQ(rec->status, *c.expect);
    EXPECT_EQ(rec->reason, c.expect_reason);
    EXPECT_EQ(rec->issuer_id, 7);
    EXPECT_EQ(rec->serial.to_hex(), "1A2B");
    EXPECT_TRUE(rec->cert_der.has_value());
    if (*c.expect != cert_status::good) {
        EXPECT_EQ(rec->revocation_time, t0 - 1h);
    }
    EXPECT_TRUE(check_consistency(*rec).has_value());
}

INSTANTIATE_TEST_SUITE_P(cases, cfssl_row_test, testing::ValuesIn(row_cases),
                         [](const testing::TestParamInfo<row_case>& c) { return std::string(c.param.name); });

TEST(cfssl_row, a_serial_that_is_not_the_certificates_is_refused) {
    const auto ca = test::make_ca("CFSSL row CA");
    const auto leaf = test::make_cert(ca, "leaf", test::key_type::ec_p256, {.serial_hex = "1A2B"});
    cfssl_row row;
    row.serial_number = "6698";
    row.status = "good";
    const auto rec = record_of_cfssl_row(row, leaf.cert.get(), ca.cert.get(), issuer_record{});
    ASSERT_FALSE(rec.has_value());
    EXPECT_NE(rec.error_message().find("not the certificate's serial"), std::string::npos) << rec.error_message();
}

// A SQLite certdb in CFSSL's schema, written as go-sqlite3 writes it.
class certdb_file {
public:
    explicit certdb_file(const std::filesystem::path& path) : path_(path), db_(path, sqlite::open_mode::read_write_create) {
        db_.exec("CREATE TABLE certificates (serial_number blob NOT NULL, authority_key_identifier blob NOT NULL, "
                 "ca_label blob, status blob NOT NULL, reason int, expiry timestamp, revoked_at timestamp, "
                 "pem blob NOT NULL, PRIMARY KEY(serial_number, authority_key_identifier))");
    }
    void add(const test::issued& cert, const std::string& serial_hex, const std::string& aki, const std::string& status,
             int reason, const std::string& revoked_at) {
        auto s = db_.prepare("INSERT INTO certificates VALUES (?1, ?2, '', ?3, ?4, '2027-01-01 00:00:00+00:00', ?5, ?6)");
        s.bind(1, std::string_view{decimal_of(serial_hex)});
        s.bind(2, std::string_view{aki});
        s.bind(3, std::string_view{status});
        s.bind(4, std::int64_t{reason});
        s.bind(5, std::string_view{revoked_at});
        const auto pem = pem_of(cert.cert.get());
        s.bind(6, std::string_view{pem});
        s.run();
    }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
    sqlite::connection db_;
};

TEST(cfssl_certdb, reads_the_time_formats_go_sqlite3_writes) {
    test::temp_dir dir;
    certdb_file certdb(dir.path() / "certs.db");
    const auto ca = test::make_ca("CFSSL time CA");
    const auto formats = std::vector<std::pair<std::string, std::optional<std::int64_t>>>{
        {"2026-01-01 00:00:00", 1767225600},
        {"2026-01-01 00:00:00+00:00", 1767225600},
        {"2026-01-01 01:00:00.123456789+01:00", 1767225600},
        {"2026-01-01T00:00:00Z", 1767225600},
        {"0001-01-01 00:00:00+00:00", std::nullopt},
        {"not a time", std::nullopt},
    };
    int n = 0;
    for (const auto& [text, unix] : formats) {
        const auto hex = fmt::format("{:02X}", ++n);
        certdb.add(test::make_cert(ca, "t" + hex, test::key_type::ec_p256, {.serial_hex = hex}), hex, "", "revoked", 1,
                   text);
    }
    std::vector<cfssl_row> rows;
    read_cfssl_certdb(certdb.path().string(), [&](const cfssl_row& r) { rows.push_back(r); });
    ASSERT_EQ(rows.size(), formats.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        SCOPED_TRACE(formats[i].first);
        EXPECT_EQ(rows[i].revoked_at, formats[i].first);
        EXPECT_EQ(rows[i].revoked_at_unix, formats[i].second);
        EXPECT_EQ(rows[i].status, "revoked");
        EXPECT_EQ(rows[i].reason, 1);
        EXPECT_NE(rows[i].pem.find("BEGIN CERTIFICATE"), std::string::npos);
    }
}

class cfssl_import_test : public test::index_fixture {
protected:
    test::issued ca = test::make_ca("CFSSL Import CA");
    std::int64_t issuer_id = index.add_issuer(ca.cert.get(), t0);
    certdb_file certdb{dir.path() / "certs.db"};

    cert_status status_of(const char* hex) {
        const auto r = index.find_certificate(issuer_id, *serial_number::from_hex(hex));
        EXPECT_TRUE(r.has_value()) << hex;
        return r ? r->status : cert_status::good;
    }
};

INSTANTIATE_TEST_SUITE_P(backends, cfssl_import_test, testing::ValuesIn(test::all_backends), test::backend_name);

TEST_P(cfssl_import_test, matches_issuers_three_ways_and_is_idempotent) {
    const auto key_id = to_hex(subject_key_id(ca.cert.get()));
    const auto zero = std::string{"0001-01-01 00:00:00+00:00"};
    certdb.add(test::make_cert(ca, "a", test::key_type::ec_p256, {.serial_hex = "0A"}), "0A", key_id, "good", 0, zero);
    std::string lower = key_id;
    for (auto& ch : lower) ch = ascii_lower(ch);
    certdb.add(test::make_cert(ca, "b", test::key_type::ec_p256, {.serial_hex = "0B"}), "0B", lower, "revoked", 1,
               "2026-01-01 00:00:00");
    certdb.add(test::make_cert(ca, "c", test::key_type::ec_p256, {.serial_hex = "0C"}), "0C", "", "revoked", 6,
               "2026-01-01 00:00:00");
    const auto other = test::make_ca("Unregistered CA");
    certdb.add(test::make_cert(other, "d", test::key_type::ec_p256, {.serial_hex = "0D"}), "0D", "", "good", 0, zero);

    auto report = import_cfssl(index, certdb.path().string(), {});
    EXPECT_TRUE(report.rows.committed);
    EXPECT_EQ(report.rows.records, 4u);
    EXPECT_EQ(report.rows.counts.inserted, 3u);
    EXPECT_EQ(report.unregistered_rows, 1u);
    ASSERT_EQ(report.unregistered.size(), 1u);
    EXPECT_NE(report.unregistered[0].find("Unregistered CA"), std::string::npos) << report.unregistered[0];
    EXPECT_EQ(status_of("0A"), cert_status::good);
    EXPECT_EQ(status_of("0B"), cert_status::revoked);
    EXPECT_EQ(status_of("0C"), cert_status::hold);

    const auto seq = index.current_change_seq();
    report = import_cfssl(index, certdb.path().string(), {});
    EXPECT_EQ(report.rows.counts.unchanged, 3u);
    EXPECT_EQ(index.current_change_seq(), seq);
}

TEST_P(cfssl_import_test, a_bad_row_refuses_the_import_unless_skip_bad) {
    certdb.add(test::make_cert(ca, "a", test::key_type::ec_p256, {.serial_hex = "0A"}), "0A", "", "good", 0, "");
    certdb.add(test::make_cert(ca, "b", test::key_type::ec_p256, {.serial_hex = "0B"}), "0B", "", "revoked", 1,
               "0001-01-01 00:00:00+00:00");
    auto report = import_cfssl(index, certdb.path().string(), {});
    EXPECT_FALSE(report.rows.committed);
    ASSERT_EQ(report.rows.errors.size(), 1u);
    EXPECT_NE(report.rows.errors[0].find("revoked_at"), std::string::npos) << report.rows.errors[0];
    EXPECT_FALSE(index.find_certificate(issuer_id, *serial_number::from_hex("0A")).has_value());

    report = import_cfssl(index, certdb.path().string(), {.skip_bad = true});
    EXPECT_TRUE(report.rows.committed);
    EXPECT_EQ(report.rows.counts.skipped, 1u);
    EXPECT_EQ(status_of("0A"), cert_status::good);
}

TEST(cfssl_certdb, a_database_without_cfssls_table_is_named) {
    test::temp_dir dir;
    { sqlite::connection db(dir.path() / "empty.db", sqlite::open_mode::read_write_create); db.exec("CREATE TABLE x (y)"); }
    try {
        read_cfssl_certdb((dir.path() / "empty.db").string(), [](const cfssl_row&) {});
        FAIL() << "no error";
    } catch (const database_error& e) {
        EXPECT_NE(std::string(e.what()).find("no `certificates` table with CFSSL's columns"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace ocspkit::schema
