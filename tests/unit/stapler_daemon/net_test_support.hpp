#pragma once
// Runs one awaitable to completion on a test's io_context. The daemon's result types are not default-
// constructible (asio::co_spawn with a value handler would need that), so the value is moved into an
// optional by a small wrapper coroutine; nullopt means it did not finish within `limit` or threw.
#include <chrono>
#include <exception>
#include <optional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace ocspkit::stapler::daemon::test_net {

template <class T>
boost::asio::awaitable<void> store_into(boost::asio::awaitable<T> op, std::optional<T>* out) {
    out->emplace(co_await std::move(op));
}

template <class T>
std::optional<T> run_to_end(boost::asio::io_context& ioc, boost::asio::awaitable<T> op,
                            std::chrono::seconds limit = std::chrono::seconds{20}) {
    std::optional<T> out;
    bool finished = false;
    auto wrapper = store_into(std::move(op), &out);
    boost::asio::co_spawn(ioc, std::move(wrapper), [&](std::exception_ptr e) {
        finished = true;
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                ADD_FAILURE() << "the operation threw: " << ex.what();
            }
        }
        ioc.stop();
    });
    ioc.restart();
    ioc.run_for(limit);
    EXPECT_TRUE(finished) << "the operation did not finish within " << limit.count() << " s";
    return out;
}

}  // namespace ocspkit::stapler::daemon::test_net
