// ocsp-stapler's configuration: every error names file:line:key (a table, house rule 13), then the
// certificate inventory built from real chain files made at run time.
#include "stapler/daemon/config.hpp"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/support/test_pki.hpp"

namespace ocspkit::stapler::daemon {
namespace {

using ocspkit::test::append_pem;
using ocspkit::test::issued;
using ocspkit::test::make_ca;
using ocspkit::test::make_cert;
using ocspkit::test::temp_dir;
using ocspkit::test::write_pem;

std::filesystem::path write_file(const std::filesystem::path& file, const std::string& text) {
    std::ofstream(file) << text;
    return file;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const config_error& e) {
        return e.what();
    }
    return "(no error)";
}

struct error_case {
    const char* name;
    const char* toml;
    const char* expected;  // after "FILE:"
};

class config_errors : public ::testing::TestWithParam<error_case> {};

TEST_P(config_errors, name_file_line_and_key) {
    const auto& c = GetParam();
    const std::filesystem::path origin = "/etc/ocsp-stapler/stapler.toml";
    const std::string message = error_of([&] { parse_config(c.toml, origin); });
    EXPECT_EQ(message.substr(0, origin.string().size() + 1), origin.string() + ":") << message;
    EXPECT_NE(message.find(c.expected), std::string::npos) << "expected '" << c.expected << "' in: " << message;
}


INSTANTIATE_TEST_SUITE_P(
    stapler_config, config_errors,
    ::testing::Values(
        error_case{"unknown_top_level_key", "bogus = 1\n[[certificate]]\nchain = \"www.pem\"\n", ":1: key 'bogus': unknown key"},
        error_case{"unknown_stapler_key", "[stapler]\nstate_dirr = \"/x\"\n[[certificate]]\nchain = \"a.pem\"\n",
                   ":2: key 'stapler.state_dirr': unknown key"},
        error_case{"unknown_certificate_key", "[[certificate]]\nchain = \"www.pem\"\nchian = \"x\"\n",
                   ":3: key 'certificate[0].chian': unknown key"},
        error_case{"unknown_defaults_key", "[defaults]\nhaproxy = true\n[[certificate]]\nchain = \"a.pem\"\n",
                   ":2: key 'defaults.haproxy': unknown key"},
        error_case{"unknown_directory_key", "[[directory]]\npath = \"d\"\nname = \"x\"\n",
                   ":3: key 'directory[0].name': unknown key"},
        error_case{"bad_duration", "[stapler]\nretry_initial = \"10 parsecs\"\n[[certificate]]\nchain = \"a.pem\"\n",
                   ":2: key 'stapler.retry_initial': must be a duration"},
        error_case{"retry_max_below_initial", "[stapler]\nretry_initial = \"1m\"\nretry_max = \"10s\"\n[[certificate]]\nchain = \"a.pem\"\n",
                   ":3: key 'stapler.retry_max': must not be shorter than retry_initial"},
        error_case{"jitter_out_of_range", "[stapler]\njitter = 0.9\n[[certificate]]\nchain = \"a.pem\"\n",
                   ":2: key 'stapler.jitter': must be between 0 and 0.5"},
        error_case{"slot_size_not_multiple_of_64", "[stapler]\nshm_slot_size = 1000\n[[certificate]]\nchain = \"a.pem\"\n",
                   ":2: key 'stapler.shm_slot_size': must be a multiple of 64"},
        error_case{"expiry_alert_not_durations", "[stapler]\nexpiry_alert = [\"12h\", \"soon\"]\n[[certificate]]\nchain = \"a.pem\"\n",
                   ":2: key 'stapler.expiry_alert': must be a duration"},
        error_case{"bad_log_level", "[stapler]\nlog_level = \"loud\"\n[[certificate]]\nchain = \"a.pem\"\n",
                   ":2: key 'stapler.log_level': 'loud' is not a log level"},
        error_case{"bad_log_section_level", "[log]\nlevel = \"loud\"\n[[certificate]]\nchain = \"a.pem\"\n",
                   ":2: key 'log.level': 'loud' is not a log level (trace, debug, info, warn, error, critical, off)"},
        error_case{"bad_log_format", "[log]\nformat = \"xml\"\n[[certificate]]\nchain = \"a.pem\"\n",
                   ":2: key 'log.format': 'xml' is not one of: text, json"},
        error_case{"unknown_log_key", "[log]\nfile = \"/var/log/x\"\n[[certificate]]\nchain = \"a.pem\"\n",
                   ":2: key 'log.file': unknown key"},
        error_case{"log_level_twice", "[stapler]\nlog_level = \"info\"\n[log]\nlevel = \"debug\"\n[[certificate]]\nchain = \"a.pem\"\n",
                   ":4: key 'log.level': also set as stapler.log_level (line 2), its deprecated spelling; remove that one"},
        error_case{"bad_policy", "[defaults]\npolicy = \"strict\"\n[[certificate]]\nchain = \"a.pem\"\n",
                   ":2: key 'defaults.policy': 'strict' is not one of: soft, hard"},
        error_case{"bad_hash_override", "[[certificate]]\nchain = \"a.pem\"\nhash = \"md5\"\n",
                   ":3: key 'certificate[0].hash': 'md5' is not one of: sha1, sha256"},
        error_case{"max_response_bytes_beyond_slot", "[[certificate]]\nchain = \"a.pem\"\nmax_response_bytes = 5000\n",
                   ":3: key 'certificate[0].max_response_bytes': must be between 0 and 4032"},
        error_case{"https_responder_url", "[[certificate]]\nchain = \"a.pem\"\nresponder_url = \"https://ocsp.example/\"\n",
                   ":3: key 'certificate[0].responder_url':"},
        error_case{"bad_name", "[[certificate]]\nchain = \"a.pem\"\nname = \"../etc\"\n",
                   ":3: key 'certificate[0].name': must be letters"},
        error_case{"chain_missing", "[[certificate]]\nname = \"www\"\n", ":1: key 'certificate[0].chain': is required"},
        error_case{"certificate_not_a_table_array", "certificate = \"www.pem\"\n",
                   ":1: key 'certificate': must be written as [[certificate]] tables"},
        error_case{"nothing_to_staple", "[stapler]\nlog_level = \"info\"\n", " key 'certificate': at least one"},
        error_case{"reload_command_not_strings", "[nginx]\nreload_command = [\"nginx\", 1]\n[[certificate]]\nchain = \"a.pem\"\n",
                   ":2: key 'nginx.reload_command': must be an array of strings"},
        // shm_writer fills at most 7/8 of the (power of two) slots and always leaves one empty.
        error_case{"more_certificates_than_shm_slots",
                   "[stapler]\nlog_level = \"info\"\nshm_capacity = 4\n[[certificate]]\nchain = \"a.pem\"\n"
                   "[[certificate]]\nchain = \"b.pem\"\n[[certificate]]\nchain = \"c.pem\"\n"
                   "[[certificate]]\nchain = \"d.pem\"\n",
                   ":3: key 'stapler.shm_capacity': holds at most 3 entries (4 slots, at most 7/8 of them filled "
                   "and one always empty), 4 certificates configured"},
        error_case{"shm_capacity_rounded_up_before_the_limit",
                   "[stapler]\nshm_capacity = 2\n[[certificate]]\nchain = \"a.pem\"\n[[certificate]]\nchain = \"b.pem\"\n",
                   ":2: key 'stapler.shm_capacity': holds at most 1 entries (2 slots"},
        error_case{"syntax_error", "[stapler\n", ":1:"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(stapler_config, certificates_up_to_the_shm_limit_are_accepted) {
    // 3 rounds up to 4 slots: 3 entries. Directories are counted at run time, not here.
    const auto c = parse_config("[stapler]\nshm_capacity = 3\n[[certificate]]\nchain = \"a.pem\"\n[[certificate]]\n"
                                "chain = \"b.pem\"\n[[certificate]]\nchain = \"c.pem\"\n[[directory]]\npath = \"d\"\n",
                                "/etc/ocsp-stapler/stapler.toml");
    EXPECT_EQ(c.certificates.size(), 3u);
}

TEST(stapler_config, defaults_overrides_and_relative_paths) {
    const std::string text = R"(
[stapler]
state_dir = "state"
metrics_listen = "127.0.0.1:0"
expiry_alert = ["1h", "12h", "1h"]
jitter = 0
[defaults]
nonce = true
hash = "sha256"
[haproxy]
stats_socket = "run/haproxy.sock"
[[certificate]]
chain = "certs/www.pem"
method = "post"
timeout = "500ms"
)";
    auto c = parse_config(text, "/etc/ocsp-stapler/stapler.toml");
    EXPECT_EQ(c.state_dir, "/etc/ocsp-stapler/state");
    EXPECT_EQ(c.shm_path, "/run/ocsp-stapler/staples");
    EXPECT_EQ(c.haproxy_stats_socket, "/etc/ocsp-stapler/run/haproxy.sock");
    EXPECT_EQ(c.jitter, 0.0);
    ASSERT_EQ(c.expiry_alert.size(), 2u);  // sorted descending, duplicates dropped
    EXPECT_EQ(c.expiry_alert[0], std::chrono::hours{12});
    EXPECT_EQ(c.expiry_alert[1], std::chrono::hours{1});
    ASSERT_EQ(c.certificates.size(), 1u);
    const auto& e = c.certificates[0];
    EXPECT_EQ(e.chain, "/etc/ocsp-stapler/certs/www.pem");
    EXPECT_TRUE(e.settings.nonce);
    EXPECT_EQ(e.settings.hash, hash_alg::sha256);
    EXPECT_EQ(e.settings.method, request_method::post);
    EXPECT_EQ(e.settings.timeout, std::chrono::milliseconds{500});
    EXPECT_EQ(e.settings.policy, staple_policy::soft);
}

TEST(stapler_config, log_section_and_the_deprecated_log_level) {
    auto c = parse_config("[log]\nlevel = \"debug\"\nformat = \"json\"\n[[certificate]]\nchain = \"a.pem\"\n",
                          "/etc/ocsp-stapler/stapler.toml");
    EXPECT_EQ(c.log_level, "debug");
    EXPECT_EQ(c.log_format, log_format::json);
    EXPECT_FALSE(c.deprecated_log_level);
    c = parse_config("[stapler]\nlog_level = \"warn\"\n[log]\nformat = \"text\"\n[[certificate]]\nchain = \"a.pem\"\n",
                     "/etc/ocsp-stapler/stapler.toml");
    EXPECT_EQ(c.log_level, "warn");
    EXPECT_EQ(c.log_format, log_format::text);
    EXPECT_TRUE(c.deprecated_log_level);
    c = parse_config("[[certificate]]\nchain = \"a.pem\"\n", "/etc/ocsp-stapler/stapler.toml");
    EXPECT_EQ(c.log_level, "info");
    EXPECT_EQ(c.log_format, log_format::text);
}

// Chain files on disk for the inventory tests.
struct files {
    temp_dir dir;
    issued ca = make_ca("Daemon Test CA");
    issued other_ca = make_ca("Daemon Other CA");
    issued www = make_cert(ca, "www.example", ocspkit::test::key_type::ec_p256, with_url("http://127.0.0.1:1/ocsp"));
    issued bare = make_cert(ca, "bare.example");  // no AIA
    issued strict = make_cert(ca, "strict.example", ocspkit::test::key_type::ec_p256, must_staple());

    static ocspkit::test::cert_options with_url(std::string url) {
        ocspkit::test::cert_options o;
        o.ocsp_url = std::move(url);
        o.serial_hex = "2001";
        return o;
    }
    static ocspkit::test::cert_options must_staple() {
        auto o = with_url("http://127.0.0.1:1/");
        o.serial_hex = "2002";
        o.must_staple = true;
        return o;
    }
    std::filesystem::path chain(const std::string& name, X509* leaf, X509* issuer) {
        auto file = dir / name;
        write_pem(file, leaf);
        if (issuer) append_pem(file, issuer);
        return file;
    }
    std::filesystem::path config(const std::string& text) { return write_file(dir / "stapler.toml", text); }
};

std::string inventory_error(files& f, const std::string& text) {
    auto path = f.config(text);
    return error_of([&] { build_inventory(load_config(path)); });
}

TEST(stapler_inventory, loads_chain_issuer_url_and_must_staple) {
    files f;
    f.chain("www.pem", f.www.cert.get(), f.ca.cert.get());
    f.chain("strict.pem", f.strict.cert.get(), f.ca.cert.get());
    auto inv = build_inventory(load_config(f.config(
        "[[certificate]]\nchain = \"www.pem\"\nnginx_file = \"out/www.der\"\n"
        "[[certificate]]\nchain = \"strict.pem\"\nname = \"strict-one\"\nhaproxy = true\n")));
    ASSERT_EQ(inv.certificates.size(), 2u);
    const auto& www = inv.certificates[0];
    EXPECT_EQ(www.name, "www");
    EXPECT_EQ(www.responder_url, "http://127.0.0.1:1/ocsp");
    EXPECT_FALSE(www.must_staple);
    EXPECT_EQ(X509_cmp(www.issuer.get(), f.ca.cert.get()), 0);
    EXPECT_EQ(www.nginx_file, f.dir / "out/www.der");
    EXPECT_EQ(www.settings.max_response_bytes, 4032u);
    EXPECT_EQ(www.key, *cache_key_of(f.www.cert.get()));
    const auto& strict = inv.certificates[1];
    EXPECT_EQ(strict.name, "strict-one");
    EXPECT_TRUE(strict.must_staple);
    EXPECT_EQ(strict.effective_policy(), staple_policy::hard);
    EXPECT_EQ(strict.haproxy_file, f.dir / "strict.pem.ocsp");
}

TEST(stapler_inventory, separate_issuer_file_and_url_override) {
    files f;
    f.chain("bare.pem", f.bare.cert.get(), nullptr);
    f.chain("ca.pem", f.ca.cert.get(), nullptr);
    auto inv = build_inventory(load_config(f.config(
        "[[certificate]]\nchain = \"bare.pem\"\nissuer = \"ca.pem\"\nresponder_url = \"http://ocsp.example:8080/x\"\n")));
    ASSERT_EQ(inv.certificates.size(), 1u);
    EXPECT_EQ(inv.certificates[0].responder_url, "http://ocsp.example:8080/x");
}

TEST(stapler_inventory, no_issuer_is_an_error_at_the_chain_key) {
    files f;
    f.chain("www.pem", f.www.cert.get(), nullptr);
    const auto m = inventory_error(f, "[stapler]\nlog_level = \"info\"\n[[certificate]]\nchain = \"www.pem\"\n");
    EXPECT_NE(m.find("stapler.toml:4: key 'certificate[0].chain': "), std::string::npos) << m;
    EXPECT_NE(m.find("holds no issuer"), std::string::npos) << m;
}

TEST(stapler_inventory, issuer_that_did_not_sign_is_an_error_at_the_issuer_key) {
    files f;
    f.chain("www.pem", f.www.cert.get(), nullptr);
    f.chain("other.pem", f.other_ca.cert.get(), nullptr);
    const auto m = inventory_error(f, "[[certificate]]\nchain = \"www.pem\"\nissuer = \"other.pem\"\n");
    EXPECT_NE(m.find("stapler.toml:3: key 'certificate[0].issuer': "), std::string::npos) << m;
    EXPECT_NE(m.find("did not sign"), std::string::npos) << m;
}

TEST(stapler_inventory, wrong_second_certificate_in_chain_is_an_error) {
    files f;
    f.chain("www.pem", f.www.cert.get(), f.other_ca.cert.get());
    const auto m = inventory_error(f, "[[certificate]]\nchain = \"www.pem\"\n");
    EXPECT_NE(m.find(":2: key 'certificate[0].chain': the second certificate"), std::string::npos) << m;
}

TEST(stapler_inventory, no_aia_and_no_override_is_an_error) {
    files f;
    f.chain("bare.pem", f.bare.cert.get(), f.ca.cert.get());
    const auto m = inventory_error(f, "\n[[certificate]]\nchain = \"bare.pem\"\n");
    EXPECT_NE(m.find("stapler.toml:3: key 'certificate[0].chain': "), std::string::npos) << m;
    EXPECT_NE(m.find("set responder_url"), std::string::npos) << m;
}

TEST(stapler_inventory, unreadable_chain_is_an_error) {
    files f;
    const auto m = inventory_error(f, "[[certificate]]\nchain = \"missing.pem\"\n");
    EXPECT_NE(m.find(":2: key 'certificate[0].chain': cannot read the chain"), std::string::npos) << m;
}

TEST(stapler_inventory, duplicate_names_are_an_error) {
    files f;
    f.chain("www.pem", f.www.cert.get(), f.ca.cert.get());
    f.chain("strict.pem", f.strict.cert.get(), f.ca.cert.get());
    const auto m = inventory_error(
        f, "[[certificate]]\nchain = \"www.pem\"\n[[certificate]]\nchain = \"strict.pem\"\nname = \"www\"\n");
    EXPECT_NE(m.find(":5: key 'certificate[1].name': duplicate certificate name 'www'"), std::string::npos) << m;
}

TEST(stapler_inventory, directory_scan_skips_what_it_cannot_staple) {
    files f;
    std::filesystem::create_directory(f.dir / "stapled");
    f.chain("stapled/www.pem", f.www.cert.get(), f.ca.cert.get());
    f.chain("stapled/strict.crt", f.strict.cert.get(), f.ca.cert.get());
    f.chain("stapled/lonely.pem", f.www.cert.get(), nullptr);   // no issuer
    f.chain("stapled/bare.pem", f.bare.cert.get(), f.ca.cert.get());  // no AIA
    write_file(f.dir / "stapled/notes.txt", "not a certificate");
    write_file(f.dir / "stapled/junk.pem", "-----BEGIN GARBAGE-----\n");
    f.chain("strict.pem", f.strict.cert.get(), f.ca.cert.get());
    auto inv = build_inventory(load_config(f.config(
        "[[certificate]]\nchain = \"strict.pem\"\n[[directory]]\npath = \"stapled\"\npolicy = \"hard\"\n")));
    ASSERT_EQ(inv.certificates.size(), 2u);
    EXPECT_EQ(inv.certificates[0].name, "strict");
    EXPECT_EQ(inv.certificates[1].name, "www");
    EXPECT_EQ(inv.certificates[1].settings.policy, staple_policy::hard);
    ASSERT_EQ(inv.skipped.size(), 4u);  // bare (no URL), junk, lonely, strict.crt (name taken)
    std::string all;
    for (const auto& s : inv.skipped) all += s + "\n";
    EXPECT_NE(all.find("bare.pem: skipped"), std::string::npos) << all;
    EXPECT_NE(all.find("lonely.pem: skipped"), std::string::npos) << all;
    EXPECT_NE(all.find("junk.pem: skipped"), std::string::npos) << all;
    EXPECT_NE(all.find("the name 'strict' is already taken"), std::string::npos) << all;
}

TEST(stapler_inventory, missing_directory_is_an_error) {
    files f;
    const auto m = inventory_error(f, "[[directory]]\npath = \"nowhere\"\n");
    EXPECT_NE(m.find(":2: key 'directory[0].path': cannot list"), std::string::npos) << m;
}

TEST(stapler_inventory, certificate_names_are_file_names) {
    EXPECT_TRUE(valid_certificate_name("www.example.com"));
    EXPECT_TRUE(valid_certificate_name("api_2-b"));
    EXPECT_FALSE(valid_certificate_name(""));
    EXPECT_FALSE(valid_certificate_name(".hidden"));
    EXPECT_FALSE(valid_certificate_name("a/b"));
    EXPECT_FALSE(valid_certificate_name("a b"));
}

std::string export_error(files& f, const std::string& text) {
    auto path = f.config(text);
    return error_of([&] {
        auto c = load_config(path);
        check_export_folders(c, build_inventory(c));
    });
}

TEST(stapler_exports, folders_that_exist_and_are_writable_pass) {
    files f;
    f.chain("www.pem", f.www.cert.get(), f.ca.cert.get());
    std::filesystem::create_directory(f.dir / "nginx");
    EXPECT_EQ(export_error(f, "[[certificate]]\nchain = \"www.pem\"\nnginx_file = \"nginx/www.der\"\nhaproxy = true\n"),
              "(no error)");
}

TEST(stapler_exports, missing_nginx_folder_names_certificate_file_and_fix) {
    files f;
    f.chain("www.pem", f.www.cert.get(), f.ca.cert.get());
    const auto m = export_error(f, "[[certificate]]\nchain = \"www.pem\"\n\nnginx_file = \"nginx/www.der\"\n");
    const std::string folder = (f.dir / "nginx").string();
    EXPECT_EQ(m, (f.dir / "stapler.toml").string() + ":4: key 'certificate[0].nginx_file': certificate 'www': cannot "
                 "write " + folder + "/www.der: the folder " + folder + " does not exist; create it, writable by the "
                 "user ocsp-stapler runs as (e.g. install -d -o ocsp-stapler -g ocsp-stapler -m 0755 " + folder + ")");
}

TEST(stapler_exports, every_problem_is_listed_once_per_folder) {
    files f;
    f.chain("www.pem", f.www.cert.get(), f.ca.cert.get());
    f.chain("strict.pem", f.strict.cert.get(), f.ca.cert.get());
    write_file(f.dir / "plain-file", "x");
    std::filesystem::create_directory(f.dir / "www.der.d");
    const auto m = export_error(f, "[[certificate]]\nchain = \"www.pem\"\nnginx_file = \"gone/www.der\"\n"
                                   "[[certificate]]\nchain = \"strict.pem\"\nnginx_file = \"gone/strict.der\"\n"
                                   "[[certificate]]\nname = \"third\"\nchain = \"strict.pem\"\n"
                                   "nginx_file = \"plain-file/third.der\"\n"
                                   "[[certificate]]\nname = \"fourth\"\nchain = \"www.pem\"\nnginx_file = \"www.der.d\"\n");
    // "gone" once (for www, the first that needs it), then the file used as a folder, then the folder used
    // as a file.
    std::vector<std::string> lines;
    std::istringstream in(m);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    ASSERT_EQ(lines.size(), 3u) << m;
    EXPECT_NE(lines[0].find(":3: key 'certificate[0].nginx_file': certificate 'www': cannot write"), std::string::npos) << m;
    EXPECT_NE(lines[0].find((f.dir / "gone").string() + " does not exist"), std::string::npos) << m;
    EXPECT_NE(lines[1].find(":10: key 'certificate[2].nginx_file': certificate 'third': cannot write"), std::string::npos) << m;
    EXPECT_NE(lines[1].find("is not a folder"), std::string::npos) << m;
    EXPECT_NE(lines[2].find(":14: key 'certificate[3].nginx_file': certificate 'fourth'"), std::string::npos) << m;
    EXPECT_NE(lines[2].find((f.dir / "www.der.d").string() + " is a folder; name a file in it instead"), std::string::npos) << m;
}

// check_export_folders as `nobody` in a child process: root passes every permission check, and the
// check is about the user that will write. The test is single-threaded here, so fork() is safe.
std::string export_error_as_nobody(const std::filesystem::path& config) {
    int fds[2];
    if (::pipe(fds) != 0) return "(pipe failed)";
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        std::string m;
        if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)
            m = "(cannot become nobody)";
        else
            m = error_of([&] {
                auto c = load_config(config);
                check_export_folders(c, build_inventory(c));
            });
        const ssize_t written = ::write(fds[1], m.data(), m.size());
        ::_exit(written == static_cast<ssize_t>(m.size()) ? 0 : 1);
    }
    ::close(fds[1]);
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return out;
}

TEST(stapler_exports, haproxy_folder_of_a_directory_is_checked_at_its_haproxy_key) {
    files f;
    namespace fs = std::filesystem;
    fs::create_directory(f.dir / "stapled");
    f.chain("stapled/www.pem", f.www.cert.get(), f.ca.cert.get());
    f.chain("stapled/strict.pem", f.strict.cert.get(), f.ca.cert.get());
    const auto config = f.config("[[directory]]\npath = \"stapled\"\nhaproxy = true\n");
    std::string m;
    if (::geteuid() == 0) {
        // Readable and searchable by nobody, writable only by root.
        for (const auto& p : {f.dir.path(), f.dir / "stapled"}) fs::permissions(p, fs::perms(0755));
        for (const auto& p : {config, f.dir / "stapled/www.pem", f.dir / "stapled/strict.pem"})
            fs::permissions(p, fs::perms(0644));
        m = export_error_as_nobody(config);
        EXPECT_NE(m.find(" is not writable by nobody (uid 65534): Permission denied"), std::string::npos) << m;
    } else {
        fs::permissions(f.dir / "stapled", fs::perms::owner_write, fs::perm_options::remove);
        m = export_error(f, "[[directory]]\npath = \"stapled\"\nhaproxy = true\n");
        fs::permissions(f.dir / "stapled", fs::perms::owner_write, fs::perm_options::add);
    }
    EXPECT_NE(m.find(":3: key 'directory[0].haproxy': certificate 'strict': cannot write " +
                     (f.dir / "stapled" / "strict.pem.ocsp").string() + ": the folder " +
                     (f.dir / "stapled").string() + " is not writable by "),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("ReadWritePaths=" + (f.dir / "stapled").string()), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << "one line for the folder: " << m;
}

TEST(stapler_exports, absolute_nginx_file_two_folders_below_what_exists) {
    files f;
    f.chain("www.pem", f.www.cert.get(), f.ca.cert.get());
    const auto file = f.dir / "a" / "b" / "www.der";
    const auto m = export_error(f, "[[certificate]]\nchain = \"www.pem\"\nnginx_file = \"" + file.string() + "\"\n");
    EXPECT_NE(m.find(":3: key 'certificate[0].nginx_file': certificate 'www': cannot write " + file.string() +
                     ": the folder " + file.parent_path().string() + " does not exist"),
              std::string::npos)
        << m;
}

}  // namespace
}  // namespace ocspkit::stapler::daemon
