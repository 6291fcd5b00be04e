#pragma once
// The outcome of one fetch, as `ocsp-stapler refresh` reports it (for a certificate, or a proxy entry).
#include <string>

namespace ocspkit::stapler::daemon {

struct fetch_report {
    std::string name;
    bool ok = false;
    std::string status;  // ok: good | revoked | unknown (of the published response)
    std::string reason;  // failed: connect_failed, timeout, ..., a reject_reason, stale, contradiction, shm_full, ...
    std::string detail;
    // A valid response the publishing rules refused (reason stale or contradiction): the published one
    // stays. `refresh` prints "<name>: <reason>: not published (<detail>)".
    bool not_published = false;
};

}  // namespace ocspkit::stapler::daemon
