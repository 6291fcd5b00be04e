#include "protocol/listen_address.hpp"

#include <charconv>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>

namespace ocspkit::protocol {

result<listen_address> parse_listen_address(std::string_view text) {
    listen_address a;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return error(errc::malformed, fmt::format("'{}' is not [IPv6]:port", text));
        a.host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon)
            return error(errc::malformed, fmt::format("'{}' is not host:port (write IPv6 as [::1]:port)", text));
        a.host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
    }
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535 || a.host.empty())
        return error(errc::malformed, fmt::format("'{}' has no valid host and port (0-65535)", text));
    boost::system::error_code bad_address;
    boost::asio::ip::make_address(a.host, bad_address);
    if (bad_address) return error(errc::malformed, fmt::format("'{}' is not a numeric IP address", a.host));
    a.port = static_cast<unsigned short>(port);
    return a;
}

}  // namespace ocspkit::protocol
