#pragma once
// --json output of ocspctl (docs/ocspctl.md "JSON output"): one JSON object per run on stdout, snake_case
// keys, times as ISO 8601 UTC strings or null, serials as uppercase hex, statuses good|revoked|hold,
// reasons in RFC 5280 ASN.1 spelling.
#include <ostream>
#include <vector>

#include <boost/json/object.hpp>

#include "schema/cert_index.hpp"

namespace ocspkit::ocspctl {

boost::json::object certificate_json(const schema::index_store& index, const schema::cert_record& rec);
boost::json::object audit_json(const schema::audit_record& rec);

// {"certificates": [...]}: streamed row by row, so that a list of millions needs no memory for it.
void write_certificates_json(std::ostream& out, const schema::index_store& index,
                             const std::function<void(const std::function<void(const schema::cert_record&)>&)>& rows);
// {"issuers": [...]}
void write_issuers_json(std::ostream& out, const schema::index_store& index);

}  // namespace ocspkit::ocspctl
