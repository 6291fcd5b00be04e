#pragma once
// The responder's logger: the one main() registers as "responder" (console or JSON, per [log]), or
// spdlog's default where none is registered (unit tests).
#include <memory>

#include <spdlog/spdlog.h>

namespace ocspkit::responder {

std::shared_ptr<spdlog::logger> logger();

}  // namespace ocspkit::responder
