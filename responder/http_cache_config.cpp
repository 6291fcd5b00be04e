#include "responder/http_cache_config.hpp"

namespace ocspkit::responder {

http_cache_config parse_http_cache(const toml_reader& r, const toml::table& t) {
    constexpr std::string_view p = "http_cache";
    r.reject_unknown(t, p, {"s_maxage"});
    http_cache_config c;
    using namespace std::chrono_literals;
    // 0 is allowed: shared caches then only revalidate (must-revalidate), clients still get max-age.
    if (auto v = r.duration(t, p, "s_maxage", 0s, std::chrono::hours{24 * 366}))
        c.s_maxage = std::chrono::duration_cast<std::chrono::seconds>(*v);
    return c;
}

}  // namespace ocspkit::responder
