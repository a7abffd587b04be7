#include "actors/auth_store.hpp"

#include "actors/tokens.hpp"

namespace tandem::auth_store {

namespace {

const std::string token_prefix = "rt:";
const std::string family_prefix = "rtf:";

// KEYS: token, family set. ARGV: family, user, email, ttl, token hash.
const char* const issue_script = R"lua(
redis.call('HSET', KEYS[1], 'family', ARGV[1], 'user', ARGV[2], 'email', ARGV[3],
           'state', 'active')
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
)lua";

// KEYS: old token, new token. ARGV: ttl, new token hash, token prefix, family prefix.
const char* const rotate_script = R"lua(
local t = redis.call('HMGET', KEYS[1], 'family', 'user', 'email', 'state')
if not t[1] then return {'unknown'} end
local family = ARGV[4] .. t[1]
if t[4] ~= 'active' then
  for _, h in ipairs(redis.call('SMEMBERS', family)) do redis.call('DEL', ARGV[3] .. h) end
  redis.call('DEL', family, KEYS[1])
  return {'replayed', t[2], t[3]}
end
redis.call('HSET', KEYS[1], 'state', 'rotated')
redis.call('HSET', KEYS[2], 'family', t[1], 'user', t[2], 'email', t[3], 'state', 'active')
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('SADD', family, ARGV[2])
redis.call('EXPIRE', family, ARGV[1])
return {'rotated', t[2], t[3]}
)lua";

// KEYS: token. ARGV: token prefix, family prefix.
const char* const revoke_script = R"lua(
local family = redis.call('HGET', KEYS[1], 'family')
if not family then return 0 end
local set = ARGV[2] .. family
for _, h in ipairs(redis.call('SMEMBERS', set)) do redis.call('DEL', ARGV[1] .. h) end
redis.call('DEL', set, KEYS[1])
return 1
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

std::string token_key(const std::string& refresh_token) {
  return token_prefix + sha256_hex(refresh_token);
}

std::string family_key(const std::string& family) {
  return family_prefix + family;
}

std::vector<std::string> issue_command(const std::string& refresh_token,
                                       const std::string& family, const identity& who,
                                       int64_t ttl_s) {
  return {"EVAL",         issue_script,     "2",       token_key(refresh_token),
          family_key(family), family,       who.user_id, who.email,
          std::to_string(ttl_s), sha256_hex(refresh_token)};
}

std::vector<std::string> rotate_command(const std::string& old_token,
                                        const std::string& new_token, int64_t ttl_s) {
  return {"EVAL",
          rotate_script,
          "2",
          token_key(old_token),
          token_key(new_token),
          std::to_string(ttl_s),
          sha256_hex(new_token),
          token_prefix,
          family_prefix};
}

caf::expected<rotation> parse_rotation(const redis_reply& reply) {
  const auto& items = reply.items;
  if (reply.kind != redis_reply::array || items.empty())
    return caf::make_error(errc::redis_error, "unexpected reply to the rotation script");
  rotation out;
  if (items[0] == "unknown")
    return out;
  if ((items[0] != "rotated" && items[0] != "replayed") || items.size() != 3)
    return caf::make_error(errc::redis_error, "unexpected reply to the rotation script");
  out.outcome = items[0] == "rotated" ? rotation::rotated : rotation::replayed;
  out.who = identity{items[1], items[2]};
  return out;
}

std::vector<std::string> revoke_command(const std::string& refresh_token) {
  return {"EVAL", revoke_script, "1", token_key(refresh_token), token_prefix, family_prefix};
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

std::vector<std::string> token_user_command(const std::string& refresh_token) {
  return {"HGET", token_key(refresh_token), "user"};
}

std::vector<std::string> login_succeeded_command(const std::string& email_key,
                                                 const std::string& address_key) {
  return {"EVAL", succeeded_script, "2", email_key, address_key};
}

} // namespace tandem::auth_store
