// index.txt and certificate imports: counts, idempotence, all-or-nothing, FILE:LINE errors; export.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/pem.hpp"
#include "schema/import.hpp"
#include "schema/index_store.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/unit/schema/index_backends.hpp"

namespace ocspkit::schema {
namespace {

using sqlite::open_mode;

// Every form `openssl ca` writes (see index_txt_test.cpp for the field-level checks).
const std::string all_forms =
    "V\t261223093335Z\t\t1000\tunknown\t/CN=leaf0\n"
    "R\t261223093335Z\t261123093335Z,keyCompromise\t1001\tunknown\t/CN=leaf1\n"
    "R\t261223093335Z\t261123093336Z,holdInstruction,holdInstructionReject\t1002\tunknown\t/CN=leaf2\n"
    "R\t261223093335Z\t261123093336Z,keyTime,20250101000000Z\t1003\tunknown\t/CN=leaf3\n"
    "R\t261223093335Z\t261123093336Z,CAkeyTime,20250202000000Z\t1004\tunknown\t/CN=leaf4\n"
    "R\t261223093335Z\t261123093336Z,certificateHold\t1005\tunknown\t/CN=leaf5\n"
    "R\t261223093335Z\t261123093336Z,removeFromCRL\t1006\tunknown\t/CN=leaf6\n"
    "R\t261223093335Z\t261123093336Z\t1007\tunknown\t/CN=leaf7\n"
    "E\t200201000000Z\t\t1008\tunknown\t/CN=leaf8\n"
    "V\t20600201000000Z\t\t1009\tunknown\t/CN=leaf9\n";

void write_file(const std::filesystem::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << file;
}

// On both backends (index_backends.hpp).
class import_test : public test::index_fixture {
protected:
    test::issued ca = test::make_ca("Import Test CA");
    std::int64_t issuer = index.add_issuer(ca.cert.get(), test::reference_time);

    import_report import_text(const std::string& text, index_import_options options = {}) {
        const auto file = dir / "index.txt";
        write_file(file, text);
        return import_index_file(index, issuer, file, options);
    }

