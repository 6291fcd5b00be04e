#include "common/pem.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include <fmt/format.h>

#include "common/openssl_error.hpp"
#include "common/unix_account.hpp"

namespace ocspkit {

namespace {

struct file_closer {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using file_ptr = std::unique_ptr<std::FILE, file_closer>;

struct openssl_free_deleter {
    void operator()(char* p) const noexcept { OPENSSL_free(p); }
};

std::string mode_octal(mode_t mode) { return fmt::format("0{:03o}", mode & 0777); }

// "readable", "readable and writable", ... for one rwx triplet of a mode.
std::string access_words(unsigned bits) {
    std::string out;
    for (auto [bit, word] : {std::pair{4u, "readable"}, {2u, "writable"}, {1u, "executable"}}) {
        if ((bits & bit) == 0) continue;
        if (!out.empty()) out += " and ";
        out += word;
    }
    return out;
}

struct opened_file {
    file_ptr file;
    struct stat status {};
};

opened_file open_for_reading(const std::filesystem::path& file, std::string_view what) {
    opened_file out;
    out.file.reset(std::fopen(file.c_str(), "rb"));
    if (!out.file) {
        const int error = errno;
        struct stat st {};
        // Permission denied is usually a service user meeting a file made by root: say who owns it.
        if (error == EACCES && ::stat(file.c_str(), &st) == 0) {
            throw load_error(fmt::format("{} {}: cannot open: {} (owner {}, group {}, mode {}; this process runs as "
                                         "user {})",
                                         what, file.string(), std::strerror(error), user_name(st.st_uid),
                                         group_name(st.st_gid), mode_octal(st.st_mode), user_name(::geteuid())));
        }
        throw load_error(fmt::format("{} {}: cannot open: {}", what, file.string(), std::strerror(error)));
    }
    // fstat on the open descriptor, not stat on the name: the mode checked is the mode of what we read.
    if (::fstat(::fileno(out.file.get()), &out.status) != 0) {
        throw load_error(fmt::format("{} {}: cannot stat: {}", what, file.string(), std::strerror(errno)));
    }
    if (S_ISDIR(out.status.st_mode)) throw load_error(fmt::format("{} {}: is a directory", what, file.string()));
    return out;
}

std::string read_all(std::FILE* f, const std::filesystem::path& file, std::string_view what) {
    std::string data;
    char buffer[8192];
    while (true) {
        const std::size_t n = std::fread(buffer, 1, sizeof buffer, f);
        data.append(buffer, n);
        if (n < sizeof buffer) break;
    }
    if (std::ferror(f) != 0) {
        throw load_error(fmt::format("{} {}: cannot read: {}", what, file.string(), std::strerror(errno)));
    }
    return data;
}

bool looks_like_pem(const std::string& data) { return data.find("-----BEGIN ") != std::string::npos; }

std::size_t count(const std::string& haystack, std::string_view needle) {
    std::size_t n = 0;
    for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
    return n;
}

ossl::bio_ptr memory_bio(const std::string& data) {
    ossl::bio_ptr bio{BIO_new_mem_buf(data.data(), static_cast<int>(data.size()))};
    if (!bio) throw openssl_error("cannot create a memory BIO");
    return bio;
}

// Refuses to prompt on the terminal for a pass phrase: keys are loaded unattended.
int no_password(char*, int, int, void*) { return -1; }

}  // namespace

std::string read_file(const std::filesystem::path& file) {
    auto opened = open_for_reading(file, "file");
    return read_all(opened.file.get(), file, "file");
}

std::vector<ossl::x509_ptr> parse_certificates(const std::string& data, const std::string& origin) {
    if (data.empty()) throw load_error(fmt::format("{}: empty, expected a certificate", origin));
    std::vector<ossl::x509_ptr> certs;

    if (looks_like_pem(data)) {
        // PEM_read_bio_X509 skips blocks of other types (a key in a combined file), so the number of
        // certificate blocks tells apart "all read" from "one could not be parsed".
        const std::size_t expected =
            count(data, "-----BEGIN CERTIFICATE-----") + count(data, "-----BEGIN X509 CERTIFICATE-----");
        auto bio = memory_bio(data);
        while (certs.size() < expected) {
            ossl::x509_ptr cert{PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr)};
            if (!cert) {
                throw load_error(fmt::format("{}: certificate {} of {} cannot be parsed: {}", origin,
                                             certs.size() + 1, expected, drain_openssl_errors()));
            }
            certs.push_back(std::move(cert));
        }
        if (certs.empty()) throw load_error(fmt::format("{}: PEM file holds no CERTIFICATE block", origin));
        return certs;
    }

    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    const auto* const end = p + data.size();
    ossl::x509_ptr cert{d2i_X509(nullptr, &p, static_cast<long>(data.size()))};
    if (!cert) {
        throw load_error(
            fmt::format("{}: neither PEM nor a DER certificate: {}", origin, drain_openssl_errors()));
    }
    if (p != end) {
        throw load_error(fmt::format("{}: {} unexpected bytes after the DER certificate", origin, end - p));
    }
    certs.push_back(std::move(cert));
    return certs;
}

std::vector<ossl::x509_ptr> load_certificates(const std::filesystem::path& file) {
    return parse_certificates(read_file(file), file.string());
}

ossl::x509_ptr load_certificate(const std::filesystem::path& file) {
    auto certs = load_certificates(file);
    return std::move(certs.front());
}

std::string key_mode_problem(const std::filesystem::path& file, unsigned mode, std::string_view owner,
                             std::string_view group, key_file_policy policy) {
    const unsigned group_bits = (mode >> 3) & 7;
    const unsigned other_bits = mode & 7;
    // The chmod keeps what the operator opted into: group read when allow_group_readable_key is set.
    const std::string fix = fmt::format("run `chmod {} {}`", policy.allow_group_readable ? "640" : "600", file.string());
    const std::string head = fmt::format("key file {} (owner {}, group {}, mode {})", file.string(), owner, group,
                                         mode_octal(static_cast<mode_t>(mode)));
    constexpr std::string_view never =
        "which is always refused (allow_group_readable_key = true allows group read, 0640, at most)";
    if (other_bits != 0) return fmt::format("{} is {} by others, {}; {}", head, access_words(other_bits), never, fix);
    if ((group_bits & 3) != 0)
        return fmt::format("{} is {} by group {}, {}; {}", head, access_words(group_bits), group, never, fix);
    if (group_bits != 0 && !policy.allow_group_readable)
        return fmt::format("{} is readable by group {}; {}, or set allow_group_readable_key = true in its [[issuer]] "
                           "table if group {} must read it",
                           head, group, fix, group);
    return {};
}

ossl::evp_pkey_ptr load_private_key(const std::filesystem::path& file, key_file_policy policy) {
    auto opened = open_for_reading(file, "key file");
    const mode_t mode = opened.status.st_mode;
    if (auto problem = key_mode_problem(file, mode & 0777, user_name(opened.status.st_uid),
                                        group_name(opened.status.st_gid), policy);
        !problem.empty())
        throw load_error(problem);
    const std::string data = read_all(opened.file.get(), file, "key file");
    if (data.empty()) throw load_error(fmt::format("key file {}: empty", file.string()));

    ossl::evp_pkey_ptr key;
    if (looks_like_pem(data)) {
        auto bio = memory_bio(data);
        key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
    } else {
        // d2i_AutoPrivateKey recognises unencrypted PKCS#8 as well as the traditional RSA and EC forms.
        const auto* p = reinterpret_cast<const unsigned char*>(data.data());
        key.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(data.size())));
    }
    if (!key) {
        throw load_error(fmt::format("key file {}: no unencrypted private key found (PEM or DER): {}",
                                     file.string(), drain_openssl_errors()));
    }
    return key;
}

