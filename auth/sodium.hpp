// libsodium's one initialisation, for every user of its primitives (tokens, password
// hashes, media URL MACs).
#pragma once

#include <sodium.h>

#include <stdexcept>

namespace tandem {

/// Initialises libsodium once (it then picks the fastest implementations and seeds its
/// random generator); thread-safe. Throws when it cannot.
inline void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready)
    throw std::runtime_error("libsodium failed to initialise");
}

} // namespace tandem
