#pragma once
// PKCS#11 URIs (RFC 7512) as a `signer_key` names a key in a token, and the PIN files that unlock it.
// Pure parsing (unit-tested) plus the PIN file read; the token itself is reached through token_key.hpp.
//
//   signer_key = "pkcs11:token=ocsp;object=signer-1;type=private?pin-source=file:/etc/ocspkit/token.pin"
//
// What the parser refuses, and why:
//  - module-path / module-name: Debian 12's libp11 0.4.12 engine rejects a URI carrying them, and the
//    module is one per program anyway: it belongs in the configuration (`[pkcs11] module`);
//  - pin-value: the PIN would sit in the configuration file (and in every message quoting the URI);
//  - type other than private, and a URI naming neither object nor id: it must name one private key.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace ocspkit::keys {

struct pkcs11_uri {
    // What the engine is given: "pkcs11:" and the path attributes as written (percent-encoding kept),
    // without pin-source; never holds a PIN.
    std::string engine_uri;
    std::string token;   // decoded token label, "" when the URI names none (any token of the module)
    std::string object;  // decoded object label, "" when the URI names the key by id only
    std::string id;      // the id attribute as written (percent-encoded bytes), "" when absent
    std::optional<std::filesystem::path> pin_file;  // pin-source=file:..., as written (maybe relative)

    // "token 'ocsp' object 'signer-1'" (or "id %01", "any token"): for messages, without the PIN source.
    std::string describe() const;
};

// True when `text` is meant as a PKCS#11 URI (scheme "pkcs11:", case-insensitive, RFC 3986 §3.1).
bool is_pkcs11_uri(std::string_view text) noexcept;

// errc::malformed (bad syntax, percent-encoding, duplicated attribute), errc::unsupported (module-path,
// module-name, pin-value, an unknown attribute, a pin-source other than file:), errc::config (no
// object or id, a type other than private). The message says what to write instead.
result<pkcs11_uri> parse_pkcs11_uri(std::string_view text);

// The PIN a PIN file's text holds: the text with one trailing line end (LF or CRLF) removed, which
// editors and `echo` add and libp11 0.4.12 would send to the token as part of the PIN (login fails).
// errc::malformed when nothing is left, or when a line end remains (two lines: which one is the PIN?).
result<std::string> pin_from_file_text(std::string text);

// Reads a PIN file: refused (errc::unauthorized) when others may read or write it or its group may
// write it; group read (0640) only with `allow_group_read`. errc::io when it cannot be read. Messages
// name the file, owner, group and mode, never the content.
result<std::string> read_pin_file(const std::filesystem::path& file, bool allow_group_read);

}  // namespace ocspkit::keys
