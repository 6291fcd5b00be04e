// The daemon's publish step end to end, in-process: a real stapler_daemon on its own io thread, a
// fake OCSP responder on 127.0.0.1 (port 0) serving responses signed here, a fake clock at the
// reference time. Two rules of docs/stapler.md ("Daemon", "Behaviour"):
//   * a fetch that brings back the published response byte for byte publishes nothing again: no
//     persist, no nginx_file rewrite, no reload_command (still a successful fetch); an older one is not
//     published either, and `refresh` reports it "stale: not published";
//   * a certificate the shm cache has no room for is not reported as stapled: status, refresh (exit 4),
//     metrics and last_error say so, and a reload that frees a slot publishes it.
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/unit/stapler_daemon/daemon_harness.hpp"

namespace ocspkit::stapler::daemon {
namespace {
using namespace harness;

TEST(daemon_publish, identical_response_is_not_published_again) {
    temp_dir dir;
    const issued ca = ocspkit::test::make_ca("Daemon Publish CA");
    fake_ocsp_server* server = nullptr;
    std::optional<issued> leaf;
    bytes first, second;
    const auto runs = dir / "runs.txt";
    const auto nginx_file = dir / "www.der";
    const auto state_file = dir / "state" / "www.der";
    {
        std::ofstream(dir / "stapler.toml")
            << common_stapler << "shm_capacity = 16\n[nginx]\nreload_command = [\"/bin/sh\", \"-c\", \"echo ran >> '"
            << runs.string() << "'\"]\n[[certificate]]\nchain = \"www.pem\"\nnginx_file = \"www.der\"\n";
    }
    running_daemon d(dir / "stapler.toml", server, [&](fake_ocsp_server& s) {
        leaf = make_leaf(ca, "www.example", "0A", s.url("www"));
        write_chain(dir / "www.pem", *leaf, ca);
        first = good_response(ca, *leaf, reference_time - 1h);
        second = good_response(ca, *leaf, reference_time - 30min);
        s.serve("www", first);
    });
    ASSERT_TRUE(d.wait_ready()) << d.log_text();
    ASSERT_EQ(read_bytes(nginx_file), first) << d.log_text();
    ASSERT_EQ(read_bytes(state_file), first);
    ASSERT_TRUE(eventually([&] { return line_count(runs) == 1; })) << d.log_text();
    const ino_t nginx_inode = inode_of(nginx_file);
    const ino_t state_inode = inode_of(state_file);

    // The responder answers from its cache: the same bytes. A success, rescheduled, and nothing else.
    auto reports = d.refresh("www");
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_TRUE(reports[0].ok) << reports[0].reason << ": " << reports[0].detail;
    EXPECT_EQ(reports[0].status, "good");
    EXPECT_EQ(inode_of(nginx_file), nginx_inode) << "nginx_file rewritten with identical bytes";
    EXPECT_EQ(inode_of(state_file), state_inode) << "response persisted again";
    // A rewrite would have requested a reload (refresh returns after the exports): once none is pending
    // or running, every requested one has run.
    ASSERT_TRUE(eventually([&] { return d.nginx_reload_idle(); })) << d.log_text();
    EXPECT_EQ(line_count(runs), 1u) << "reload_command ran although no file changed";
    EXPECT_NE(d.log_text().find("www: fetched good (thisUpdate 2025-12-31T23:00:00Z, nextUpdate "
                                "2026-01-02T00:00:00Z), unchanged: not published again"),
              std::string::npos)
        << d.log_text();
    const auto row = d.row("www");
    EXPECT_EQ(row.action, "staple");
    EXPECT_EQ(row.fetch_failures, 0u);
    ASSERT_TRUE(row.next_refresh);
    EXPECT_GT(*row.next_refresh, reference_time);
    EXPECT_NE(d.metrics().find("ocsp_stapler_fetch_total{certificate=\"www\",result=\"ok\"} 2"), std::string::npos)
        << d.metrics();

    // Same status, newer thisUpdate: a new response, published as before.
    server->serve("www", second);
    reports = d.refresh("www");
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_TRUE(reports[0].ok) << reports[0].reason << ": " << reports[0].detail;
    EXPECT_EQ(read_bytes(nginx_file), second);
    EXPECT_EQ(read_bytes(state_file), second);
    EXPECT_NE(inode_of(nginx_file), nginx_inode);
    EXPECT_TRUE(eventually([&] { return line_count(runs) == 2; })) << d.log_text();

    // The older response again (a replay, a lagging cache): not published, and `refresh` says so with
    // the fetched response's own dates.
    server->serve("www", first);
    reports = d.refresh("www");
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_FALSE(reports[0].ok);
    EXPECT_TRUE(reports[0].not_published);
    EXPECT_EQ(reports[0].reason, "stale");
    EXPECT_EQ(read_bytes(nginx_file), second);
    EXPECT_EQ(read_bytes(state_file), second);
    EXPECT_NE(d.log_text().find("www: not published (stale): fetched good (thisUpdate 2025-12-31T23:00:00Z, "
                                "nextUpdate 2026-01-02T00:00:00Z) is older than the published good (thisUpdate "
                                "2025-12-31T23:30:00Z)"),
              std::string::npos)
        << d.log_text();
    std::ostringstream out, err;
    EXPECT_EQ(refresh_command(d.config().control_socket, std::string("www"), out, err), 4) << err.str();
    EXPECT_EQ(out.str().rfind("www: stale: not published (fetched good (thisUpdate 2025-12-31T23:00:00Z", 0), 0u)
        << out.str();
    EXPECT_NE(d.metrics().find("ocsp_stapler_fetch_total{certificate=\"www\",result=\"stale\"} 2"), std::string::npos)
        << d.metrics();
    const auto after = d.row("www");
    EXPECT_EQ(after.status, "good");
    EXPECT_EQ(after.this_update, reference_time - 30min);
}

// More certificates than the cache holds. [[certificate]] entries are refused at load (config_test);
// [[directory]] ones are only found at run time, so two directories of one chain each meet a cache of 2
// slots (1 entry). Which one wins the slot depends on which fetch finishes first.
// A keyCompromise answer persisted by an earlier run has expired by the time the daemon starts again;
// the responder (a rolled-back database) now says good. The restart must not forget the revocation:
// the expired answer is kept, never stapled, and the good one is refused as a contradiction.
TEST(daemon_publish, restart_keeps_an_expired_permanent_revocation) {
    temp_dir dir;
    const issued ca = ocspkit::test::make_ca("Daemon Sticky Revocation CA");
    fake_ocsp_server* server = nullptr;
    std::optional<issued> leaf;
    bytes revoked;
    const auto state_file = dir / "state" / "www.der";
    std::ofstream(dir / "stapler.toml") << common_stapler << "shm_capacity = 16\n[[certificate]]\nchain = \"www.pem\"\n";
    running_daemon d(dir / "stapler.toml", server, [&](fake_ocsp_server& s) {
        leaf = make_leaf(ca, "www.example", "0B", s.url("www"));
        write_chain(dir / "www.pem", *leaf, ca);
        fixtures::response_spec spec;
        fixtures::single_spec single;
        single.leaf = leaf->cert.get();
        single.issuer = ca.cert.get();
        single.status = cert_status::revoked;
        single.revocation_reason = 1;  // keyCompromise
        single.revoked_at = reference_time - 3h;
        single.this_update = reference_time - 3h;
        single.next_update = reference_time - 1h;  // expired before this start
        spec.singles.push_back(single);
        spec.signer = ca.cert.get();
        spec.key = ca.key.get();
        revoked = fixtures::make_response(spec);
        std::filesystem::create_directories(state_file.parent_path());
        std::ofstream(state_file, std::ios::binary).write(reinterpret_cast<const char*>(revoked.data()),
                                                         static_cast<std::streamsize>(revoked.size()));
        s.serve("www", good_response(ca, *leaf, reference_time - 30min));
    });
    ASSERT_TRUE(d.wait_ready()) << d.log_text();
    EXPECT_NE(d.log_text().find("www: kept the expired revoked response"), std::string::npos) << d.log_text();
    auto reports = d.refresh("www");
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_FALSE(reports[0].ok);
    EXPECT_TRUE(reports[0].not_published);
    EXPECT_EQ(reports[0].reason, "contradiction") << reports[0].detail;
    EXPECT_NE(d.row("www").action, "staple");
    EXPECT_EQ(read_bytes(state_file), revoked) << "the good answer replaced the persisted revocation";
}

TEST(daemon_publish, certificate_without_a_shm_slot_is_reported_unpublished) {
    temp_dir dir;
    const issued ca = ocspkit::test::make_ca("Daemon Shm Full CA");
    fake_ocsp_server* server = nullptr;
    std::map<std::string, issued> leaves;
    std::filesystem::create_directories(dir / "a");
    std::filesystem::create_directories(dir / "b");
    const std::string directories = "[[directory]]\npath = \"a\"\n[[directory]]\npath = \"b\"\n";
    std::ofstream(dir / "stapler.toml") << common_stapler << "shm_capacity = 2\n[defaults]\npolicy = \"hard\"\n"
                                        << directories;
    running_daemon d(dir / "stapler.toml", server, [&](fake_ocsp_server& s) {
        for (const std::string name : {"a", "b"}) {
            auto leaf = make_leaf(ca, name + ".example", name == "a" ? "1A" : "1B", s.url(name));
            write_chain(dir / name / (name + ".pem"), leaf, ca);
            s.serve(name, good_response(ca, leaf, reference_time - 1h));
            leaves.emplace(name, std::move(leaf));
        }
    });
    ASSERT_TRUE(d.wait_ready()) << d.log_text();

    std::error_code ec;
    auto reader = shm_reader::open((dir / "staples").c_str(), ec);
    ASSERT_TRUE(reader) << ec.message();
    const auto found = [&](const std::string& name) {
        std::vector<std::uint8_t> buffer(4096);
        lookup_result result;
        return !reader->lookup(*cache_key_of(leaves.at(name).cert.get()), buffer, reference_time, result) &&
               result.action == staple_action::staple;
    };
    ASSERT_NE(found("a"), found("b")) << d.log_text();
    const std::string published = found("a") ? "a" : "b";
    const std::string missing = found("a") ? "b" : "a";

    const auto ok_row = d.row(published);
    EXPECT_EQ(ok_row.status, "good");
    EXPECT_EQ(ok_row.action, "staple");
    const auto row = d.row(missing);
    // TLS servers find no entry: no staple, whatever the policy says (a hard certificate is not enforced).
    EXPECT_EQ(row.status, "none");
    EXPECT_EQ(row.action, "no_staple");
    EXPECT_EQ(row.policy, "hard");
    EXPECT_EQ(row.last_error, "shm: cache is full");
    EXPECT_FALSE(row.this_update);

    const std::string metrics = d.metrics();
    EXPECT_NE(metrics.find("ocsp_stapler_publish_failures_total{certificate=\"" + missing + "\",reason=\"shm_full\"} "),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("ocsp_stapler_staple_status{certificate=\"" + missing + "\",status=\"good\"} 0"),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("ocsp_stapler_staple_status{certificate=\"" + missing + "\",status=\"none\"} 1"),
              std::string::npos)
        << metrics;
    EXPECT_EQ(metrics.find("ocsp_stapler_publish_failures_total{certificate=\"" + published + "\""), std::string::npos)
        << metrics;

    // `refresh` fetches the same response again; publishing it still fails, and says so (exit 4).
    std::ostringstream out, err;
    EXPECT_EQ(refresh_command(d.config().control_socket, missing, out, err), 4) << err.str();
    EXPECT_EQ(out.str(), missing + ": failed shm_full (shm: cache is full)\n");
    EXPECT_EQ(d.row(missing).action, "no_staple");

    // A reload that drops the published certificate frees its slot for the missing one.
    std::ofstream(dir / "stapler.toml") << common_stapler << "shm_capacity = 2\n[defaults]\npolicy = \"hard\"\n"
                                        << "[[directory]]\npath = \"" << missing << "\"\n";
    ASSERT_TRUE(d.reload());
    const auto after = d.row(missing);
    EXPECT_EQ(after.status, "good") << d.log_text();
    EXPECT_EQ(after.action, "staple");
    EXPECT_EQ(after.last_error, "");
    EXPECT_TRUE(found(missing));
    EXPECT_FALSE(found(published));
    auto reports = d.refresh(missing);
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_TRUE(reports[0].ok) << reports[0].reason << ": " << reports[0].detail;
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
