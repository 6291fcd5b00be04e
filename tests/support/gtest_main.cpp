// The test main for every ocspkit test binary (house rule 13): when a test fails, whatever OpenSSL left
// in its error queue is printed with it, because "X509_sign failed" alone rarely says why.
#include <cstdio>

#include <gtest/gtest.h>
#include <openssl/err.h>

#include "common/openssl_error.hpp"

namespace {

class openssl_queue_printer : public testing::EmptyTestEventListener {
    // A queue left over by an earlier test would be blamed on this one.
    void OnTestStart(const testing::TestInfo&) override { ERR_clear_error(); }

    void OnTestEnd(const testing::TestInfo& info) override {
        // The queue is per thread; this sees the test body's thread, which is where the checks run.
        const std::string queue = ocspkit::drain_openssl_errors();
        if (info.result() != nullptr && info.result()->Failed() && !queue.empty()) {
            std::fprintf(stderr, "[  OPENSSL ] %s.%s left this error queue: %s\n", info.test_suite_name(),
                         info.name(), queue.c_str());
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    // GoogleTest owns and deletes listeners appended to its list.
    testing::UnitTest::GetInstance()->listeners().Append(new openssl_queue_printer);
    return RUN_ALL_TESTS();
}
