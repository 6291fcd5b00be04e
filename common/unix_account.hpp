#pragma once
// Names of unix users and groups, for messages that tell an operator who owns a file and who is
// trying to use it (keys, the index, export folders).
#include <string>

namespace ocspkit {

// The user or group name of an id, or the number when it has no name.
std::string user_name(unsigned uid);
std::string group_name(unsigned gid);

}  // namespace ocspkit
