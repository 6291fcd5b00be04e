#include "crl/crl_issue.hpp"

#include <fmt/format.h>

#include "common/cert_id.hpp"
#include "common/pem.hpp"

namespace ocspkit::crl {

result<issued_crl> issue_crl(schema::index_store& index, std::int64_t issuer_id, const crl_signer& signer,
                             const crl_policy& policy, sys_seconds now) {
    if (auto ok = check_policy(policy); !ok) return std::move(ok).failure();
    const auto issuer = index.find_issuer(issuer_id);
    if (!issuer) return error{errc::not_found, fmt::format("issuer ID {} is not registered", issuer_id)};
    const auto& registered = issuer->hashes[hash_alg::sha256];
    if (registered.name_hash != issuer_name_hash(signer.ca(), hash_alg::sha256) ||
        registered.key_hash != issuer_key_hash(signer.ca(), hash_alg::sha256))
        return error{errc::conflict, fmt::format("the CRL signer's CA ({}) is not issuer ID {} ({})",
                                                 subject_rfc2253(signer.ca()), issuer_id, issuer->subject)};
    if (!issuer->enabled)
        return error{errc::unauthorized, fmt::format("issuer ID {} ({}) is disabled in the index; no CRL is issued "
                                                     "for it (`ocspctl issuer enable` first)",
                                                     issuer_id, issuer->subject)};
    auto snapshot = index.take_crl_snapshot(issuer_id, now);
    if (!snapshot.issuer_enabled)  // disabled between the two reads
        return error{errc::unauthorized, fmt::format("issuer ID {} ({}) is disabled in the index", issuer_id,
                                                     issuer->subject)};
    auto built = build_crl(signer, policy, snapshot.crl_number, now, snapshot.revoked);
    if (!built) return std::move(built).failure();
    return issued_crl{std::move(built).value(), snapshot.change_seq};
}

}  // namespace ocspkit::crl
