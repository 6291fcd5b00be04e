#pragma once
// The PKCS#11 helper process: a program that uses token keys (ocsp-responder) runs itself again with
// `--pkcs11-helper` (token_key.cpp does, through /proc/self/exe) and its main() hands over to this at
// once, before reading any configuration. The helper holds one token key through the engine
// (pkcs11_engine.hpp) and answers load and sign frames (helper_protocol.hpp) on `fd` until the program
// closes it or dies. Returns the process exit status.
namespace ocspkit::keys {

inline constexpr const char* pkcs11_helper_flag = "--pkcs11-helper";
// The descriptor the helper's end of the socket pair gets in the helper process.
inline constexpr int pkcs11_helper_fd = 3;

int run_pkcs11_helper(int fd);

}  // namespace ocspkit::keys
