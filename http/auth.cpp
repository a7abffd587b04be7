#include "http/auth.hpp"

#include "common/text.hpp"
#include "config/log.hpp"
#include "wire/fields.hpp"
#include "http/actor_bridge.hpp"
#include "http/error_mapping.hpp"

#include <array>
#include <cctype>
#include <optional>

namespace tandem::http {

namespace {

/// The token of an Authorization header: `Bearer <t>` (scheme case-insensitive, as
/// RFC 7235 says) or the raw `<t>` that PageNow's chat and presence clients send.
std::string token_of(const std::string& header) {
  auto trim = [](std::string_view s) { return std::string{text::trim(s, text::http_space)}; };
  auto value = trim(header);
  constexpr std::size_t scheme_len = 6; // "Bearer"
  if (value.size() >= scheme_len) {
    bool bearer = true;
    for (std::size_t i = 0; i < scheme_len && bearer; ++i)
      bearer = std::tolower(static_cast<unsigned char>(value[i])) == "bearer"[i];
    if (bearer && (value.size() == scheme_len || value[scheme_len] == ' '
                   || value[scheme_len] == '\t'))
      return trim(value.substr(scheme_len));
  }
  return value;
}

/// Auth bodies are a few short strings; a small limit keeps password hashing cheap.
constexpr std::size_t auth_body_limit = 16 * 1024;

/// The string members `names` of the JSON body, or nullopt after answering 400.
template <std::size_t N>
std::optional<std::array<std::string, N>> string_fields(const request& req,
                                                        const std::array<const char*, N>& names,
                                                        const responder& respond) {
  return decoded_body(
    req,
    [&names](const json& body, std::string& detail) -> std::optional<std::array<std::string, N>> {
      std::array<std::string, N> values;
      for (std::size_t i = 0; i < N; ++i) {
        const auto* value = wire::required_text(body, names[i], {}, detail);
        if (value == nullptr)
          return std::nullopt;
        values[i] = *value;
      }
      return values;
    },
    respond);
}

json pair_json(const token_pair& p) {
  return {{"user_id", p.user_id},           {"access_token", p.access_token},
          {"refresh_token", p.refresh_token}, {"token_type", "Bearer"},
          {"expires_in", p.expires_in}};
}

/// Answers a token pair with `status`, or maps the error.
template <class... Ts>
void ask_for_pair(const services& svc, responder respond, unsigned status, const char* operation,
                  Ts... xs) {
  ask_actor<token_pair>(
    svc, std::move(respond),
    [status](token_pair& p) { return json_response(status, pair_json(p)); },
    [operation](const caf::error& err) { return error_to_response(err, operation); },
    svc.accounts, std::move(xs)...);
}

} // namespace

token_check authenticate(const token_service& tokens, const std::string& authorization) {
  return tokens.verify(token_of(authorization));
}

namespace {

/// The principal of `check` when it is known without I/O; nullopt when its external
/// identity must be mapped by the database (`principal_later`).
std::optional<principal> principal_now(token_check& check, external_identity_map& identities) {
  if (check.who)
    return principal{std::move(check.who), {}, std::move(check.session), check.expires_at};
  if (!check.external)
    return principal{std::nullopt, unauthorized_response(check.failure), {}, 0};
  if (auto who = identities.cached(*check.external))
    return principal{std::move(who), {}, {}, check.expires_at};
  return std::nullopt;
}

/// Maps the external token of `check` (`principal_now` could not).
void principal_later(external_identity_map& identities, const token_check& check,
                     std::function<void(principal)> done) {
  identities.resolve(*check.external, [done = std::move(done), expires_at = check.expires_at](
                                        caf::expected<identity> mapped) {
    if (mapped)
      done(principal{std::move(*mapped), {}, {}, expires_at});
    else
      done(principal{std::nullopt, error_to_response(mapped.error(), "map_external_identity"), {},
                     0});
  });
}

} // namespace

void resolve_principal(const token_service& tokens, external_identity_map& identities,
                       const std::string& authorization, std::function<void(principal)> done) {
  auto check = authenticate(tokens, authorization);
  if (auto now = principal_now(check, identities))
    done(std::move(*now));
  else
    principal_later(identities, check, std::move(done));
}

guarded_handler protected_route(const services& svc, authed_handler fn) {
  // Verification is CPU only and most external identities are cached, so this runs
  // on the io thread and a refused request never reaches an actor. The server runs the
  // head check on the headers, so a refused client sends no body; mapping an external
  // identity is not needed to refuse, so it waits for the handler.
  auto head_check = [tokens = svc.tokens](request& req) -> std::optional<response> {
    auto checked = authenticate(*tokens, req.header("authorization").value_or(""));
    if (!checked.accepted())
      return unauthorized_response(checked.failure);
    req.token = std::make_shared<const token_check>(std::move(checked));
    return std::nullopt;
  };
  auto handle = [tokens = svc.tokens, identities = svc.identities,
                 fn = std::make_shared<const authed_handler>(std::move(fn))](request& req,
                                                                            responder respond) {
    auto check = req.token ? *req.token
                           : authenticate(*tokens, req.header("authorization").value_or(""));
    if (auto now = principal_now(check, *identities)) {
      if (now->who)
        (*fn)(req, *now->who, std::move(respond));
      else
        respond(std::move(now->refusal));
      return;
    }
    // The handler runs once the database has mapped the identity, on a scheduler
    // thread: the request goes along, and what the handler throws is answered here.
    auto held = std::make_shared<request>(std::move(req));
    principal_later(*identities, check, [held, fn, respond](principal p) {
      if (!p.who)
        return respond(std::move(p.refusal));
      try {
        (*fn)(*held, *p.who, respond);
      } catch (const std::exception& e) {
        log::error("handler threw", {{"request_id", held->request_id}, {"error", e.what()}});
        respond(error_response(500, "Internal Server Error"));
      }
    });
  };
  return {std::move(head_check), std::move(handle), "token"};
}

void add_auth_routes(router& r, const services& svc) {
  r.add(
    "POST", "/auth/register",
    [svc](request& req, responder respond) {
      auto fields = string_fields<2>(req, {"email", "password"}, respond);
      if (fields)
        ask_for_pair(svc, std::move(respond), 201, "register", atom::sign_up_v,
                     std::move((*fields)[0]), std::move((*fields)[1]), req.remote_address);
    },
    auth_body_limit);
  r.add(
    "POST", "/auth/login",
    [svc](request& req, responder respond) {
      auto fields = string_fields<2>(req, {"email", "password"}, respond);
      if (fields)
        ask_for_pair(svc, std::move(respond), 200, "login", atom::login_v,
                     std::move((*fields)[0]), std::move((*fields)[1]), req.remote_address);
    },
    auth_body_limit);
  r.add(
    "POST", "/auth/refresh",
    [svc](request& req, responder respond) {
      auto fields = string_fields<1>(req, {"refresh_token"}, respond);
      if (fields)
        ask_for_pair(svc, std::move(respond), 200, "refresh", atom::refresh_v,
                     std::move((*fields)[0]));
    },
    auth_body_limit);
  r.add(
    "POST", "/auth/logout",
    [svc](request& req, responder respond) {
      auto fields = string_fields<1>(req, {"refresh_token"}, respond);
      if (!fields)
        return;
      ask_actor<bool>(
        svc, std::move(respond),
        [](bool) {
          response res;
          res.status = 204;
          res.content_type.clear();
          return res;
        },
        [](const caf::error& err) { return error_to_response(err, "logout"); }, svc.accounts,
        atom::logout_v, std::move((*fields)[0]));
    },
    auth_body_limit);
}

} // namespace tandem::http
