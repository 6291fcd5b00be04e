// Boost.JSON compiled once, into ocspkit_common (header-only mode): the stapler's control socket, the
// JSON log format and the admin tools' --json output share it.
#include <boost/json/src.hpp>
