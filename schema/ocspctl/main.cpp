// ocspctl: manage the certificate index that ocsp-responder answers from. See `ocspctl --help`.
#include <chrono>
#include <iostream>
#include <string_view>

#include "keys/pkcs11_helper.hpp"
#include "schema/ocspctl/commands.hpp"

int main(int argc, char** argv) {
    // `ocspctl crl --key pkcs11:...` signs through helper processes: this program, started again so.
    if (argc == 2 && std::string_view(argv[1]) == ocspkit::keys::pkcs11_helper_flag)
        return ocspkit::keys::run_pkcs11_helper(ocspkit::keys::pkcs11_helper_fd);
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    return ocspkit::ocspctl::run(argc, argv, std::cout, std::cerr, now);
}
