// pg_index, the read side of the index on PostgreSQL, against cert_index on SQLite: the same rows,
// written to both, read back as the same records; the change feed with tombstones; refusals of a
// database without the schema.
#include "schema/pg_index.hpp"

#include <memory>

#include <gtest/gtest.h>

#include "schema/cert_index.hpp"
#include "schema/index_reader.hpp"
#include "schema/pg_migrations.hpp"
#include "tests/support/postgres_server.hpp"
#include "tests/unit/schema/index_backends.hpp"
#include "tests/support/test_pki.hpp"

namespace ocspkit::schema {
namespace {

using namespace std::chrono_literals;
using bytes = std::vector<std::uint8_t>;
const sys_seconds t0 = test::reference_time;

std::span<const std::uint8_t> blob(const bytes& b) { return {b.data(), b.size()}; }

pg::param optional_seconds(const std::optional<sys_seconds>& t) {
    if (!t) return std::monostate{};
    return std::int64_t{t->time_since_epoch().count()};
}

class pg_index_test : public ::testing::Test {
protected:
    // The process's one server (index_backends.hpp): these tests run in the schema.on_postgresql process.
    static void SetUpTestSuite() { server_ = &test::shared_postgres(); }

    void SetUp() override {
        conninfo_ = server_->create_database(::testing::UnitTest::GetInstance()->current_test_info()->name());
        pg::connection db(conninfo_);
        pg_migrate(db);
    }

    // Writes `rows` (and their issuer) to SQLite through cert_index and to PostgreSQL with plain SQL.
    void write_both(const std::vector<cert_record>& rows) {
        const auto batch_owner = sqlite_.begin_write();
        auto& batch = *batch_owner;
        for (const auto& r : rows) ASSERT_TRUE(batch.merge(r).has_value());
        batch.commit();
        pg::connection db(conninfo_);
        for (const auto& i : sqlite_.list_issuers()) {
            if (db.query("SELECT 1 FROM issuers WHERE id = $1", {i.id}).rows() == 1) continue;
            const auto& h = i.hashes.by_alg;
            db.query("INSERT INTO issuers (id, subject, subject_der, key_id, name_hash_sha1, key_hash_sha1, "
                     "name_hash_sha256, key_hash_sha256, name_hash_sha384, key_hash_sha384, name_hash_sha512, "
                     "key_hash_sha512, cert_der, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                     "$13, $14)",
                     {i.id, std::string_view{i.subject}, blob(i.key_id), blob(i.key_id), blob(h[0].name_hash),
                      blob(h[0].key_hash), blob(h[1].name_hash), blob(h[1].key_hash), blob(h[2].name_hash),
                      blob(h[2].key_hash), blob(h[3].name_hash), blob(h[3].key_hash), blob(i.cert_der),
                      std::int64_t{i.enabled ? 1 : 0}});
        }
        for (const auto& r : rows) {
            const std::optional<std::int64_t> reason =
                r.reason ? std::optional<std::int64_t>(static_cast<std::int64_t>(*r.reason)) : std::nullopt;
            db.query("INSERT INTO certificates (issuer_id, serial, not_before, not_after, status, revocation_time, "
                     "reason, invalidity_date, hold_instruction, subject, cert_der) "
                     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                     {r.issuer_id, blob(r.serial.bytes()), optional_seconds(r.not_before), optional_seconds(r.not_after),
                      std::int64_t{static_cast<int>(r.status)}, optional_seconds(r.revocation_time),
                      reason ? pg::param{*reason} : pg::param{std::monostate{}}, optional_seconds(r.invalidity_date),
                      r.hold_instruction ? pg::param{std::string_view{*r.hold_instruction}} : pg::param{std::monostate{}},
                      std::string_view{r.subject}, r.cert_der ? pg::param{blob(*r.cert_der)} : pg::param{std::monostate{}}});
        }
    }

    cert_record record(const std::string& hex, cert_status status = cert_status::good) {
        cert_record r;
        r.issuer_id = issuer_;
        r.serial = *serial_number::from_hex(hex);
        r.not_before = t0 - 24h;
        r.not_after = t0 + 24h * 365;
        r.subject = "/CN=client " + hex;
        r.status = status;
        if (status != cert_status::good) {
            r.revocation_time = t0 - 1h;
            r.reason = status == cert_status::hold ? revocation_reason::certificate_hold : revocation_reason::key_compromise;
        }
        return r;
    }

