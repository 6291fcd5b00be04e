#pragma once
// `ocspctl import-crl`: a CA's CRL read (crl_reader.hpp), checked against the registered issuer, planned
// (crl_import_plan.hpp, the rules) and written in one write transaction with the CRL's number, on
// either backend. A refused CRL changes nothing.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "crl/crl_import_plan.hpp"
#include "crl/crl_reader.hpp"
#include "schema/index_store.hpp"

namespace ocspkit::crl {

struct crl_import_report {
    serial_number number = *serial_number::from_hex("00");
    std::optional<serial_number> delta_base;
    sys_seconds this_update{};
    std::optional<sys_seconds> next_update;
    std::size_t entries = 0;
    bool already_imported = false;
    crl_import_counts counts;
    std::vector<std::string> warnings;
    std::int64_t change_seq = 0;  // the transaction's change number (0 when nothing was written)
};

// parse_crl()'s and check_crl_signed_by()'s refusals, plan_crl_import()'s, errc::unauthorized for a
// disabled issuer, and errc::conflict or errc::database from a merge the index refused (nothing is then
// written). Database failures throw as index_store does.
result<crl_import_report> import_crl(schema::index_store& index, const schema::issuer_record& issuer,
                                     std::span<const std::uint8_t> input, sys_seconds now);

}  // namespace ocspkit::crl
