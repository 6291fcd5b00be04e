#include "stapler/client_miss.hpp"

#include <algorithm>
#include <cstring>

#include <openssl/err.h>

#include "common/ossl_ptr.hpp"

namespace ocspkit::stapler {

result<client_miss> decode_client_miss(std::span<const std::uint8_t> datagram) {
    if (datagram.size() <= client_miss_header_size || datagram.size() > client_miss_max_size)
        return error{errc::malformed, "client miss: " + std::to_string(datagram.size()) + " bytes"};
    if (!std::equal(client_miss_magic.begin(), client_miss_magic.end(), datagram.begin()))
        return error{errc::malformed, "client miss: not a miss datagram"};
    if (datagram[client_miss_magic.size()] != client_miss_version)
        return error{errc::malformed, "client miss: version " + std::to_string(datagram[client_miss_magic.size()])};
    sha1_digest name_hash{}, key_hash{};
    const std::uint8_t* p = datagram.data() + client_miss_magic.size() + 1;
    std::memcpy(name_hash.data(), p, name_hash.size());
    std::memcpy(key_hash.data(), p + name_hash.size(), key_hash.size());

    const auto serial = datagram.subspan(client_miss_header_size);
    const unsigned char* in = serial.data();
    ossl::asn1_integer_ptr integer{d2i_ASN1_INTEGER(nullptr, &in, static_cast<long>(serial.size()))};
    if (!integer || in != serial.data() + serial.size()) {
        ERR_clear_error();
        return error{errc::malformed, "client miss: the serial is not one DER INTEGER"};
    }
    auto number = serial_number::from_asn1(integer.get());
    if (!number) return error{errc::out_of_range, "client miss: " + number.error_message()};
    return client_miss{name_hash, key_hash, std::move(number).value()};
}

}  // namespace ocspkit::stapler
