#include "keys/pkcs11_uri.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <sys/stat.h>

#include "common/ascii.hpp"
#include "common/unix_account.hpp"

namespace ocspkit::keys {
namespace {

constexpr std::string_view scheme = "pkcs11:";

// RFC 7512 §2.3 path attributes a URI for a private key may carry (vendor attributes are not).
const std::set<std::string_view> path_attributes{
    "token",        "object",          "type",  "id", "manufacturer", "model", "serial", "library-manufacturer",
    "library-description", "library-version", "slot-description", "slot-manufacturer", "slot-id"};

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 3986 §2.1 percent-decoding; nullopt for a '%' not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size()) return std::nullopt;
        const int hi = hex_value(in[i + 1]);
        const int lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    while (true) {
        const auto at = text.find(separator);
        parts.push_back(text.substr(0, at));
        if (at == std::string_view::npos) break;
        text.remove_prefix(at + 1);
    }
    return parts;
}

// The file a pin-source names: RFC 7512 §2.4 makes it a URI; we take file: only ("file:/p", "file:///p",
// or a relative "file:p" that the configuration resolves against its own folder).
result<std::filesystem::path> pin_source_file(const std::string& value) {
    if (!istarts_with(value, "file:"))
        return error{errc::unsupported, fmt::format("pin-source '{}': only file: is supported (pin-source=file:/path; "
                                                    "the file holds the PIN)",
                                                    value)};
    std::string_view path = std::string_view(value).substr(5);
    if (path.starts_with("//")) {
        // file://host/path: only the empty host (file:///path) means this machine (RFC 8089 §2).
        path.remove_prefix(2);
        if (!path.starts_with('/'))
            return error{errc::unsupported, fmt::format("pin-source '{}': a file on another host", value)};
    }
    if (path.empty()) return error{errc::malformed, "pin-source=file: names no file"};
    return std::filesystem::path(std::string(path));
}

}  // namespace

bool is_pkcs11_uri(std::string_view text) noexcept { return istarts_with(text, scheme); }

std::string pkcs11_uri::describe() const {
    std::string out = token.empty() ? "any token" : fmt::format("token '{}'", token);
    if (!object.empty()) out += fmt::format(" object '{}'", object);
    if (!id.empty()) out += fmt::format(" id {}", id);
    return out;
}

result<pkcs11_uri> parse_pkcs11_uri(std::string_view text) {
    if (!is_pkcs11_uri(text)) return error{errc::malformed, "a PKCS#11 URI starts with 'pkcs11:'"};
    const std::string_view rest = text.substr(scheme.size());
    const auto query_at = rest.find('?');
    const std::string_view path = rest.substr(0, query_at);
    const std::string_view query = query_at == std::string_view::npos ? std::string_view{} : rest.substr(query_at + 1);

    pkcs11_uri out;
    std::set<std::string, std::less<>> seen;
    std::string kept;  // path attributes for the engine, as written
    std::optional<std::string> type;
    // libp11 reads pin-source from the path too ("...;pin-source=file:..."), so both places are accepted.
    const auto take = [&](std::string_view attribute, bool in_path) -> status {
        if (attribute.empty()) return success();  // "pkcs11:token=a;" has an empty last attribute
        const auto eq = attribute.find('=');
        if (eq == std::string_view::npos || eq == 0)
            return error{errc::malformed, fmt::format("attribute '{}' is not name=value", attribute)};
        const std::string name(attribute.substr(0, eq));
        const std::string_view raw = attribute.substr(eq + 1);
        auto value = percent_decode(raw);
        if (!value) return error{errc::malformed, fmt::format("attribute '{}': bad percent-encoding", name)};
        if (!seen.insert(name).second) return error{errc::malformed, fmt::format("attribute '{}' appears twice", name)};
        if (name == "module-path" || name == "module-name")
            return error{errc::unsupported,
                         fmt::format("{} in the URI is not supported (Debian 12's libp11 engine refuses such a URI); "
                                     "name the module in the configuration instead: [pkcs11] module = \"{}\"",
                                     name, name == "module-path" ? *value : "/usr/lib/.../module.so")};
        if (name == "pin-value")
            return error{errc::unsupported, "pin-value puts the PIN in the configuration; write the PIN to a file "
                                            "(mode 0600) and name it with pin-source=file:/path or pkcs11_pin_file"};
        if (name == "pin-source") {
            auto file = pin_source_file(*value);
            if (!file) return std::move(file).failure();
            out.pin_file = std::move(*file);
            return success();
        }
        if (!in_path || !path_attributes.contains(name))
            return error{errc::unsupported, fmt::format("attribute '{}' is not supported in a signer key URI", name)};
        if (name == "token") out.token = *value;
        if (name == "object") out.object = *value;
        if (name == "id") out.id = std::string(raw);
        if (name == "type") type = *value;
        kept += kept.empty() ? "" : ";";
        kept += attribute;
        return success();
    };
    for (auto attribute : split(path, ';'))
        if (auto s = take(attribute, true); !s) return std::move(s).failure();
    if (!query.empty())
        for (auto attribute : split(query, '&'))
            if (auto s = take(attribute, false); !s) return std::move(s).failure();
    if (type && *type != "private")
        return error{errc::config, fmt::format("type={} does not name a private key; use type=private", *type)};
    if (out.object.empty() && out.id.empty())
        return error{errc::config, "the URI must name the key with object=<label> or id=<%xx bytes>"};
    out.engine_uri = std::string(scheme) + kept;
    return out;
}

result<std::string> pin_from_file_text(std::string text) {
    if (text.ends_with("\r\n"))
        text.resize(text.size() - 2);
    else if (text.ends_with('\n'))
        text.pop_back();
    if (text.empty()) return error{errc::malformed, "holds no PIN"};
    if (text.find_first_of("\r\n") != std::string::npos) {
        OPENSSL_cleanse(text.data(), text.size());
        return error{errc::malformed, "holds more than one line; it must hold the PIN alone"};
    }
    return text;
}

result<std::string> read_pin_file(const std::filesystem::path& file, bool allow_group_read) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return error{errc::io, fmt::format("PIN file {}: cannot open: {}", file.string(), std::strerror(errno))};
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0)
        return error{errc::io, fmt::format("PIN file {}: {}", file.string(), std::strerror(errno))};
    const unsigned mode = st.st_mode & 0777;
    const bool too_open = (mode & 07) != 0 || (mode & 020) != 0 || ((mode & 040) != 0 && !allow_group_read);
    if (too_open)
        return error{errc::unauthorized,
                     fmt::format("PIN file {} (owner {}, group {}, mode 0{:03o}) may be read or changed by others; "
                                 "run `chmod {} {}`{}",
                                 file.string(), user_name(st.st_uid), group_name(st.st_gid), mode,
                                 allow_group_read ? "640" : "600", file.string(),
                                 allow_group_read ? "" : " (allow_group_readable_key = true allows group read)")};
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto pin = pin_from_file_text(std::move(text));
    if (!pin) return error{pin.code(), fmt::format("PIN file {}: {}", file.string(), pin.failure().message)};
    return pin;
}

}  // namespace ocspkit::keys
