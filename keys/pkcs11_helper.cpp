#include "keys/pkcs11_helper.hpp"

#include <cstdio>
#include <memory>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "keys/helper_protocol.hpp"
#include "keys/pkcs11_engine.hpp"

namespace ocspkit::keys {
namespace {

// libp11 says which of token, object or login failed only on stderr ("No matching initialized token
// was found", "Login failed"); its error queue says "object not found" for both of the first two. The
// helper's stderr is a memory file, and what accumulated there is added to the failure sent back.
class stderr_capture {
public:
    stderr_capture() {
        fd_ = ::memfd_create("pkcs11-helper-stderr", MFD_CLOEXEC);
        if (fd_ >= 0) ::dup2(fd_, STDERR_FILENO);
    }
    // What was written since the last call, lines joined with "; ".
    std::string take() {
        std::fflush(stderr);
        if (fd_ < 0) return {};
        std::string text;
        char buf[4096];
        ::lseek(fd_, 0, SEEK_SET);
        for (ssize_t n; (n = ::read(fd_, buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
        if (::ftruncate(fd_, 0) != 0) return {};
        ::lseek(fd_, 0, SEEK_SET);
        std::string out;
        std::size_t start = 0;
        while (start < text.size()) {
            auto end = text.find('\n', start);
            if (end == std::string::npos) end = text.size();
            if (end > start) out += (out.empty() ? "" : "; ") + text.substr(start, end - start);
            start = end + 1;
        }
        return out;
    }

private:
    int fd_ = -1;
};

frame failed(const error& e, stderr_capture& capture) {
    std::string text = e.text();
    if (auto printed = capture.take(); !printed.empty()) text += " [libp11: " + printed + "]";
    return {frame_kind::failed, {text}};
}

}  // namespace

int run_pkcs11_helper(int fd) {
    // Keep none of the program's other descriptors (listening sockets, the index) open in here. When
    // the program ends, its end of the socket closes and the read below returns: no PR_SET_PDEATHSIG,
    // which fires when the spawning *thread* ends (a SIGHUP reload's thread, for one).
    ::close_range(static_cast<unsigned>(fd) + 1, ~0U, 0);
    stderr_capture capture;

    std::unique_ptr<engine_key> key;
    while (true) {
        auto request = read_frame(fd, std::nullopt);
        if (!request) return 0;  // the program closed its end: done
        frame reply;
        if (request->kind == frame_kind::load && request->fields.size() == 3 && !key) {
            auto loaded = engine_key::load(request->fields[0], request->fields[1], request->fields[2]);
            OPENSSL_cleanse(request->fields[2].data(), request->fields[2].size());
            if (loaded) {
                auto der = (*loaded)->public_key_der();
                if (der) {
                    key = std::move(*loaded);
                    reply = frame{frame_kind::ok, {std::move(*der)}};
                } else {
                    reply = failed(der.failure(), capture);
                }
            } else {
                reply = failed(loaded.failure(), capture);
            }
        } else if (request->kind == frame_kind::sign && request->fields.size() == 3 && key) {
            auto sig = key->sign_digest(request->fields[0], request->fields[1], request->fields[2]);
            reply = sig ? frame{frame_kind::ok, {std::move(*sig)}} : failed(sig.failure(), capture);
        } else {
            return 2;  // not what the program sends: a bug, and nothing to answer
        }
        if (!write_frame(fd, reply, std::nullopt)) return 0;
    }
}

}  // namespace ocspkit::keys
