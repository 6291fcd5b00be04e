#pragma once
// The responder's CRLs (issuers with crl_key): each issued from the index (crl/crl_issue.hpp) on this
// publisher's own thread, never on a network thread, and served from memory. A CRL is re-issued when
// half its validity has passed, and at once when the change watcher reports a change to one of its
// issuer's certificates, so the CRL follows the index within a change poll, as the OCSP answers do.
//
// Issuing takes the issuer's next CRL number in the index, so this thread holds a writing connection
// (SQLite: the responder's user writes index.db; PostgreSQL: INSERT/UPDATE on crl_numbers, on the
// primary). A failure (the database locked, unreachable, a standby) leaves the current CRL served until
// its nextUpdate and is retried with backoff; a CRL past its nextUpdate is never served.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "crl/crl_builder.hpp"
#include "crl/crl_signer.hpp"
#include "responder/served_crl.hpp"
#include "schema/index_store.hpp"

namespace ocspkit::responder {

struct crl_issuer {
    std::string name;  // the URL segment: /crl/<name>.crl
    std::int64_t issuer_id = 0;
    std::shared_ptr<const crl::crl_signer> signer;
};

class crl_publisher {
public:
    // Issues every CRL once before returning (a failure is logged and retried by the thread), then starts
    // the thread. `database` is what schema::open_index_store() takes.
    crl_publisher(std::string database, std::vector<crl_issuer> issuers, crl::crl_policy policy,
                  const clock_source& clock);
    ~crl_publisher();
    crl_publisher(const crl_publisher&) = delete;
    crl_publisher& operator=(const crl_publisher&) = delete;

    struct lookup {
        enum class kind { unknown, unavailable, ok } what = kind::unknown;
        std::shared_ptr<const served_crl> crl;  // ok
        std::string why;                        // unavailable: for the 503's text
    };
    // Network thread: no lock, no allocation on success. unknown: no such name, or the issuer is
    // disabled in the index (as OCSP answers unauthorized); unavailable: not issued yet, or past its
    // nextUpdate.
    lookup find(std::string_view name, sys_seconds now) const;

    // The change watcher: certificates of this issuer changed (issue its CRL now), or possibly of every
    // issuer (a bulk change, an issuer enabled or disabled, a replaced database).
    void changed(std::int64_t issuer_id);
    void changed_all();

    struct report {
        std::string name;
        std::int64_t number = 0;       // 0 before the first CRL
        sys_seconds next_update{};
        std::uint64_t issued = 0;
        std::uint64_t failures = 0;
        bool serving = false;          // a CRL within its validity is served
        std::string problem;           // the last failure, "" after a success
    };
    std::vector<report> reports(sys_seconds now) const;

    void stop();

private:
    struct slot;
    void run(std::stop_token stop);
    void issue(slot& s, sys_seconds now);

    std::string database_;
    crl::crl_policy policy_;
    const clock_source& clock_;
    std::vector<std::unique_ptr<slot>> slots_;
    mutable std::mutex mutex_;  // slots' scheduling and report fields; never taken by find()
    std::condition_variable_any wake_;
    std::unique_ptr<schema::index_store> index_;  // the writing connection (the constructor, then the thread)
    std::jthread thread_;
};

}  // namespace ocspkit::responder
