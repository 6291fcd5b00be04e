#pragma once
// Where a configuration key was written, for errors found after parsing (file:line:key).
#include <cstdint>
#include <string>

namespace ocspkit::stapler::daemon {

struct key_location {
    std::string key;  // "certificate[2].issuer"
    std::uint32_t line = 0;
};

}  // namespace ocspkit::stapler::daemon
