#pragma once
// Prometheus text exposition format helpers shared by the responder's and the stapler's /metrics.
#include <string>
#include <string_view>

namespace ocspkit {

// A label value as the text format writes it: backslash, double quote and newline escaped.
inline std::string prometheus_label_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

}  // namespace ocspkit
