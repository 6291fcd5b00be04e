// Boost.JSON compiled into this library (header-only mode): the control socket's replies and the
// clients' parsing are its only users.
#include <boost/json/src.hpp>
