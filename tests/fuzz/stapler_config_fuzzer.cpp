// libFuzzer target: ocsp-stapler's configuration loader (stapler/daemon/config.hpp parse_config, the
// TOML stage; build_inventory, which reads certificate files, is not reached) on arbitrary TOML text.
// Every error must be the documented config_error naming the file first, never a crash or another
// exception; what loads respects the ranges the loader promises.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "stapler/daemon/config.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    // Relative paths resolve against this folder; nothing is read from it.
    const std::string origin = "/nonexistent/ocspkit-fuzz/stapler.toml";
    try {
        const auto c = ocspkit::stapler::daemon::parse_config(text, origin);
        OCSPKIT_FUZZ_CHECK(c.state_dir.is_absolute() && c.shm_path.is_absolute());
        OCSPKIT_FUZZ_CHECK(c.shm_slot_size % 64 == 0 && c.shm_slot_size > ocspkit::stapler::shm_slot_header_size);
        OCSPKIT_FUZZ_CHECK(c.retry_initial <= c.retry_max);
        OCSPKIT_FUZZ_CHECK(std::is_sorted(c.expiry_alert.rbegin(), c.expiry_alert.rend()));
    } catch (const ocspkit::config_error& e) {
        OCSPKIT_FUZZ_CHECK(std::string_view(e.what()).starts_with(origin));
    }
    return 0;
}
