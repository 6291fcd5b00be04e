#include "responder/purge_urls.hpp"

#include <array>

#include "common/base64.hpp"

namespace ocspkit::responder {
namespace {

using der = std::vector<std::uint8_t>;

// X.690 §8.1: identifier, definite length (short form below 128, else the long form), contents.
der tlv(std::uint8_t tag, const der& contents) {
    der out{tag};
    const std::size_t n = contents.size();
    if (n < 0x80) {
        out.push_back(static_cast<std::uint8_t>(n));
    } else {
        std::array<std::uint8_t, sizeof(std::size_t)> octets{};
        std::size_t count = 0;
        for (std::size_t v = n; v != 0; v >>= 8) octets[count++] = static_cast<std::uint8_t>(v & 0xff);
        out.push_back(static_cast<std::uint8_t>(0x80 | count));
        while (count > 0) out.push_back(octets[--count]);
    }
    out.insert(out.end(), contents.begin(), contents.end());
    return out;
}

der concat(std::initializer_list<der> parts) {
    der out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

constexpr std::uint8_t sequence = 0x30, octet_string = 0x04, integer = 0x02, object_id = 0x06, null_tag = 0x05;

// The OID contents of the two algorithms purged: id-sha1 1.3.14.3.2.26, id-sha256 2.16.840.1.101.3.4.2.1.
der oid_contents(hash_alg alg) {
    switch (alg) {
        case hash_alg::sha1: return {0x2b, 0x0e, 0x03, 0x02, 0x1a};
        case hash_alg::sha256: return {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
        case hash_alg::sha384: return {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02};
        case hash_alg::sha512: return {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03};
    }
    return {};
}

// X.690 §8.3: a serial is non-negative, so a magnitude with its high bit set needs a leading zero.
der integer_contents(const serial_number& serial) {
    der out;
    if (!serial.bytes().empty() && (serial.bytes().front() & 0x80) != 0) out.push_back(0x00);
    out.insert(out.end(), serial.bytes().begin(), serial.bytes().end());
    if (out.empty()) out.push_back(0x00);
    return out;
}

}  // namespace

std::vector<std::uint8_t> canonical_request_der(hash_alg alg, const name_and_key_hash& issuer,
                                                const serial_number& serial) {
    // RFC 6960 §4.1.1:
    //   OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
    //   TBSRequest ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, requestorName [1] OPTIONAL,
    //                             requestList SEQUENCE OF Request, requestExtensions [2] OPTIONAL }
    //   Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] OPTIONAL }
    //   CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, issuerNameHash OCTET STRING,
    //                         issuerKeyHash OCTET STRING, serialNumber CertificateSerialNumber }
    // DER leaves the DEFAULT version out; everything OPTIONAL is absent in an RFC 5019 request.
    const der algorithm = tlv(sequence, concat({tlv(object_id, oid_contents(alg)), tlv(null_tag, {})}));
    const der cert_id = tlv(sequence, concat({algorithm, tlv(octet_string, issuer.name_hash),
                                              tlv(octet_string, issuer.key_hash), tlv(integer, integer_contents(serial))}));
    const der request = tlv(sequence, cert_id);
    const der request_list = tlv(sequence, request);
    const der tbs_request = tlv(sequence, request_list);
    return tlv(sequence, tbs_request);
}

std::string get_path(std::string_view ocsp_path, const std::vector<std::uint8_t>& request_der) {
    std::string path(ocsp_path);
    if (path.empty() || path.back() != '/') path += '/';
    return path + base64_encode(request_der);
}

std::vector<std::string> purge_paths(std::string_view ocsp_path, const issuer_hashes& issuer,
                                     const serial_number& serial) {
    std::vector<std::string> paths;
    for (const hash_alg alg : purged_hash_algs)
        paths.push_back(get_path(ocsp_path, canonical_request_der(alg, issuer[alg], serial)));
    return paths;
}

}  // namespace ocspkit::responder