    static test::postgres_server* server_;
    std::string conninfo_;
    test::temp_dir dir_;
    test::issued ca_ = test::make_ca("PG Index CA");
    cert_index sqlite_ = cert_index::open(dir_ / "index.db", sqlite::open_mode::read_write_create);
    std::int64_t issuer_ = sqlite_.add_issuer(ca_.cert.get(), t0);
};
test::postgres_server* pg_index_test::server_ = nullptr;

TEST_F(pg_index_test, reads_the_same_records_as_the_sqlite_index) {
    auto good = record("1001");
    good.cert_der = bytes{0x30, 0x03, 0x02, 0x01, 0x01};
    auto revoked = record("80FF", cert_status::revoked);
    revoked.invalidity_date = t0 - 2h;
    auto held = record("1003", cert_status::hold);
    held.hold_instruction = "1.2.840.10040.2.2";
    write_both({good, revoked, held});

    auto pg = pg_index::open(conninfo_);
    const auto by_cert = pg.find_issuer_by_cert(ca_.cert.get());
    const auto expected_issuer = sqlite_.find_issuer_by_cert(ca_.cert.get());
    ASSERT_TRUE(by_cert && expected_issuer);
    EXPECT_EQ(by_cert->id, expected_issuer->id);
    EXPECT_EQ(by_cert->subject, expected_issuer->subject);
    EXPECT_EQ(by_cert->cert_der, expected_issuer->cert_der);
    EXPECT_EQ(by_cert->hashes.by_alg, expected_issuer->hashes.by_alg);
    EXPECT_EQ(by_cert->enabled, expected_issuer->enabled);
    const auto by_sha1 = pg.find_issuer_by_hashes(hash_alg::sha1, expected_issuer->hashes[hash_alg::sha1]);
    ASSERT_TRUE(by_sha1);
    EXPECT_EQ(by_sha1->id, issuer_);
    EXPECT_EQ(pg.list_issuers().size(), 1U);
    EXPECT_FALSE(pg.find_issuer(issuer_ + 1));

    for (const auto& r : {good, revoked, held}) {
        const auto from_pg = pg.find_certificate(issuer_, r.serial);
        const auto from_sqlite = sqlite_.find_certificate(issuer_, r.serial);
        ASSERT_TRUE(from_pg && from_sqlite) << r.serial.to_hex();
        EXPECT_TRUE(from_pg->same_content(*from_sqlite)) << r.serial.to_hex();
    }
    EXPECT_FALSE(pg.find_certificate(issuer_, *serial_number::from_hex("99")));
}

TEST_F(pg_index_test, the_change_feed_lists_rows_and_tombstones_after_a_number) {
    write_both({record("01"), record("02")});
    auto pg = pg_index::open(conninfo_);
    const auto after_inserts = pg.current_change_seq();
    EXPECT_EQ(pg.changes_since(0).size(), 2U);
    EXPECT_TRUE(pg.changes_since(after_inserts).empty());

    pg.connection().exec("UPDATE certificates SET status = 1, revocation_time = 1700000000, reason = 1 "
                         "WHERE serial = '\\x01'");
    pg.connection().exec("DELETE FROM certificates WHERE serial = '\\x02'");
    const auto changes = pg.changes_since(after_inserts);
    ASSERT_EQ(changes.size(), 2U);
    EXPECT_EQ(changes[0].serial.to_hex(), "01");
    EXPECT_EQ(changes[1].serial.to_hex(), "02");
    EXPECT_LT(changes[0].change_seq, changes[1].change_seq);
    EXPECT_EQ(pg.current_change_seq(), changes[1].change_seq);
    EXPECT_EQ(pg.find_certificate(issuer_, *serial_number::from_hex("01"))->status, cert_status::revoked);
    EXPECT_FALSE(pg.find_certificate(issuer_, *serial_number::from_hex("02")));
}

TEST_F(pg_index_test, open_index_reader_picks_the_backend_from_the_database_string) {
    write_both({record("0A"), record("0B", cert_status::revoked)});
    const auto from_file = open_index_reader((dir_ / "index.db").string());
    const auto from_server = open_index_reader(conninfo_);
    EXPECT_NE(dynamic_cast<const cert_index*>(from_file.get()), nullptr);
    EXPECT_NE(dynamic_cast<const pg_index*>(from_server.get()), nullptr);
    for (const auto* reader : {from_file.get(), from_server.get()}) {
        const auto issuer = reader->find_issuer_by_cert(ca_.cert.get());
        ASSERT_TRUE(issuer);
        EXPECT_EQ(issuer->id, issuer_);
        const auto revoked = reader->find_certificate(issuer_, *serial_number::from_hex("0B"));
        ASSERT_TRUE(revoked);
        EXPECT_EQ(revoked->status, cert_status::revoked);
        EXPECT_EQ(revoked->reason, revocation_reason::key_compromise);
        EXPECT_EQ(reader->changes_since(0, 100).size(), 2U);
        EXPECT_GT(reader->current_change_seq(), 0);
    }
    // A URI is a server too; one that cannot be reached says where, without the password.
    try {
        open_index_reader("postgresql://ocspkit:s3cret@/nowhere?host=" + (dir_ / "no-socket-here").string());
        FAIL() << "opened a server that does not exist";
    } catch (const pg::pg_error& e) {
        EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
    }
}

TEST_F(pg_index_test, a_database_without_the_schema_is_refused_with_the_fix) {
    const auto empty = server_->create_database("empty_for_pg_index");
    try {
        pg_index::open(empty);
        FAIL() << "opened a database without an index";
    } catch (const schema_error& e) {
        EXPECT_NE(std::string(e.what()).find("ocspctl init"), std::string::npos) << e.what();
    }
    pg::connection db(conninfo_);
    db.exec("UPDATE ocspkit_schema SET version = 1");
    EXPECT_THROW(pg_index::open(conninfo_), schema_error);
}

}  // namespace
}  // namespace ocspkit::schema
