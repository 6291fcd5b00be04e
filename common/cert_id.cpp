#include "common/cert_id.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/x509v3.h>

#include "common/openssl_error.hpp"

namespace ocspkit {

namespace {

struct alg_info {
    hash_alg alg;
    int nid;
    std::string_view name;
    std::size_t size;
};

constexpr std::array<alg_info, 4> algs{{
    {hash_alg::sha1, NID_sha1, "sha1", 20},
    {hash_alg::sha256, NID_sha256, "sha256", 32},
    {hash_alg::sha384, NID_sha384, "sha384", 48},
    {hash_alg::sha512, NID_sha512, "sha512", 64},
}};

const alg_info& info(hash_alg alg) { return algs.at(static_cast<std::size_t>(alg)); }

bytes digest(hash_alg alg, const unsigned char* data, std::size_t len, std::string_view what) {
    bytes out(EVP_MAX_MD_SIZE);
    unsigned int out_len = 0;
    if (EVP_Digest(data, len, out.data(), &out_len, evp_md(alg), nullptr) != 1) {
        throw openssl_error(std::string{"cannot compute "}.append(hash_name(alg)).append(" of ").append(what));
    }
    out.resize(out_len);
    return out;
}

}  // namespace

const EVP_MD* evp_md(hash_alg alg) {
    switch (alg) {
    case hash_alg::sha1: return EVP_sha1();
    case hash_alg::sha256: return EVP_sha256();
    case hash_alg::sha384: return EVP_sha384();
    case hash_alg::sha512: return EVP_sha512();
    }
    return nullptr;
}

int hash_nid(hash_alg alg) { return info(alg).nid; }
std::string_view hash_name(hash_alg alg) { return info(alg).name; }
std::size_t hash_size(hash_alg alg) { return info(alg).size; }

std::optional<hash_alg> hash_alg_from_nid(int nid) {
    for (const auto& a : algs) {
        if (a.nid == nid) return a.alg;
    }
    return std::nullopt;
}

std::optional<hash_alg> hash_alg_from_name(std::string_view name) {
    // Config files and CLIs spell these "SHA256", "sha-256" or "sha256"; all mean the same digest.
    std::string folded;
    for (char c : name) {
        if (c != '-') folded.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    for (const auto& a : algs) {
        if (a.name == folded) return a.alg;
    }
    return std::nullopt;
}

bytes issuer_name_hash(X509* issuer, hash_alg alg) {
    const X509_NAME* name = X509_get_subject_name(issuer);
    const int len = i2d_X509_NAME(name, nullptr);
    if (len <= 0) throw openssl_error("cannot DER-encode the issuer name");
    bytes der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    if (i2d_X509_NAME(name, &p) != len) throw openssl_error("cannot DER-encode the issuer name");
    return digest(alg, der.data(), der.size(), "the issuer name");
}

bytes issuer_key_hash(X509* issuer, hash_alg alg) {
    // RFC 6960 §4.1.1: the hash covers the BIT STRING's value only, without tag, length or unused-bits octet.
    const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(issuer);
    if (key == nullptr) throw openssl_error("issuer certificate has no public key");
    return digest(alg, ASN1_STRING_get0_data(key), static_cast<std::size_t>(ASN1_STRING_length(key)),
                  "the issuer key");
}

issuer_hashes compute_issuer_hashes(X509* issuer) {
    issuer_hashes out;
    for (hash_alg alg : all_hash_algs) {
        out.by_alg[static_cast<std::size_t>(alg)] = {issuer_name_hash(issuer, alg), issuer_key_hash(issuer, alg)};
    }
    return out;
}

bytes subject_key_id(X509* cert) {
    if (const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(cert)) {
        const std::uint8_t* data = ASN1_STRING_get0_data(skid);
        return {data, data + ASN1_STRING_length(skid)};
    }
    // X509_get0_subject_key_id may have failed to cache extensions; that is not our error to report.
    ERR_clear_error();
    return issuer_key_hash(cert, hash_alg::sha1);
}

std::string to_hex(const std::uint8_t* data, std::size_t len) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(len * 2);
    for (std::size_t i = 0; i < len; ++i) {
        out.push_back(digits[data[i] >> 4]);
        out.push_back(digits[data[i] & 0x0f]);
    }
    return out;
}

}  // namespace ocspkit
