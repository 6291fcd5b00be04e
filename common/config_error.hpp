#pragma once
// The one exception type of configuration loading (start-up only): its message is the whole line to
// print, "FILE:LINE: key 'KEY': reason".
#include <stdexcept>

namespace ocspkit {

class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace ocspkit
