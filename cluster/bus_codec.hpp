// What travels between nodes on the bus: an envelope around one caf::message, and the
// codec that turns it into bytes and back (docs/cluster.md, "The bus").
#pragma once

#include "vocabulary/messages.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <unordered_set>

namespace tandem::cluster {

/// What an envelope is.
enum class envelope_kind : uint8_t {
  one_way = 1,      ///< a `send`: nobody waits for an answer
  request = 2,      ///< a `request`: the sender waits for a reply under `request_id`
  reply = 3,        ///< the payload is the reply to `request_id`
  error_reply = 4,  ///< the payload is (category, code, context text) of an error
};

/// One message from one node to another.
struct envelope {
  envelope_kind kind = envelope_kind::one_way;
  node_identity sender;            ///< who sends it (replies go to its channel)
  int64_t addressed_incarnation = 0;  ///< the incarnation of the receiver meant
  uint64_t request_id = 0;         ///< 0 for one-way messages
  std::string endpoint;            ///< the receiving node's endpoint (requests, one-way)
  caf::message payload;
};

/// Encodes and decodes envelopes with CAF's binary serializer. A payload may hold only
/// the tandem type-id block's types and plain values (atoms, numbers, strings, string
/// vectors, time spans and points): never an actor handle, a nested message or an
/// error (error replies carry their parts instead), so that nothing that points into
/// one process crosses to another. Decoding checks every type name before building a
/// value and every length against the bytes left, so garbled input fails cleanly.
class bus_codec {
public:
  explicit bus_codec(caf::actor_system& sys);

  /// `errc::invalid_request` naming the first element that may not cross nodes.
  caf::error check_payload(const caf::message& payload) const;

  /// The bytes of `x`; fails like `check_payload`.
  caf::expected<std::string> encode(const envelope& x) const;

  /// The envelope in `bytes`; `errc::invalid_request` for anything but a whole,
  /// well-formed envelope of this version.
  caf::expected<envelope> decode(const std::string& bytes) const;

  /// An error reply's payload, and the error back from it.
  static caf::message error_payload(const caf::error& err);
  static caf::error error_of(const caf::message& payload);

private:
  caf::actor_system& sys_;
  std::unordered_set<std::string> allowed_;  ///< portable names of what may cross
};

} // namespace tandem::cluster
