// Profile images (U12-U15) over the built-in media store, the signed media URLs the
// clients PUT to and GET from, and invitations (POST /email) into the outbox.
#include "http/media_routes.hpp"

#include "auth/auth_store.hpp"
#include "common/text.hpp"
#include "wire/fields.hpp"
#include "http/actor_bridge.hpp"
#include "http/auth.hpp"
#include "http/error_mapping.hpp"
#include "http/media_urls.hpp"
#include "http/routes.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

namespace tandem::http {

namespace {

using persistence::image_format;
using clock = media_url_signer::clock;

/// The file name of every profile image; the extension follows.
constexpr std::string_view image_file_stem = "profile_image.";

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (;;) {
    auto comma = text.find(',', pos);
    out.push_back(text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    if (comma == std::string::npos)
      return out;
    pos = comma + 1;
  }
}

response bad_ext_response(const char* param) {
  return error_response(400, std::string{param} + " must be png, jpeg or jpg");
}

response media_unavailable_response() {
  return error_response(503, "Media URLs are not available yet; try again later");
}

/// Answers an actor error through the shared mapping, naming the operation in logs.
auto map_error(const char* operation) {
  return [operation](const caf::error& err) { return error_to_response(err, operation); };
}

/// The media key of a /media/{owner}/{file} request, if the path is one the store
/// could have signed.
std::optional<media_key> media_key_of(const request& req) {
  const auto& owner = req.params.at("owner");
  const auto& file = req.params.at("file");
  if (!persistence::is_media_dir_name(owner) || file.rfind(image_file_stem, 0) != 0)
    return std::nullopt;
  auto ext = file.substr(image_file_stem.size());
  if (persistence::format_of_extension(ext) == image_format::unknown)
    return std::nullopt;
  return media_key{owner, ext};
}

/// Checks the signature of a /media/ request for its method; nullopt when valid,
/// else the 403 to answer.
std::optional<response> check_signature(const services& svc, const request& req) {
  auto query = [&](const char* name) {
    auto i = req.query.find(name);
    return i == req.query.end() ? std::string_view{} : std::string_view{i->second};
  };
  auto object_key = req.params.at("owner") + "/" + req.params.at("file");
  using verdict = media_url_signer::verdict;
  switch (svc.media_urls->verify(req.method, object_key, query("expires"), query("signature"),
                                 clock::now())) {
    case verdict::valid: return std::nullopt;
    case verdict::expired: return error_response(403, "The signed URL has expired");
    case verdict::bad_signature: break;
  }
  return error_response(403, "Missing or invalid signature");
}

// -- U12-U15 ----------------------------------------------------------------------

/// U12: records the upload and answers a signed PUT URL as a JSON string.
void upload_url(const services& svc, request& req, const identity& who, responder respond) {
  auto i = req.query.find("image_ext");
  auto ext = i == req.query.end() ? std::nullopt : parse_image_ext(i->second);
  if (!ext)
    return respond(bad_ext_response("image_ext"));
  media_key key{persistence::media_dir_name(who.user_id), *ext};
  // Signed before the database changes, so that a node not yet able to name itself
  // records nothing.
  auto url = svc.media_urls->sign("PUT", key.path(), clock::now());
  if (!url)
    return respond(media_unavailable_response());
  ask_actor<user_profile>(
    svc, std::move(respond), [url = *url](user_profile&) { return json_response(200, url); },
    map_error("profile_image_upload_url"), svc.users, atom::set_profile_image_v, who.user_id,
    *ext);
}

/// Validates an optional list of image extensions; false if any is not one.
bool valid_ext_list(const std::vector<std::string>& exts) {
  return std::all_of(exts.begin(), exts.end(),
                     [](const std::string& e) { return parse_image_ext(e).has_value(); });
}

/// U13: a signed GET URL of the user's stored image, as a JSON string. The URL names
/// the extension in the database (the file that exists); `image_ext`, which the
/// clients copy from the profile, is only validated.
void image_url(const services& svc, request& req, responder respond) {
  auto i = req.query.find("image_ext");
  if (i != req.query.end() && !i->second.empty() && !parse_image_ext(i->second))
    return respond(bad_ext_response("image_ext"));
  auto user_id = req.params.at("user_id");
  auto urls = svc.media_urls;
  ask_actor<std::vector<std::string>>(
    svc, std::move(respond),
    [urls, user_id](std::vector<std::string>& exts) {
      if (exts.size() != 1 || exts.front().empty())
        return error_response(404, "No profile image");
      auto url = urls->sign("GET",
                            media_key{persistence::media_dir_name(user_id), exts.front()}.path(),
                            clock::now());
      return url ? json_response(200, *url) : media_unavailable_response();
    },
    map_error("profile_image_url"), svc.db, atom::image_extensions_v,
    std::vector<std::string>{user_id});
}

/// U14: `{user_id: signed GET URL}` for the comma-separated ids that have an image.
/// `image_ext_arr`, when given, must pair one valid extension with each id.
void image_urls(const services& svc, request& req, responder respond) {
  auto ids = split_commas(req.params.at("user_ids"));
  if (ids.size() > wire::limits::user_ids)
    return respond(error_response(
      400, "At most " + std::to_string(wire::limits::user_ids) + " user ids per request"));
  if (std::any_of(ids.begin(), ids.end(), [](const std::string& id) { return id.empty(); }))
    return respond(error_response(400, "Empty user id in the list"));
  if (auto i = req.query.find("image_ext_arr"); i != req.query.end()) {
    auto exts = split_commas(i->second);
    if (exts.size() != ids.size())
      return respond(error_response(400, "image_ext_arr must have one extension per user id"));
    if (!valid_ext_list(exts))
      return respond(bad_ext_response("image_ext_arr"));
  }
  auto urls = svc.media_urls;
  ask_actor<std::vector<std::string>>(
    svc, std::move(respond),
    [urls, ids](std::vector<std::string>& exts) {
      if (exts.size() != ids.size())
        return error_response(500, "Internal server error");
      auto now = clock::now();
      auto out = json::object();
      for (std::size_t k = 0; k < ids.size(); ++k) {
        if (exts[k].empty())
          continue;
        auto url = urls->sign("GET", media_key{persistence::media_dir_name(ids[k]), exts[k]}.path(),
                              now);
        if (!url)
          return media_unavailable_response();
        out[ids[k]] = *url;
      }
      return json_response(200, out);
    },
    map_error("profile_image_urls"), svc.db, atom::image_extensions_v, ids);
}

/// U15: the user's actor nulls the image columns, then the file of the extension they
/// held goes (the old service always removed the .png).
void delete_image(const services& svc, const identity& who, responder respond) {
  auto timeout = std::chrono::milliseconds(svc.cfg.http.request_timeout_ms);
  auto users = svc.users;
  auto media = svc.media;
  auto user_id = who.user_id;
  // Two steps in order, so a one-shot actor of its own rather than ask_actor. The
  // database goes first: once it is cleared no new URL names the file, and a failed
  // removal leaves an unreachable file rather than a profile naming a missing one.
  svc.sys.spawn([=](caf::event_based_actor* self) {
    auto success = [respond] { respond(json_response(200, {{"success", true}})); };
    auto fail = [respond](const char* operation) {
      return [respond, operation](caf::error& err) {
        respond(error_to_response(err, operation));
      };
    };
    self->request(users, timeout, atom::clear_profile_image_v, user_id)
      .then(
        [=](std::string& ext) {
          if (ext.empty())
            return success();
          media_key key{persistence::media_dir_name(user_id), ext};
          self->request(media, timeout, atom::delete_media_v, std::move(key))
            .then([success](bool) { success(); }, fail("delete_profile_image_file"));
        },
        fail("delete_profile_image"));
  });
}

// -- the signed media URLs ----------------------------------------------------------

/// PUT /media/{owner}/{file}: stores the body when the signature holds and the bytes,
/// the Content-Type and the URL's extension all name the same image format.
/// Its route checks the signature from the head (check_signature), before the body is read.
void put_media(const services& svc, request& req, responder respond) {
  auto key = media_key_of(req);
  if (!key)
    return respond(error_response(404, "Not Found"));
  if (req.body.empty())
    return respond(error_response(400, "The upload is empty"));
  auto actual = persistence::sniff_image(req.body);
  if (actual == image_format::unknown)
    return respond(error_response(415, "The upload is not a PNG or JPEG image"));
  auto declared = format_of_content_type(req.header("content-type").value_or(""));
  if (declared == image_format::unknown)
    return respond(error_response(415, "Content-Type must be image/png or image/jpeg"));
  std::string actual_type = persistence::content_type_of(actual);
  if (declared != actual)
    return respond(error_response(415, "The upload is " + actual_type
                                         + " but its Content-Type says otherwise"));
  if (persistence::format_of_extension(key->ext) != actual)
    return respond(error_response(415, "The upload is " + actual_type + " but the URL is for a ."
                                         + key->ext + " file"));
  ask_actor<bool>(
    svc, std::move(respond),
    [](bool) {
      // Like S3: success is the status alone.
      response res;
      res.content_type.clear();
      return res;
    },
    map_error("media_put"), svc.media, atom::put_media_v, std::move(*key), std::move(req.body));
}

/// GET /media/{owner}/{file}: serves a stored image to a holder of a signed URL.
void get_media(const services& svc, request& req, responder respond) {
  auto key = media_key_of(req);
  if (!key)
    return respond(error_response(404, "Not Found"));
  auto type = persistence::content_type_of(persistence::format_of_extension(key->ext));
  // The signature check accepted `expires` as digits; the URL may be cached until then.
  auto now = std::chrono::duration_cast<std::chrono::seconds>(clock::now().time_since_epoch());
  auto max_age = std::max<long long>(0, std::stoll(req.query.at("expires")) - now.count());
  ask_actor<std::string>(
    svc, std::move(respond),
    [type, max_age](std::string& bytes) {
      response res;
      res.body = std::move(bytes);
      res.content_type = type;
      // Private: whoever holds the URL may cache the image, shared caches may not.
      res.headers.emplace_back("Cache-Control", "private, max-age=" + std::to_string(max_age));
      return res;
    },
    map_error("media_get"), svc.media, atom::get_media_v, std::move(*key));
}

// -- invitations ----------------------------------------------------------------------

/// POST /email (docs/api.md, Profile images and invitations): queues an invitation. As the old service did, a
/// request it cannot send answers 200 `{"result": "Failed"}`, which the clients
/// expect; only a malformed body and an unavailable database are errors.
void send_invitation(const services& svc, request& req, const identity& who,
                     responder respond) {
  auto body = parse_json_object(req, respond);
  if (!body)
    return;
  // The names go into a mail to a stranger: display text under the rule of names.
  constexpr wire::text_rule name_rule{1, wire::limits::sender_name, true};
  auto first = wire::text_field(*body, "senderFirstName", name_rule);
  auto last = wire::text_field(*body, "senderLastName", name_rule);
  auto recipient = wire::text_field(*body, "recipientEmail", {});
  if (!first || !last || !recipient || !text::deliverable_email(*recipient.value))
    return respond(json_response(200, {{"result", "Failed"}}));
  invitation inv{who.user_id, *first.value, *last.value, *recipient.value};
  // The sender's budget first, kept in Redis so that it holds across nodes (these are
  // mails to strangers); then the outbox.
  auto attempt = auth_store::counted_attempt_command(auth_store::invitation_counter_key(
                                                       who.user_id),
                                                     svc.cfg.users.invitations_max,
                                                     svc.cfg.users.invitations_window_s);
  auto timeout = std::chrono::milliseconds(svc.cfg.http.request_timeout_ms);
  svc.sys.spawn([svc, timeout, attempt = std::move(attempt), inv = std::move(inv),
                 respond = std::move(respond)](caf::event_based_actor* self) {
    auto fail = map_error("send_invitation");
    self->request(svc.redis, timeout, atom::command_v, attempt)
      .then(
        [svc, inv, respond, fail](redis_reply& reply) {
          if (auto refusal = auth_store::attempt_refusal(
                reply, "Too many invitations; try again later"))
            return respond(fail(refusal));
          ask_actor<int64_t>(
            svc, respond, [](int64_t) { return json_response(200, {{"result", "Success"}}); },
            fail, svc.db, atom::enqueue_email_v, inv);
        },
        [respond, fail](caf::error& err) { respond(fail(err)); });
  });
}

} // namespace

// -- pure checks ------------------------------------------------------------------------

std::optional<std::string> parse_image_ext(std::string_view text) {
  auto ext = text::ascii_lower(text);
  if (persistence::format_of_extension(ext) == image_format::unknown)
    return std::nullopt;
  return ext;
}

image_format format_of_content_type(std::string_view content_type) {
  auto name = text::ascii_lower(text::trim(content_type.substr(0, content_type.find(';')), text::http_space));
  if (name == "image/png")
    return image_format::png;
  if (name == "image/jpeg" || name == "image/jpg" || name == "image/pjpeg")
    return image_format::jpeg;
  return image_format::unknown;
}

void add_media_routes(router& r, const services& svc) {
  r.add("GET", "/users/me/profile-image-upload-url",
        protected_route(svc, [svc](request& req, const identity& who, responder respond) {
          upload_url(svc, req, who, std::move(respond));
        }));
  r.add("GET", "/users/id/{user_id}/profile-image-url",
        [svc](request& req, responder respond) { image_url(svc, req, std::move(respond)); });
  r.add("GET", "/users/ids/{user_ids}/profile-image-url",
        [svc](request& req, responder respond) { image_urls(svc, req, std::move(respond)); });
  r.add("DELETE", "/users/me/profile-image",
        protected_route(svc, [svc](request&, const identity& who, responder respond) {
          delete_image(svc, who, std::move(respond));
        }));
  // Uploads may be larger than http.body_limit: the route carries media.max_bytes,
  // and a larger body is refused with 413 before it is read.
  // The signature is checked from the head: a refused upload sends no body.
  auto signed_url = [svc](handler fn) {
    return guarded_handler{[svc](const request& req) { return check_signature(svc, req); },
                           std::move(fn), "signed-url"};
  };
  r.add("PUT", std::string{media_path_prefix} + "{owner}/{file}",
        signed_url([svc](request& req, responder respond) {
          put_media(svc, req, std::move(respond));
        }),
        svc.cfg.media.max_bytes);
  r.add("GET", std::string{media_path_prefix} + "{owner}/{file}",
        signed_url([svc](request& req, responder respond) {
          get_media(svc, req, std::move(respond));
        }));
  r.add("POST", "/email",
        protected_route(svc, [svc](request& req, const identity& who, responder respond) {
          send_invitation(svc, req, who, std::move(respond));
        }));
}

} // namespace tandem::http
