// libFuzzer target: ocsp-responder's configuration loader (responder/config.hpp) on arbitrary TOML text.
// A configuration is read once at start-up, but a typo or a truncated file must end in the documented
// config_error ("FILE:LINE: key 'KEY': reason"), never a crash or another exception. What loads must
// respect the ranges the loader promises.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "responder/config.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    // Relative paths resolve against this folder; nothing is read from it.
    const std::string origin = "/nonexistent/ocspkit-fuzz/responder.toml";
    try {
        const auto c = ocspkit::responder::parse_config(text, origin);
        OCSPKIT_FUZZ_CHECK(!c.database.spec.empty());
        OCSPKIT_FUZZ_CHECK(!c.database.is_file || c.database.file().is_absolute());
        OCSPKIT_FUZZ_CHECK(!c.issuers.empty());
        OCSPKIT_FUZZ_CHECK(c.server.io_threads >= 1 && c.server.signing_threads >= 1);
        for (const auto& issuer : c.issuers) {
            OCSPKIT_FUZZ_CHECK(issuer.ca_file.is_absolute());
            // A key is a file or a token key with a module and a PIN file, never both or neither.
            const auto& s = issuer.signing;
            if (s.token_key) {
                OCSPKIT_FUZZ_CHECK(s.key_file.empty() && !s.token.module.empty() && s.pin_file.is_absolute());
                // pin-source/pin-value never reach the engine (';' only separates attributes).
                const std::string_view uri = s.token_key->engine_uri;
                OCSPKIT_FUZZ_CHECK(uri.find(";pin-") == std::string_view::npos && !uri.starts_with("pkcs11:pin-"));
            } else {
                OCSPKIT_FUZZ_CHECK(s.key_file.is_absolute() && s.pin_file.empty());
            }
        }
    } catch (const ocspkit::config_error& e) {
        // The message names the file first.
        OCSPKIT_FUZZ_CHECK(std::string_view(e.what()).starts_with(origin));
    }
    return 0;
}
