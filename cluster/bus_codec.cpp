#include "cluster/bus_codec.hpp"

#include <caf/detail/dynamic_message_data.hpp>
#include <caf/detail/pretty_type_name.hpp>

#include <utility>

namespace tandem::cluster {

namespace {

/// Bumped when the layout below changes: nodes of different versions refuse each
/// other's envelopes instead of misreading them.
constexpr uint8_t codec_version = 1;

template <class T>
void allow_builtin(caf::actor_system& sys, std::unordered_set<std::string>& out) {
  out.emplace(sys.types().portable_name(caf::type_nr<T>::value, &typeid(T)));
}

template <caf::type_id_t... Is>
void allow_block(std::unordered_set<std::string>& out,
                 std::integer_sequence<caf::type_id_t, Is...>) {
  (out.emplace(caf::type_name_by_id<caf::id_block::tandem::begin + Is>::value), ...);
}

caf::error garbled(std::string what) {
  return caf::make_error(errc::invalid_request, "bus envelope: " + std::move(what));
}

} // namespace

bus_codec::bus_codec(caf::actor_system& sys) : sys_(sys) {
  allow_builtin<caf::atom_value>(sys, allowed_);
  allow_builtin<bool>(sys, allowed_);
  allow_builtin<int8_t>(sys, allowed_);
  allow_builtin<int16_t>(sys, allowed_);
  allow_builtin<int32_t>(sys, allowed_);
  allow_builtin<int64_t>(sys, allowed_);
  allow_builtin<uint8_t>(sys, allowed_);
  allow_builtin<uint16_t>(sys, allowed_);
  allow_builtin<uint32_t>(sys, allowed_);
  allow_builtin<uint64_t>(sys, allowed_);
  allow_builtin<float>(sys, allowed_);
  allow_builtin<double>(sys, allowed_);
  allow_builtin<std::string>(sys, allowed_);
  allow_builtin<std::vector<std::string>>(sys, allowed_);
  allow_builtin<caf::timespan>(sys, allowed_);
  allow_builtin<caf::timestamp>(sys, allowed_);
  using block = caf::id_block::tandem;
  allow_block(allowed_, std::make_integer_sequence<caf::type_id_t, block::end - block::begin>{});
}

caf::error bus_codec::check_payload(const caf::message& payload) const {
  for (size_t i = 0; i < payload.size(); ++i) {
    auto rtti = payload.type(i);
    const auto& name = sys_.types().portable_name(rtti);
    if (!name.empty() && allowed_.count(name) > 0)
      continue;
    auto shown = !name.empty() ? name
                 : rtti.second != nullptr ? caf::detail::pretty_type_name(*rtti.second)
                                          : std::string{"an unregistered type"};
    return caf::make_error(errc::invalid_request,
                           "element " + std::to_string(i) + " (" + shown
                             + ") cannot cross nodes: actor handles, nested messages and "
                               "unregistered types stay in their process");
  }
  return {};
}

caf::expected<std::string> bus_codec::encode(const envelope& x) const {
  if (auto err = check_payload(x.payload))
    return err;
  std::vector<char> buf;
  caf::binary_serializer sink{sys_, buf};
  auto version = codec_version;
  auto kind = static_cast<uint8_t>(x.kind);
  auto sender = x.sender;
  auto addressed = x.addressed_incarnation;
  auto request_id = x.request_id;
  auto endpoint = x.endpoint;
  auto count = static_cast<uint32_t>(x.payload.size());
  auto err = sink(version, kind, sender.id, sender.incarnation, addressed, request_id, endpoint,
                  count);
  for (size_t i = 0; !err && i < x.payload.size(); ++i) {
    auto name = sys_.types().portable_name(x.payload.type(i));
    err = sink(name);
    if (!err)
      err = x.payload.save(i, sink);
  }
  if (err)
    return caf::make_error(errc::internal, "bus envelope not serializable: " + sys_.render(err));
  return std::string{buf.begin(), buf.end()};
}

caf::expected<envelope> bus_codec::decode(const std::string& bytes) const {
  caf::binary_deserializer source{sys_, bytes.data(), bytes.size()};
  uint8_t version = 0;
  uint8_t kind = 0;
  uint32_t count = 0;
  envelope out;
  if (source(version, kind, out.sender.id, out.sender.incarnation, out.addressed_incarnation,
             out.request_id, out.endpoint, count))
    return garbled("truncated header");
  if (version != codec_version)
    return garbled("version " + std::to_string(version) + ", expected "
                   + std::to_string(codec_version));
  if (kind < static_cast<uint8_t>(envelope_kind::one_way)
      || kind > static_cast<uint8_t>(envelope_kind::error_reply))
    return garbled("unknown kind " + std::to_string(kind));
  out.kind = static_cast<envelope_kind>(kind);
  // Every element takes at least one byte: a count beyond the rest is a lie.
  if (count > source.remaining())
    return garbled("element count beyond the bytes left");
  caf::detail::dynamic_message_data::elements elements;
  for (uint32_t i = 0; i < count; ++i) {
    std::string name;
    if (source(name))
      return garbled("truncated element name");
    // Checked before a value is made: a sender cannot make this node build an actor
    // handle (which would look it up in the registry) or a type it does not know.
    if (allowed_.count(name) == 0)
      return garbled("type '" + name.substr(0, 64) + "' cannot cross nodes");
    auto value = sys_.types().make_value(name);
    if (!value)
      return garbled("unknown type '" + name + "'");
    try {
      if (value->load(source))
        return garbled("element " + std::to_string(i) + " (" + name + ") truncated or malformed");
    } catch (const std::exception& e) {
      return garbled("element " + std::to_string(i) + " (" + name + "): " + e.what());
    }
    elements.push_back(std::move(value));
  }
  if (source.remaining() != 0)
    return garbled(std::to_string(source.remaining()) + " bytes after the last element");
  // As message::load builds a message of values known by name only.
  if (!elements.empty())
    out.payload = caf::message{caf::message::data_ptr{
      new caf::detail::dynamic_message_data(std::move(elements)), false}};
  return out;
}

caf::message bus_codec::error_payload(const caf::error& err) {
  const auto& ctx = err.context();
  std::string text;
  if (ctx.match_elements<std::string>())
    text = ctx.get_as<std::string>(0);
  else if (!ctx.empty())
    text = caf::deep_to_string(ctx);
  return caf::make_message(err.category(), err.code(), std::move(text));
}

caf::error bus_codec::error_of(const caf::message& payload) {
  if (!payload.match_elements<caf::atom_value, uint8_t, std::string>())
    return caf::make_error(errc::internal, "malformed error reply from another node");
  const auto& text = payload.get_as<std::string>(2);
  return caf::error{payload.get_as<uint8_t>(1), payload.get_as<caf::atom_value>(0),
                    text.empty() ? caf::message{} : caf::make_message(text)};
}

} // namespace tandem::cluster
