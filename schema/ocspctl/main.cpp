// ocspctl: manage the certificate index that ocsp-responder answers from. See `ocspctl --help`.
#include <chrono>
#include <iostream>

#include "schema/ocspctl/commands.hpp"

int main(int argc, char** argv) {
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    return ocspkit::ocspctl::run(argc, argv, std::cout, std::cerr, now);
}
