#include "responder/logger.hpp"

namespace ocspkit::responder {

std::shared_ptr<spdlog::logger> logger() {
    auto l = spdlog::get("responder");
    return l ? l : spdlog::default_logger();
}

}  // namespace ocspkit::responder
