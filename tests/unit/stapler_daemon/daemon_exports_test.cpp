// The daemon's exports and health end to end, in-process (daemon_harness.hpp). Issue 10: an nginx_file
// whose folder was missing was neither reported nor written again once the folder came back, because
// an unchanged response is not republished. Now:
//   * a failed export shows in status (last_error, exports[].state), in refresh (export_failed) and in
//     ocsp_stapler_export_failures_total, and every later fetch, `refresh` and SIGHUP rewrites a missing
//     or outdated file even when the responder's answer is unchanged (an intact file is left alone);
//   * the exports of restored responses are written before the daemon says ready;
//   * /health is 503 while a hard-policy certificate cannot be served.
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/unit/stapler_daemon/daemon_harness.hpp"

namespace ocspkit::stapler::daemon {
namespace {
using namespace harness;

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

const export_row& export_of(const status_row& row, export_kind k) {
    for (const auto& x : row.exports)
        if (x.kind == k) return x;
    throw std::runtime_error("no export " + std::string(to_string(k)) + " in the status row of " + row.name);
}

// Every sample's metric has its # HELP and # TYPE (what `promtool check metrics` insists on).
void expect_help_and_type_for_every_sample(const std::string& metrics) {
    std::set<std::string> help, type, sampled;
    std::istringstream in(metrics);
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("# HELP ")) help.insert(line.substr(7, line.find(' ', 7) - 7));
        else if (line.starts_with("# TYPE ")) type.insert(line.substr(7, line.find(' ', 7) - 7));
        else if (!line.empty()) sampled.insert(line.substr(0, line.find_first_of("{ ")));
    }
    for (const auto& name : sampled) {
        EXPECT_TRUE(help.contains(name)) << "no # HELP for " << name;
        EXPECT_TRUE(type.contains(name)) << "no # TYPE for " << name;
    }
}