ossl::x509_store_ptr load_ca_bundle(const std::filesystem::path& file) {
    auto certs = load_certificates(file);
    ossl::x509_store_ptr store{X509_STORE_new()};
    if (!store) throw openssl_error("cannot create an X509_STORE");
    for (const auto& cert : certs) {
        // The store takes its own reference; ours is released with `certs`.
        if (X509_STORE_add_cert(store.get(), cert.get()) != 1) {
            throw load_error(fmt::format("CA bundle {}: cannot add {}: {}", file.string(), subject_oneline(cert.get()),
                                         drain_openssl_errors()));
        }
    }
    return store;
}

std::vector<std::uint8_t> der_of(X509* cert) {
    const int len = i2d_X509(cert, nullptr);
    if (len <= 0) throw openssl_error("cannot DER-encode a certificate");
    std::vector<std::uint8_t> out(static_cast<std::size_t>(len));
    unsigned char* p = out.data();
    if (i2d_X509(cert, &p) != len) throw openssl_error("cannot DER-encode a certificate");
    return out;
}

std::string subject_oneline(X509* cert) {
    std::unique_ptr<char, openssl_free_deleter> text{X509_NAME_oneline(X509_get_subject_name(cert), nullptr, 0)};
    if (!text) throw openssl_error("cannot format a subject name");
    return text.get();
}

std::string subject_rfc2253(X509* cert) { return name_rfc2253(X509_get_subject_name(cert)); }

std::string name_rfc2253(const X509_NAME* name) {
    ossl::bio_ptr bio{BIO_new(BIO_s_mem())};
    if (!bio) throw openssl_error("cannot create a memory BIO");
    if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) {
        throw openssl_error("cannot format a subject name");
    }
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return {data, static_cast<std::size_t>(len)};
}

}  // namespace ocspkit