    std::string dump() {
        std::ostringstream out;
        export_index(index, std::nullopt, out);
        return out.str();
    }
};

INSTANTIATE_TEST_SUITE_P(backends, import_test, testing::ValuesIn(test::all_backends), test::backend_name);

TEST_P(import_test, every_form_then_idempotent_reimport) {
    const auto first = import_text(all_forms);
    EXPECT_TRUE(first.committed);
    EXPECT_EQ(first.records, 10u);
    EXPECT_EQ(first.bad, 0u);
    EXPECT_EQ(first.counts.inserted, 10u);
    EXPECT_EQ(index.count_certificates(), 10);
    EXPECT_EQ(index.count_certificates(issuer, cert_status::good), 4);  // V, removeFromCRL, E, V
    EXPECT_EQ(index.count_certificates(issuer, cert_status::revoked), 4);
    EXPECT_EQ(index.count_certificates(issuer, cert_status::hold), 2);
    const auto seq = index.current_change_seq();
    const auto snapshot = dump();

    const auto second = import_text(all_forms);
    EXPECT_TRUE(second.committed);
    EXPECT_EQ(second.counts.inserted, 0u);
    EXPECT_EQ(second.counts.updated, 0u);
    EXPECT_EQ(second.counts.unchanged, 10u);
    EXPECT_EQ(index.count_certificates(), 10);
    EXPECT_EQ(index.current_change_seq(), seq);  // nothing changed, nothing to tell readers
    EXPECT_EQ(dump(), snapshot);
}

TEST_P(import_test, reimport_reports_updates_and_new_rows) {
    import_text(all_forms);
    const std::string changed = "V\t261223093335Z\t\t1000\tunknown\t/CN=leaf0\n"
                                "R\t261223093335Z\t261124000000Z,superseded\t1000A\tunknown\t/CN=new\n"
                                "R\t261223093335Z\t261124000000Z,keyCompromise\t1005\tunknown\t/CN=leaf5\n";
    const auto report = import_text(changed);
    EXPECT_TRUE(report.committed);
    EXPECT_EQ(report.counts.inserted, 1u);
    EXPECT_EQ(report.counts.updated, 1u);  // the hold became keyCompromise
    EXPECT_EQ(report.counts.unchanged, 1u);
    EXPECT_EQ(index.find_certificate(issuer, *serial_number::from_hex("1005"))->status, cert_status::revoked);
}

TEST_P(import_test, bad_line_rejects_the_whole_file_by_default) {
    import_text(all_forms);
    const auto seq = index.current_change_seq();
    const auto snapshot = dump();
    const std::string text = "# a comment\n"
                             "\n"
                             "V\t261223093335Z\t\t2000\tunknown\t/CN=new\n"
                             "R\t261223093335Z\t261123093336Z,stolen\t2001\tunknown\t/CN=bad\n"
                             "V\t261223093335Z\t\t1001\tunknown\t/CN=leaf1\n"
                             "X\n";
    const auto report = import_text(text);
    EXPECT_FALSE(report.committed);
    EXPECT_EQ(report.records, 4u);
    EXPECT_EQ(report.bad, 2u);
    const auto file = (dir / "index.txt").string();
    ASSERT_EQ(report.errors.size(), 2u);
    EXPECT_EQ(report.errors[0], file + ":4: unknown revocation reason 'stolen'");
    EXPECT_EQ(report.errors[1], file + ":6: expected 6 tab-separated fields, found 1");
    // A line that would lift a revocation is a conflict (kept), not a bad line (import_rule.hpp).
    ASSERT_EQ(report.conflicts.size(), 1u);
    EXPECT_EQ(report.conflicts[0].rfind(file + ":5: serial 1001 is revoked in the index (keyCompromise since ", 0), 0u)
        << report.conflicts[0];
    // Database unchanged: not even the good line 3 went in.
    EXPECT_EQ(index.count_certificates(), 10);
    EXPECT_EQ(index.current_change_seq(), seq);
    EXPECT_EQ(dump(), snapshot);
}

TEST_P(import_test, skip_bad_imports_the_rest_and_counts) {
    index_import_options options;
    options.skip_bad = true;
    const auto report = import_text("V\t261223093335Z\t\t2000\tunknown\t/CN=a\n"
                                    "V\t261223093335Z\t\t20G0\tunknown\t/CN=b\n"
                                    "V\t261223093335Z\t\t2002\tunknown\t/CN=c",  // no final newline
                                    options);
    EXPECT_TRUE(report.committed);
    EXPECT_EQ(report.counts.inserted, 2u);
    EXPECT_EQ(report.counts.skipped, 1u);
    ASSERT_EQ(report.errors.size(), 1u);
    EXPECT_EQ(report.errors[0], (dir / "index.txt").string() + ":2: invalid serial '20G0' (expected hexadecimal digits)");
    EXPECT_EQ(index.count_certificates(), 2);
}

TEST_P(import_test, repeated_serial_is_a_bad_line) {
    const auto report = import_text("V\t261223093335Z\t\t3000\tunknown\t/CN=a\n"
                                    "V\t261223093335Z\t\t0ABC\tunknown\t/CN=b\n"
                                    "R\t261223093335Z\t261123093336Z\t03000\tunknown\t/CN=a\n");
    EXPECT_FALSE(report.committed);
    ASSERT_EQ(report.errors.size(), 1u);
    EXPECT_EQ(report.errors[0], (dir / "index.txt").string() + ":3: serial 3000 already appears on line 1");
    EXPECT_EQ(index.count_certificates(), 0);
}

TEST_P(import_test, small_chunks_give_the_same_result) {
    index_import_options options;
    options.chunk_bytes = 64;  // a flush every line or two
    const auto report = import_text(all_forms, options);
    EXPECT_TRUE(report.committed);
    EXPECT_EQ(report.counts.inserted, 10u);
    const auto chunked = dump();

    test::temp_dir other_dir;
    auto other = cert_index::open(other_dir / "i.db", open_mode::read_write_create);
    const auto other_issuer = other.add_issuer(ca.cert.get());
    write_file(other_dir / "index.txt", all_forms);
    ASSERT_TRUE(import_index_file(other, other_issuer, other_dir / "index.txt").committed);
    std::ostringstream whole;
    export_index(other, std::nullopt, whole);
    EXPECT_EQ(chunked, whole.str());
}

TEST_P(import_test, errors_kept_are_capped_but_counted) {
    std::string text;
    for (int i = 0; i < 30; ++i) text += "garbage\n";
    index_import_options options;
    options.max_errors_kept = 5;
    const auto report = import_text(text, options);
    EXPECT_EQ(report.bad, 30u);
    EXPECT_EQ(report.errors.size(), 5u);
    EXPECT_EQ(report.errors[4], (dir / "index.txt").string() + ":5: expected 6 tab-separated fields, found 1");
}

TEST_P(import_test, unreadable_input_and_unknown_issuer_throw) {
    EXPECT_THROW(import_index_file(index, issuer, dir / "nope.txt"), load_error);
    EXPECT_THROW(import_index_file(index, issuer, dir.path()), load_error);
    write_file(dir / "index.txt", all_forms);
    EXPECT_THROW(import_index_file(index, issuer + 7, dir / "index.txt"), not_found_error);
}

TEST_P(import_test, export_writes_openssl_forms_in_serial_order) {
    import_text(all_forms);
    EXPECT_EQ(dump(),
              "V\t261223093335Z\t\t1000\tunknown\t/CN=leaf0\n"
              "R\t261223093335Z\t261123093335Z,keyCompromise\t1001\tunknown\t/CN=leaf1\n"
              "R\t261223093335Z\t261123093336Z,holdInstruction,1.2.840.10040.2.3\t1002\tunknown\t/CN=leaf2\n"
              "R\t261223093335Z\t261123093336Z,keyTime,20250101000000Z\t1003\tunknown\t/CN=leaf3\n"
              "R\t261223093335Z\t261123093336Z,CAkeyTime,20250202000000Z\t1004\tunknown\t/CN=leaf4\n"
              "R\t261223093335Z\t261123093336Z,certificateHold\t1005\tunknown\t/CN=leaf5\n"
              "V\t261223093335Z\t\t1006\tunknown\t/CN=leaf6\n"
              "R\t261223093335Z\t261123093336Z\t1007\tunknown\t/CN=leaf7\n"
              "V\t200201000000Z\t\t1008\tunknown\t/CN=leaf8\n"
              "V\t20600201000000Z\t\t1009\tunknown\t/CN=leaf9\n");
}

class cert_import_test : public import_test {
protected:
    test::issued leaf(const std::string& cn, const std::string& serial, const test::issued* by = nullptr) {
        test::cert_options options;
        options.serial_hex = serial;
        return test::make_cert(by ? *by : ca, cn, test::key_type::ec_p256, options);
    }
    issuer_record issuer_rec() { return *index.find_issuer(issuer); }
};

INSTANTIATE_TEST_SUITE_P(backends, cert_import_test, testing::ValuesIn(test::all_backends), test::backend_name);

TEST_P(cert_import_test, stores_certificates_and_keeps_status) {
    import_text("R\t261223093335Z\t261123093336Z,superseded\t0A\tunknown\t/CN=a\n");
    const auto a = leaf("a", "0A");
    const auto b = leaf("b", "0B");
    std::filesystem::create_directory(dir / "certs");
    test::write_pem(dir / "certs" / "a.pem", a.cert.get());
    test::write_der(dir / "certs" / "b.der", b.cert.get());
    write_file(dir / "certs" / "notes.txt", "not a certificate, and not looked at");

    const auto report = import_certificate_files(index, issuer_rec(), {dir / "certs"});
    EXPECT_TRUE(report.committed) << (report.errors.empty() ? "" : report.errors[0]);
    EXPECT_EQ(report.records, 2u);
    EXPECT_EQ(report.counts.inserted, 1u);
    EXPECT_EQ(report.counts.updated, 1u);

    const auto ra = index.find_certificate(issuer, *serial_number::from_hex("0A"));
    ASSERT_TRUE(ra.has_value());
    EXPECT_EQ(ra->status, cert_status::revoked);  // kept
    EXPECT_EQ(ra->reason, revocation_reason::superseded);
    EXPECT_EQ(ra->cert_der, der_of(a.cert.get()));
    EXPECT_EQ(ra->subject, subject_oneline(a.cert.get()));
    EXPECT_EQ(ra->not_before, test::cert_options{}.not_before);
    EXPECT_EQ(ra->not_after, test::cert_options{}.not_after);
    const auto rb = index.find_certificate(issuer, *serial_number::from_hex("0B"));
    ASSERT_TRUE(rb.has_value());
    EXPECT_EQ(rb->status, cert_status::good);

    const auto again = import_certificate_files(index, issuer_rec(), {dir / "certs"});
    EXPECT_TRUE(again.committed);
    EXPECT_EQ(again.counts.unchanged, 2u);
}

TEST_P(cert_import_test, certificate_of_another_ca_is_refused_naming_the_file) {
    const auto other_ca = test::make_ca("Another CA");
    const auto good = leaf("good", "01");
    const auto foreign = leaf("foreign", "02", &other_ca);
    test::write_pem(dir / "good.pem", good.cert.get());
    test::write_pem(dir / "foreign.pem", foreign.cert.get());

    const auto report = import_certificate_files(index, issuer_rec(), {dir / "good.pem", dir / "foreign.pem"});
    EXPECT_FALSE(report.committed);
    ASSERT_EQ(report.errors.size(), 1u);
    EXPECT_EQ(report.errors[0].rfind((dir / "foreign.pem").string() + ": certificate 02 (" +
                                         subject_oneline(foreign.cert.get()) + ") was not issued by " +
                                         subject_rfc2253(ca.cert.get()) + ": ",
                                     0),
              0u)
        << report.errors[0];
    EXPECT_EQ(index.count_certificates(), 0);  // all or nothing
}

TEST_P(cert_import_test, same_name_but_other_key_fails_the_signature) {
    // A CA with the same subject name but another key: the names match, the signature cannot.
    const auto impostor = test::make_ca("Import Test CA");
    const auto cert = leaf("x", "03", &impostor);
    test::write_pem(dir / "x.pem", cert.cert.get());
    const auto report = import_certificate_files(index, issuer_rec(), {dir / "x.pem"});
    EXPECT_FALSE(report.committed);
    ASSERT_EQ(report.errors.size(), 1u);
    EXPECT_NE(report.errors[0].find((dir / "x.pem").string() + ": certificate 03 (/CN=x)"), std::string::npos)
        << report.errors[0];
}

TEST_P(cert_import_test, missing_paths_and_empty_directories_are_errors) {
    std::filesystem::create_directory(dir / "empty");
    const auto report = import_certificate_files(index, issuer_rec(), {dir / "missing.pem", dir / "empty"});
    EXPECT_FALSE(report.committed);
    ASSERT_EQ(report.errors.size(), 2u);
    EXPECT_EQ(report.errors[0], (dir / "missing.pem").string() + ": no such file or directory");
    EXPECT_EQ(report.errors[1], (dir / "empty").string() + ": no certificate files (*.pem, *.crt, *.cer, *.der)");
}

TEST_P(cert_import_test, oversized_serial_is_refused) {
    const auto big = leaf("big", "0102030405060708090A0B0C0D0E0F101112131415");
    test::write_pem(dir / "big.pem", big.cert.get());
    const auto report = import_certificate_files(index, issuer_rec(), {dir / "big.pem"});
    EXPECT_FALSE(report.committed);
    ASSERT_EQ(report.errors.size(), 1u);
    EXPECT_EQ(report.errors[0].rfind((dir / "big.pem").string() + ": serial ", 0), 0u) << report.errors[0];
    EXPECT_NE(report.errors[0].find("21 octets, more than 20"), std::string::npos) << report.errors[0];
}

}  // namespace
}  // namespace ocspkit::schema
