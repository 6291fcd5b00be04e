#pragma once
// Where a server listens: a numeric IP address and a port, as configured ("127.0.0.1:8080", "[::1]:8080").
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace ocspkit::protocol {

struct listen_address {
    std::string host;  // numeric IPv4 or IPv6 (without brackets)
    unsigned short port = 0;
};

// "host:port" or "[IPv6]:port"; errc::malformed with a message fit for a config error otherwise. The
// host is checked to be a numeric address: a listener never resolves names.
result<listen_address> parse_listen_address(std::string_view text);

}  // namespace ocspkit::protocol
