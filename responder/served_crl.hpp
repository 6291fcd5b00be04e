#pragma once
// One issuer's CRL as the responder serves it: the DER and what its HTTP answer needs, computed once when
// it was issued (crl_publisher), so that a request formats no date and hashes nothing.
#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.hpp"

namespace ocspkit::responder {

struct served_crl {
    std::vector<std::uint8_t> der;
    std::int64_t number = 0;
    sys_seconds this_update{};
    sys_seconds next_update{};
    // When the publisher replaces it at the latest (half its validity): HTTP caches keep it no longer.
    sys_seconds refresh_at{};
    std::string etag;        // strong, quoted (protocol::response_etag)
    std::string validators;  // "Last-Modified: <thisUpdate>\r\nExpires: <refresh_at>\r\nETag: ...\r\n"
};

}  // namespace ocspkit::responder
