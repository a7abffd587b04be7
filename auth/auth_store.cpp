#include "auth/auth_store.hpp"

namespace tandem::auth_store {

namespace {

const std::string family_prefix = "rf:";

// KEYS: family. ARGV: user, email, ttl.
const char* const issue_script = R"lua(
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'email', ARGV[2], 'gen', 0)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
)lua";

// KEYS: family. ARGV: presented generation, ttl. A generation ahead of the family's
// cannot be genuine (the MAC was checked): it is unknown, like a deleted family.
const char* const rotate_script = R"lua(
local f = redis.call('HMGET', KEYS[1], 'user', 'email', 'gen')
if not f[1] then return {'unknown'} end
local presented, current = tonumber(ARGV[1]), tonumber(f[3])
if presented < current then
  redis.call('DEL', KEYS[1])
  return {'replayed', f[1], f[2], f[3]}
end
if presented > current then return {'unknown'} end
local gen = redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {'rotated', f[1], f[2], tostring(gen)}
)lua";

// KEYS: family.
const char* const revoke_script = R"lua(
local user = redis.call('HGET', KEYS[1], 'user')
if not user then return false end
redis.call('DEL', KEYS[1])
return user
)lua";

// KEYS: n counters. ARGV: the maximum of each counter, then the window.
const char* const attempt_script = R"lua(
local window = ARGV[#KEYS + 1]
local wait = 0
for i = 1, #KEYS do
  local n = tonumber(redis.call('GET', KEYS[i]) or '0')
  if n >= tonumber(ARGV[i]) then
    local ttl = redis.call('TTL', KEYS[i])
    if ttl < 0 then
      redis.call('EXPIRE', KEYS[i], window)
      ttl = tonumber(window)
    end
    wait = math.max(wait, ttl, 1)
  end
end
if wait > 0 then return wait end
for i = 1, #KEYS do
  redis.call('INCR', KEYS[i])
  if redis.call('TTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], window) end
end
return 0
)lua";

// KEYS: email counter, address counter.
const char* const succeeded_script = R"lua(
for i = 1, 2 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 1
)lua";

} // namespace

std::string family_key(const std::string& family) {
  return family_prefix + family;
}

std::vector<std::string> issue_command(const std::string& family, const identity& who,
                                       int64_t ttl_s) {
  return {"EVAL", issue_script, "1", family_key(family), who.user_id, who.email,
          std::to_string(ttl_s)};
}

std::vector<std::string> rotate_command(const token_service::refresh_claim& presented,
                                        int64_t ttl_s) {
  return {"EVAL", rotate_script, "1", family_key(presented.family),
          std::to_string(presented.generation), std::to_string(ttl_s)};
}

caf::expected<rotation> parse_rotation(const redis_reply& reply) {
  const auto& items = reply.items;
  if (reply.kind != redis_reply::array || items.empty())
    return caf::make_error(errc::redis_error, "unexpected reply to the rotation script");
  rotation out;
  if (items[0] == "unknown")
    return out;
  if ((items[0] != "rotated" && items[0] != "replayed") || items.size() != 4)
    return caf::make_error(errc::redis_error, "unexpected reply to the rotation script");
  out.outcome = items[0] == "rotated" ? rotation::rotated : rotation::replayed;
  out.who = identity{items[1], items[2]};
  try {
    out.generation = std::stoll(items[3]);
  } catch (const std::exception&) {
    return caf::make_error(errc::redis_error, "unexpected reply to the rotation script");
  }
  return out;
}

std::vector<std::string> revoke_command(const std::string& family) {
  return {"EVAL", revoke_script, "1", family_key(family)};
}

std::optional<std::string> parse_revocation(const redis_reply& reply) {
  if (reply.kind != redis_reply::string)
    return std::nullopt;
  return reply.str;
}

std::string email_counter_key(const std::string& canonical_email) {
  return "login:fail:email:" + sha256_hex(canonical_email);
}

std::string address_counter_key(const std::string& address) {
  return "login:fail:addr:" + address;
}

std::vector<std::string> login_attempt_command(const std::string& email_key,
                                               const std::string& address_key,
                                               int max_per_email, int max_per_address,
                                               int window_s) {
  return {"EVAL",
          attempt_script,
          "2",
          email_key,
          address_key,
          std::to_string(max_per_email),
          std::to_string(max_per_address),
          std::to_string(window_s)};
}

std::string registration_counter_key(const std::string& address) {
  return "register:addr:" + address;
}

std::string invitation_counter_key(const std::string& user_id) {
  return "invite:user:" + user_id;
}

std::vector<std::string> counted_attempt_command(const std::string& key, int max, int window_s) {
  return {"EVAL", attempt_script, "1", key, std::to_string(max), std::to_string(window_s)};
}

caf::error attempt_refusal(const redis_reply& reply, const std::string& detail) {
  if (reply.kind != redis_reply::integer)
    return caf::make_error(errc::redis_error, "unexpected reply to the attempt script");
  if (reply.integer_value > 0)
    return caf::make_error(errc::rate_limited, detail, reply.integer_value);
  return caf::none;
}

std::vector<std::string> family_user_command(const std::string& family) {
  return {"HGET", family_key(family), "user"};
}

std::vector<std::string> login_succeeded_command(const std::string& email_key,
                                                 const std::string& address_key) {
  return {"EVAL", succeeded_script, "2", email_key, address_key};
}

} // namespace tandem::auth_store
