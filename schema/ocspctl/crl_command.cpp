// `ocspctl crl`: a CRL of one issuer from the index, signed with the CA's key (crl/crl_issue.hpp), on
// either backend. Each run takes the issuer's next CRL number in the index.
// `ocspctl import-crl`: a CA's CRL into the index (crl/crl_import.hpp).
#include <filesystem>
#include <iterator>

#include <fmt/format.h>
#include <openssl/pem.h>

#include "common/asn1_time.hpp"
#include "common/atomic_file.hpp"
#include "common/duration.hpp"
#include "common/openssl_error.hpp"
#include "common/pem.hpp"
#include "crl/crl_import.hpp"
#include "crl/crl_issue.hpp"
#include "keys/pkcs11_uri.hpp"
#include "schema/ocspctl/internal.hpp"

namespace ocspkit::ocspctl {

namespace {

std::chrono::seconds parse_duration_option(const std::string& text, std::string_view option) {
    const auto d = parse_duration(text);
    if (!d) bad_input(fmt::format("{} '{}': not a duration such as \"12h\", \"7d\" or \"30d\"", option, text));
    return std::chrono::duration_cast<std::chrono::seconds>(*d);
}

crl::crl_policy policy_of(const crl_args& a) {
    crl::crl_policy p;
    p.validity = parse_duration_option(a.validity, "--validity");
    if (a.expired_grace == "keep") {
        p.expired_grace.reset();
    } else {
        p.expired_grace = parse_duration_option(a.expired_grace, "--expired-grace");
    }
    if (auto ok = crl::check_policy(p); !ok) bad_input(ok.error_message());
    return p;
}

std::string pem_of(const std::vector<std::uint8_t>& der) {
    const unsigned char* p = der.data();
    ossl::x509_crl_ptr crl{d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size()))};
    ossl::bio_ptr bio{BIO_new(BIO_s_mem())};
    if (!crl || !bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) throw openssl_error("writing the CRL as PEM");
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace

int cmd_crl(context& c, const crl_args& a) {
    if (a.der && a.pem) bad_input("--der and --pem exclude each other");
    const auto policy = policy_of(a);
    const auto store = c.db.open(sqlite::open_mode::read_write);
    auto& index = *store;
    const auto issuer = resolve_issuer(index, a.issuer);
    auto cas = parse_certificates(std::string(issuer.cert_der.begin(), issuer.cert_der.end()),
                                  fmt::format("issuer ID {}", issuer.id));
    if (cas.empty()) database_failure(fmt::format("issuer ID {}: its CA certificate does not parse", issuer.id));
    const auto ca_label = fmt::format("the CA certificate of issuer ID {} ({})", issuer.id, issuer.subject);
    if (!keys::is_pkcs11_uri(a.key) && (!a.pin_file.empty() || !a.pkcs11_module.empty()))
        bad_input("--pin-file and --pkcs11-module are for a --key that is a pkcs11: URI");
    crl::crl_key_source source;
    source.key = a.key;
    source.pin_file = a.pin_file;
    source.token.module = a.pkcs11_module;
    source.token.sessions = 1;  // one CRL, one signature
    auto signer = crl::crl_signer::load(std::move(cas.front()), ca_label, source, a.rsa_padding == "pss");
    if (!signer) bad_input(signer.error_message());
    auto issued = crl::issue_crl(index, issuer.id, *signer, policy, c.now);
    if (!issued) {
        if (issued.code() == errc::not_found) not_found(issued.error_message());
        bad_input(issued.error_message());
    }
    const auto& built = issued->crl;
    std::string text;
    std::span<const std::uint8_t> content = built.der;
    if (!a.der) {
        text = pem_of(built.der);
        content = {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
    }
    if (a.out.empty() || a.out == "-") {
        c.out.write(reinterpret_cast<const char*>(content.data()), static_cast<std::streamsize>(content.size()));
        c.out.flush();
        return 0;
    }
    // A CRL is public: world-readable, like the files web servers load it from.
    if (auto written = write_file_atomically(a.out, content, 0644); !written) bad_input(written.error_message());
    c.out << fmt::format("{}: CRL number {} of {}: {} entries ({} revoked certificates expired before {} left off), "
                         "thisUpdate {}, nextUpdate {}\n",
                         a.out, built.number, issuer.subject, built.entries, built.expired_left_off,
                         to_iso8601(built.expired_certs_on_crl), to_iso8601(built.this_update),
                         to_iso8601(built.next_update));
    return 0;
}

int cmd_import_crl(context& c, const std::string& issuer_ref, const std::string& file) {
    std::string input;
    if (file == "-") {
        input.assign(std::istreambuf_iterator<char>(c.in), std::istreambuf_iterator<char>());
    } else {
        input = read_file(file);
    }
    const auto label = file == "-" ? std::string("standard input") : file;
    const auto store = c.db.open(sqlite::open_mode::read_write);
    const auto issuer = resolve_issuer(*store, issuer_ref);
    auto imported = crl::import_crl(*store, issuer,
                                    {reinterpret_cast<const std::uint8_t*>(input.data()), input.size()}, c.now);
    if (!imported) {
        bad_input(fmt::format("{}: {}; nothing imported, database unchanged", label, imported.error_message()));
    }
    const auto& r = *imported;
    constexpr std::size_t max_warnings = 50;
    for (std::size_t i = 0; i < r.warnings.size() && i < max_warnings; ++i) c.err << "warning: " << r.warnings[i] << '\n';
    if (r.warnings.size() > max_warnings)
        c.err << fmt::format("... and {} more warnings\n", r.warnings.size() - max_warnings);
    const auto what = r.delta_base ? fmt::format("delta CRL 0x{} (base 0x{})", r.number.to_hex(), r.delta_base->to_hex())
                                   : fmt::format("CRL 0x{}", r.number.to_hex());
    if (r.already_imported) {
        c.out << fmt::format("{}: {} of {} was imported already; nothing changed\n", label, what, issuer.subject);
        return 0;
    }
    c.out << fmt::format("{}: {} of {} (thisUpdate {}, nextUpdate {}): {} entries; {} added, {} revoked, {} holds "
                         "lifted, {} unchanged, {} kept\n",
                         label, what, issuer.subject, to_iso8601(r.this_update), optional_time(r.next_update),
                         r.entries, r.counts.added, r.counts.revoked, r.counts.lifted, r.counts.unchanged,
                         r.counts.kept);
    return 0;
}

}  // namespace ocspkit::ocspctl
