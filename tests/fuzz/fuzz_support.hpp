#pragma once
// Shared by the fuzz targets: invariant checks that abort (so libFuzzer and the replay test both see a
// failure), a reader that turns the fuzz input into choices, and a run of answer() on whatever a decoder
// produced.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "protocol/ocsp_request.hpp"

// Not assert(): it must hold in release builds too, where the replay test runs.
#define OCSPKIT_FUZZ_CHECK(cond)                                                                 \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            std::abort();                                                                        \
        }                                                                                        \
    } while (false)

namespace ocspkit::fuzz {

// Takes choices from the front of the fuzz input (the rest stays for the payload). Past the end every
// choice is 0, so any input is a valid sequence of choices and a short input means "defaults".
// (libFuzzer's FuzzedDataProvider does this too, but it ships with clang only and the replay tests build
// with any compiler.)
class fuzz_input {
public:
    fuzz_input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    std::uint8_t byte() noexcept { return pos_ < size_ ? data_[pos_++] : 0; }
    bool boolean() noexcept { return (byte() & 1) != 0; }
    // Big-endian, `octets` at most 8.
    std::uint64_t integer(std::size_t octets) noexcept {
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < octets; ++i) v = (v << 8) | byte();
        return v;
    }
    // A value in [lo, hi] (hi >= lo), from as few octets as the range needs.
    std::uint64_t in_range(std::uint64_t lo, std::uint64_t hi) noexcept {
        const std::uint64_t span = hi - lo;
        std::size_t octets = 0;
        for (std::uint64_t s = span; s != 0; s >>= 8) ++octets;
        const std::uint64_t v = integer(octets);
        return span == UINT64_MAX ? v : lo + v % (span + 1);
    }
    // Up to `n` octets (fewer at the end of the input).
    std::span<const std::uint8_t> take(std::size_t n) noexcept {
        const std::size_t k = std::min(n, size_ - pos_);
        const std::span<const std::uint8_t> out(data_ + pos_, k);
        pos_ += k;
        return out;
    }
    std::span<const std::uint8_t> rest() noexcept { return take(size_ - pos_); }
    std::size_t remaining() const noexcept { return size_ - pos_; }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

// Checks what decode_request promises, then answers the request with an issuer that serves the first
// CertID's hashes (so that hostile CertIDs reach the response writer) and checks that the result is a
// DER OCSPResponse whose status matches the metadata and, when successful, whose signature verifies
// and which holds one SingleResponse per CertID.
void check_decoded_and_answer(const protocol::decode_result& decoded, const protocol::request_limits& limits);

}  // namespace ocspkit::fuzz
