// Values that cross actors for the built-in media store (profile images) and the
// invitation e-mail outbox. Included by vocabulary/messages.hpp, which registers them.
#pragma once

#include <caf/meta/type_name.hpp>

#include <string>

namespace tandem {

/// Names one stored profile image: the directory of its owner below media.dir and
/// the image's file extension. `owner_dir` is `persistence::media_dir_name(user_id)`,
/// never a raw user id, so it is safe both as a file name and as a URL path segment.
struct media_key {
  std::string owner_dir;
  std::string ext;  ///< "png", "jpeg" or "jpg"

  /// The object key, `<owner_dir>/profile_image.<ext>`: the file below media.dir and
  /// the path below `/media/` in signed URLs.
  std::string path() const {
    return owner_dir + "/profile_image." + ext;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, media_key& x) {
  return f(caf::meta::type_name("media_key"), x.owner_dir, x.ext);
}

/// An invitation queued by `POST /email`, waiting in email_outbox to be sent.
struct invitation {
  std::string sender_user_id;
  std::string sender_first_name;
  std::string sender_last_name;
  std::string recipient_email;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, invitation& x) {
  return f(caf::meta::type_name("invitation"), x.sender_user_id, x.sender_first_name,
           x.sender_last_name, x.recipient_email);
}

} // namespace tandem