TEST(daemon_exports, failed_export_is_reported_counted_and_rewritten_with_an_unchanged_response) {
    temp_dir dir;
    const issued ca = ocspkit::test::make_ca("Daemon Export CA");
    fake_ocsp_server* server = nullptr;
    std::optional<issued> leaf;
    bytes first, second;
    const auto out = dir / "out";
    const auto nginx_file = out / "www.der";
    const auto runs = dir / "runs.txt";
    std::filesystem::create_directories(out);
    std::ofstream(dir / "stapler.toml")
        << common_stapler << "shm_capacity = 16\n[nginx]\nreload_command = [\"/bin/sh\", \"-c\", \"echo ran >> '"
        << runs.string() << "'\"]\n[[certificate]]\nchain = \"www.pem\"\nnginx_file = \"out/www.der\"\n";
    running_daemon d(dir / "stapler.toml", server, [&](fake_ocsp_server& s) {
        leaf = make_leaf(ca, "www.example", "0B", s.url("www"));
        write_chain(dir / "www.pem", *leaf, ca);
        first = good_response(ca, *leaf, reference_time - 1h);
        second = good_response(ca, *leaf, reference_time - 30min);
        s.serve("www", first);
    });
    ASSERT_TRUE(d.wait_ready()) << d.log_text();
    ASSERT_EQ(read_bytes(nginx_file), first) << d.log_text();
    EXPECT_EQ(export_of(d.row("www"), export_kind::nginx_file).state, "ok");
    EXPECT_TRUE(contains(d.metrics(), "ocsp_stapler_export_failures_total{certificate=\"www\",kind=\"nginx_file\"} 0\n"))
        << d.metrics();
    ASSERT_TRUE(eventually([&] { return line_count(runs) == 1; })) << d.log_text();

    // The folder goes away; the responder keeps answering the same bytes.
    std::filesystem::remove_all(out);
    auto reports = d.refresh("www");
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_FALSE(reports[0].ok);
    EXPECT_EQ(reports[0].reason, "export_failed");
    EXPECT_TRUE(contains(reports[0].detail, "nginx_file: cannot write: cannot create " + nginx_file.string() + ".tmp."))
        << reports[0].detail;
    auto row = d.row("www");
    EXPECT_EQ(row.status, "good");  // the shm cache has it; only the export is behind
    EXPECT_TRUE(row.last_error.starts_with("nginx_file: cannot write: cannot create " + nginx_file.string()))
        << row.last_error;
    EXPECT_TRUE(contains(row.last_error, "No such file or directory")) << row.last_error;
    const auto& failed = export_of(row, export_kind::nginx_file);
    EXPECT_EQ(failed.state, "failed");
    EXPECT_EQ(failed.target, nginx_file.string());
    EXPECT_EQ(failed.failures, 1u);
    std::string metrics = d.metrics();
    EXPECT_TRUE(contains(metrics, "ocsp_stapler_export_failures_total{certificate=\"www\",kind=\"nginx_file\"} 1\n"))
        << metrics;
    EXPECT_TRUE(contains(metrics, "ocsp_stapler_export_failing{certificate=\"www\",kind=\"nginx_file\"} 1\n"));
    expect_help_and_type_for_every_sample(metrics);

    // A new response while the folder is still missing: persisted and in the shm cache, not exported.
    server->serve("www", second);
    reports = d.refresh("www");
    EXPECT_EQ(reports[0].reason, "export_failed");
    EXPECT_EQ(read_bytes(dir / "state" / "www.der"), second);

    // The folder is back. The responder answers what is already published, and the file is written anyway.
    std::filesystem::create_directories(out);
    reports = d.refresh("www");
    EXPECT_TRUE(reports[0].ok) << reports[0].reason << ": " << reports[0].detail;
    EXPECT_EQ(read_bytes(nginx_file), second) << d.log_text();
    row = d.row("www");
    EXPECT_EQ(row.last_error, "");
    EXPECT_EQ(export_of(row, export_kind::nginx_file).state, "ok");
    EXPECT_TRUE(export_of(row, export_kind::nginx_file).written_at);
    metrics = d.metrics();
    EXPECT_TRUE(contains(metrics, "ocsp_stapler_export_failures_total{certificate=\"www\",kind=\"nginx_file\"} 2\n"))
        << metrics;
    EXPECT_TRUE(contains(metrics, "ocsp_stapler_export_failing{certificate=\"www\",kind=\"nginx_file\"} 0\n"));
    EXPECT_TRUE(eventually([&] { return line_count(runs) == 2; })) << "nginx not reloaded for the new file\n"
                                                                    << d.log_text();

    // Deleted (or overwritten) behind the daemon's back: SIGHUP rewrites it, the response still unchanged.
    std::filesystem::remove(nginx_file);
    ASSERT_TRUE(d.reload());
    EXPECT_EQ(read_bytes(nginx_file), second) << d.log_text();
    std::ofstream(nginx_file) << "not an OCSP response";
    ASSERT_TRUE(d.reload());
    EXPECT_EQ(read_bytes(nginx_file), second) << d.log_text();
    EXPECT_TRUE(eventually([&] { return line_count(runs) == 3; })) << d.log_text();

    // An intact file is left alone: same inode, no reload.
    const ino_t inode = inode_of(nginx_file);
    reports = d.refresh("www");
    EXPECT_TRUE(reports[0].ok);
    ASSERT_TRUE(d.reload());
    EXPECT_EQ(inode_of(nginx_file), inode);
    // A rewrite would have requested a reload: once none is pending or running, every one has run.
    ASSERT_TRUE(eventually([&] { return d.nginx_reload_idle(); })) << d.log_text();
    EXPECT_EQ(line_count(runs), 3u) << d.log_text();
}

TEST(daemon_exports, reload_with_a_missing_export_folder_is_refused) {
    temp_dir dir;
    const issued ca = ocspkit::test::make_ca("Daemon Export Reload CA");
    fake_ocsp_server* server = nullptr;
    std::filesystem::create_directories(dir / "out");
    const std::string cert = "[[certificate]]\nchain = \"www.pem\"\nnginx_file = \"out/www.der\"\n";
    std::ofstream(dir / "stapler.toml") << common_stapler << cert;
    running_daemon d(dir / "stapler.toml", server, [&](fake_ocsp_server& s) {
        const auto leaf = make_leaf(ca, "www.example", "0C", s.url("www"));
        write_chain(dir / "www.pem", leaf, ca);
        s.serve("www", good_response(ca, leaf, reference_time - 1h));
    });
    ASSERT_TRUE(d.wait_ready()) << d.log_text();
    std::ofstream(dir / "stapler.toml") << common_stapler << "[log]\nlevel = \"warn\"\n" << cert
                                        << "[[certificate]]\nname = \"two\"\nchain = \"www.pem\"\nnginx_file = \"gone/two.der\"\n";
    ASSERT_TRUE(d.reload());
    const std::string log = d.log_text();
    EXPECT_TRUE(contains(log, "SIGHUP: configuration not reloaded, keeping the running one: " +
                                  (dir / "stapler.toml").string() + ":14: key 'certificate[1].nginx_file': certificate "
                                  "'two': cannot write " + (dir / "gone" / "two.der").string() + ": the folder " +
                                  (dir / "gone").string() + " does not exist"))
        << log;
    EXPECT_THROW(d.row("two"), std::runtime_error);
}

