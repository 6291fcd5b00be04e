#pragma once
// A CRL from the index: the next CRL number and the issuer's revoked and held certificates, taken in one
// write transaction (schema::index_store::take_crl_snapshot), then built and signed (crl_builder.hpp).
// Shared by `ocspctl crl` and the responder's CRL publisher, so both number and fill CRLs the same way on
// either backend.
#include <cstdint>

#include "common/result.hpp"
#include "crl/crl_builder.hpp"
#include "crl/crl_signer.hpp"
#include "schema/index_store.hpp"

namespace ocspkit::crl {

struct issued_crl {
    built_crl crl;
    std::int64_t change_seq = 0;  // the index's change counter the rows were read at (or later)
};

// errc::conflict when `signer` is not the CA registered as `issuer_id` (its CRL would list another CA's
// serials), errc::unauthorized when the issuer is disabled in the index, and build_crl()'s errors. A
// number taken by a CRL that then failed is not reused: CRL numbers may have gaps, never repeats.
// Database failures throw as index_store does.
result<issued_crl> issue_crl(schema::index_store& index, std::int64_t issuer_id, const crl_signer& signer,
                             const crl_policy& policy, sys_seconds now);

}  // namespace ocspkit::crl
