// The decoder of the bus between nodes (cluster/bus_codec.hpp): whatever another node
// (or anyone who can publish to Redis) puts on this node's channel. Decoding must fail
// cleanly or give an envelope holding only types that may cross nodes, which encodes
// and decodes again to the same payload.
#include "cluster/bus_codec.hpp"
#include "fuzz/fuzz_support.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static tandem::cluster::bus_codec codec{tandem_fuzz::deterministic_system::instance().sys};
  auto decoded = codec.decode(tandem_fuzz::text_of(data, size));
  if (!decoded)
    return 0;
  if (codec.check_payload(decoded->payload))
    std::abort();
  auto again = codec.encode(*decoded);
  if (!again)
    std::abort();
  auto twice = codec.decode(*again);
  if (!twice || caf::deep_to_string(twice->payload) != caf::deep_to_string(decoded->payload))
    std::abort();
  return 0;
}