TEST(daemon_exports, restored_responses_are_exported_before_ready) {
    temp_dir dir;
    const issued ca = ocspkit::test::make_ca("Daemon Export Restore CA");
    const auto nginx_file = dir / "out" / "www.der";
    std::filesystem::create_directories(dir / "out");
    std::ofstream(dir / "stapler.toml") << common_stapler
                                        << "[[certificate]]\nchain = \"www.pem\"\nnginx_file = \"out/www.der\"\n";
    std::optional<issued> leaf;
    bytes response;
    {
        fake_ocsp_server* server = nullptr;
        running_daemon first(dir / "stapler.toml", server, [&](fake_ocsp_server& s) {
            leaf = make_leaf(ca, "www.example", "0D", s.url("www"));
            write_chain(dir / "www.pem", *leaf, ca);
            response = good_response(ca, *leaf, reference_time - 1h);
            s.serve("www", response);
        });
        ASSERT_TRUE(first.wait_ready()) << first.log_text();
        ASSERT_EQ(read_bytes(nginx_file), response);
    }
    // Stopped; the export is lost (a tmpfs emptied by a reboot, say). The next start restores the
    // persisted response (recent enough: no fetch before ready) and must write the file before ready.
    std::filesystem::remove(nginx_file);
    bool present_at_ready = false;
    fake_ocsp_server* server = nullptr;
    running_daemon second(
        dir / "stapler.toml", server, [&](fake_ocsp_server& s) { s.serve("www", response); },
        [&] { present_at_ready = read_bytes(nginx_file) == response; });
    ASSERT_TRUE(second.wait_ready()) << second.log_text();
    EXPECT_TRUE(contains(second.log_text(), "www: restored good response")) << second.log_text();
    EXPECT_TRUE(present_at_ready) << second.log_text();
}

TEST(daemon_exports, health_fails_while_a_hard_certificate_cannot_be_served) {
    temp_dir dir;
    const issued ca = ocspkit::test::make_ca("Daemon Health CA");
    fake_ocsp_server* server = nullptr;
    std::map<std::string, issued> leaves;
    std::ofstream(dir / "stapler.toml") << common_stapler << "shm_capacity = 16\n"
                                        << "[[certificate]]\nchain = \"hardone.pem\"\npolicy = \"hard\"\n"
                                        << "[[certificate]]\nchain = \"softone.pem\"\n";
    running_daemon d(dir / "stapler.toml", server, [&](fake_ocsp_server& s) {
        for (const std::string name : {"hardone", "softone"}) {
            auto leaf = make_leaf(ca, name + ".example", name == "hardone" ? "2A" : "2B", s.url(name));
            write_chain(dir / (name + ".pem"), leaf, ca);
            s.serve(name, bytes{0x30, 0x00});  // not an OCSP response: every fetch fails
            leaves.emplace(name, std::move(leaf));
        }
    });
    ASSERT_TRUE(d.wait_ready()) << d.log_text();
    auto h = d.health();
    EXPECT_FALSE(h.ok);
    // Only the hard one: a soft certificate without a staple is served without one.
    EXPECT_TRUE(h.reason.starts_with("hardone: hard policy and no usable response: TLS servers refuse its handshakes "
                                     "(last error: malformed"))
        << h.reason;
    EXPECT_FALSE(contains(h.reason, "softone")) << h.reason;

    server->serve("hardone", good_response(ca, leaves.at("hardone"), reference_time - 1h));
    auto reports = d.refresh("hardone");
    ASSERT_TRUE(reports[0].ok) << reports[0].reason << ": " << reports[0].detail;
    h = d.health();
    EXPECT_TRUE(h.ok) << h.reason;
    EXPECT_EQ(h.reason, "ok");
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
