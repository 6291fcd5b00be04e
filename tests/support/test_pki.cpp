#include "tests/support/test_pki.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <fmt/format.h>

#include "common/openssl_error.hpp"

namespace ocspkit::test {

namespace {

// Test helpers fail loudly: a half-made certificate would turn into confusing failures much later.
void check(int ok, std::string_view what) {
    if (ok <= 0) throw openssl_error(what);
}

ossl::evp_pkey_ptr generate(const char* algorithm, void (*configure)(EVP_PKEY_CTX*)) {
    ossl::evp_pkey_ctx_ptr ctx{EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr)};
    if (!ctx) throw openssl_error(fmt::format("make_key: no {} implementation", algorithm));
    check(EVP_PKEY_keygen_init(ctx.get()), "make_key: keygen_init");
    if (configure != nullptr) configure(ctx.get());
    EVP_PKEY* raw = nullptr;
    check(EVP_PKEY_generate(ctx.get(), &raw), fmt::format("make_key: {} keygen", algorithm));
    return ossl::evp_pkey_ptr{raw};
}

void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
    ossl::x509_extension_ptr ext{X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str())};
    if (!ext) throw openssl_error(fmt::format("make_cert: extension {} = {}", OBJ_nid2sn(nid), value));
    // X509_add_ext copies the extension; ours is freed by its owner.
    check(X509_add_ext(cert, ext.get(), -1), "make_cert: X509_add_ext");
}

void set_time(ASN1_TIME* field, sys_seconds t) {
    // ASN1_TIME_set chooses UTCTime or GeneralizedTime by year, as RFC 5280 §4.1.2.5 requires.
    if (ASN1_TIME_set(field, static_cast<time_t>(t.time_since_epoch().count())) == nullptr) {
        throw openssl_error("make_cert: validity time");
    }
}

void set_serial(X509* cert, const std::string& hex) {
    // BIGNUM rather than serial_number: tests need serials the production code refuses (21 octets,
    // negative) to check that it refuses them.
    BIGNUM* raw = nullptr;
    if (BN_hex2bn(&raw, hex.c_str()) == 0) throw openssl_error(fmt::format("make_cert: serial '{}'", hex));
    ossl::bignum_ptr bn{raw};
    ossl::asn1_integer_ptr serial{BN_to_ASN1_INTEGER(bn.get(), nullptr)};
    if (!serial) throw openssl_error("make_cert: BN_to_ASN1_INTEGER");
    check(X509_set_serialNumber(cert, serial.get()), "make_cert: X509_set_serialNumber");
}

const EVP_MD* signing_digest(EVP_PKEY* key) {
    // EdDSA signs the message itself; OpenSSL expects no digest for it.
    if (EVP_PKEY_is_a(key, "ED25519") != 0 || EVP_PKEY_is_a(key, "ED448") != 0) return nullptr;
    return EVP_sha256();
}

bool is_rsa(EVP_PKEY* key) { return EVP_PKEY_is_a(key, "RSA") != 0 || EVP_PKEY_is_a(key, "RSA-PSS") != 0; }

// Builds and signs one certificate. issuer == nullptr makes it self-signed with its own key.
issued build(const issued* issuer, const std::string& common_name, key_type type, const cert_options& options) {
    issued out{ossl::x509_ptr{X509_new()}, make_key(type)};
    X509* cert = out.cert.get();
    if (cert == nullptr) throw openssl_error("make_cert: X509_new");

    check(X509_set_version(cert, X509_VERSION_3), "make_cert: version");
    set_serial(cert, options.serial_hex);
    set_time(X509_getm_notBefore(cert), options.not_before);
    set_time(X509_getm_notAfter(cert), options.not_after);

    X509_NAME* subject = X509_get_subject_name(cert);
    check(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0),
          "make_cert: subject CN");
    X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : cert;
    EVP_PKEY* issuer_key = issuer != nullptr ? issuer->key.get() : out.key.get();
    check(X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert)), "make_cert: issuer name");
    check(X509_set_pubkey(cert, out.key.get()), "make_cert: public key");

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer_cert, cert, nullptr, nullptr, 0);
    const bool ca = options.is_ca || issuer == nullptr;
    if (ca) {
        add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        // digitalSignature too: a CA that signs its own OCSP responses (RFC 6960 §4.2.2.2) needs it.
        add_ext(cert, &ctx, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign");
    } else {
        add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(cert, &ctx, NID_key_usage,
                is_rsa(out.key.get()) ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature");
        if (options.ocsp_signing) {
            add_ext(cert, &ctx, NID_ext_key_usage, "OCSPSigning");
            // RFC 6960 §4.2.2.2.1: the responder's own status need not be checked.
            add_ext(cert, &ctx, NID_id_pkix_OCSP_noCheck, "ignored");
        } else {
            add_ext(cert, &ctx, NID_ext_key_usage, options.client_auth ? "serverAuth,clientAuth" : "serverAuth");
        }
        if (!options.dns_names.empty()) {
            std::string san;
            for (const auto& name : options.dns_names) {
                if (!san.empty()) san += ',';
                san += "DNS:" + name;
            }
            add_ext(cert, &ctx, NID_subject_alt_name, san);
        }
    }
    add_ext(cert, &ctx, NID_subject_key_identifier, "hash");
    // RFC 5280 §4.2.1.1 lets a self-signed certificate omit it, and OpenSSL 3.0 would write an empty one.
    if (issuer != nullptr) add_ext(cert, &ctx, NID_authority_key_identifier, "keyid");
    if (!options.ocsp_url.empty()) add_ext(cert, &ctx, NID_info_access, "OCSP;URI:" + options.ocsp_url);
    if (options.must_staple) add_ext(cert, &ctx, NID_tlsfeature, "status_request");

    if (X509_sign(cert, issuer_key, signing_digest(issuer_key)) <= 0) throw openssl_error("make_cert: X509_sign");
    return out;
}

struct fd_owner {
    int fd;
    ~fd_owner() {
        if (fd >= 0) ::close(fd);
    }
};

struct pipe_closer {
    void operator()(std::FILE* f) const noexcept { ::pclose(f); }
};

void write_bio(const std::filesystem::path& file, const char* mode, int (*writer)(BIO*, const X509*), const X509* cert) {
    ossl::bio_ptr bio{BIO_new_file(file.c_str(), mode)};
    if (!bio) throw openssl_error(fmt::format("cannot open {} for writing", file.string()));
    check(writer(bio.get(), cert), fmt::format("cannot write {}", file.string()));
    check(BIO_flush(bio.get()), fmt::format("cannot write {}", file.string()));
}

}  // namespace

ossl::evp_pkey_ptr make_key(key_type type) {
    switch (type) {
    case key_type::rsa2048:
        return generate("RSA", [](EVP_PKEY_CTX* c) { check(EVP_PKEY_CTX_set_rsa_keygen_bits(c, 2048), "bits"); });
    case key_type::rsa_pss2048:
        // An unrestricted RSA-PSS key: certificates it signs carry id-RSASSA-PSS with explicit parameters.
        return generate("RSA-PSS",
                        [](EVP_PKEY_CTX* c) { check(EVP_PKEY_CTX_set_rsa_keygen_bits(c, 2048), "bits"); });
    case key_type::ec_p256:
        return generate("EC", [](EVP_PKEY_CTX* c) { check(EVP_PKEY_CTX_set_group_name(c, "P-256"), "group"); });
    case key_type::ec_p384:
        return generate("EC", [](EVP_PKEY_CTX* c) { check(EVP_PKEY_CTX_set_group_name(c, "P-384"), "group"); });
    case key_type::ed25519: return generate("ED25519", nullptr);
    }
    throw std::invalid_argument("make_key: unknown key type");
}

std::string_view to_string(key_type type) {
    switch (type) {
    case key_type::rsa2048: return "rsa2048";
    case key_type::rsa_pss2048: return "rsa_pss2048";
    case key_type::ec_p256: return "ec_p256";
    case key_type::ec_p384: return "ec_p384";
    case key_type::ed25519: return "ed25519";
    }
    return "unknown";
}

issued make_ca(const std::string& common_name, key_type type, cert_options options) {
    options.is_ca = true;
    return build(nullptr, common_name, type, options);
}

issued make_cert(const issued& issuer, const std::string& common_name, key_type type, cert_options options) {
    return build(&issuer, common_name, type, options);
}

issued make_ocsp_signer(const issued& issuer, const std::string& common_name, key_type type,
                        cert_options options) {
    options.ocsp_signing = true;
    options.is_ca = false;
    return build(&issuer, common_name, type, options);
}

void write_pem(const std::filesystem::path& file, X509* cert) { write_bio(file, "w", PEM_write_bio_X509, cert); }

void append_pem(const std::filesystem::path& file, X509* cert) { write_bio(file, "a", PEM_write_bio_X509, cert); }

void write_der(const std::filesystem::path& file, X509* cert) { write_bio(file, "wb", i2d_X509_bio, cert); }

void write_key(const std::filesystem::path& file, EVP_PKEY* key, unsigned mode) {
    ossl::bio_ptr mem{BIO_new(BIO_s_mem())};
    if (!mem) throw openssl_error("write_key: BIO_new");
    check(PEM_write_bio_PrivateKey(mem.get(), key, nullptr, nullptr, 0, nullptr, nullptr), "write_key: PEM");
    char* data = nullptr;
    const long len = BIO_get_mem_data(mem.get(), &data);

    fd_owner out{::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
    if (out.fd < 0) {
        throw std::system_error(errno, std::generic_category(), fmt::format("write_key: open {}", file.string()));
    }
    // fchmod, not the open() mode: the umask would otherwise hide the 0644 that tests ask for.
    if (::fchmod(out.fd, static_cast<mode_t>(mode)) != 0 ||
        ::write(out.fd, data, static_cast<std::size_t>(len)) != static_cast<ssize_t>(len)) {
        throw std::system_error(errno, std::generic_category(), fmt::format("write_key: {}", file.string()));
    }
}

temp_dir::temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ocspkit-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), fmt::format("mkdtemp {}", pattern));
    }
    path_ = pattern;
}

temp_dir::~temp_dir() {
    std::error_code ignored;  // a destructor must not throw; a leftover temp dir is harmless
    std::filesystem::remove_all(path_, ignored);
}

command_result run_command(const std::string& command, bool merge_stderr) {
    // The subshell makes 2>&1 cover every part of a compound command, not just the last one.
    const std::string line = merge_stderr ? "(" + command + ") 2>&1" : command;
    std::unique_ptr<std::FILE, pipe_closer> pipe{::popen(line.c_str(), "r")};
    if (!pipe) throw std::system_error(errno, std::generic_category(), "popen " + command);
    command_result out{-1, {}};
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe.get())) > 0) out.output.append(buffer, n);
    const int status = ::pclose(pipe.release());
    if (status == -1) throw std::system_error(errno, std::generic_category(), "pclose " + command);
    out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return out;
}

}  // namespace ocspkit::test
