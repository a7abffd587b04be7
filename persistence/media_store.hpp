// The built-in media store: profile images as files below media.dir, written and
// read by a bounded pool of detached workers behind the typed `media_actor`
// (file I/O blocks), plus the pure helpers that keep user ids and uploads safe.
#pragma once

#include "vocabulary/messages.hpp"
#include "config/app_config.hpp"
#include "persistence/worker_pool.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::persistence {

// -- naming and content checks (pure, usable anywhere) -------------------------

/// The image formats the store accepts.
enum class image_format : uint8_t { unknown, png, jpeg };

/// The format named by an upload extension: "png" is PNG, "jpeg" and "jpg" are
/// JPEG, anything else (including other cases) is `unknown`.
image_format format_of_extension(std::string_view ext);

/// The format the bytes actually are, from their magic numbers (PNG signature,
/// JPEG SOI marker), or `unknown`.
image_format sniff_image(std::string_view bytes);

/// "image/png", "image/jpeg", or "" for `unknown`.
const char* content_type_of(image_format fmt);

/// The directory name of `user_id` below media.dir and in media URLs. User ids are
/// arbitrary text, so bytes other than ASCII letters, digits, '-' and '_' become
/// `~XX` (upper-case hex): the result never contains '/', '.', NUL or '%', so it can
/// be neither "." nor ".." nor escape the directory, and is a plain URL segment.
/// Encodings longer than 200 bytes (file systems stop at 255) become "~~" and the
/// hex SHA-256 of the id instead; "~~" cannot start a plain encoding. Distinct ids
/// get distinct names. Precondition: `user_id` is not empty.
std::string media_dir_name(const std::string& user_id);

/// True if `name` can be a result of `media_dir_name` (checked before any path
/// from a URL touches the file system).
bool is_media_dir_name(std::string_view name);

/// Creates media.dir (and its parents) unless it exists and checks that it is a
/// writable directory; removes the partial files of uploads that a crash cut short.
/// Throws std::runtime_error with a one-line reason otherwise. Blocking: called by main
/// at start-up.
void prepare_media_dir(const std::string& dir);

// -- the store ------------------------------------------------------------------

/// What a media worker owns: the root directory. Blocking: used only on a
/// detached worker's thread.
class media_session {
public:
  explicit media_session(std::string root);

  /// Runs `job`; exceptions (I/O errors) are logged and become `errc::storage_full`
  /// (ENOSPC, EDQUOT), `errc::storage_read_only` (EROFS, EACCES, EPERM) or else
  /// `errc::internal`.
  completion execute(const pool_job<media_session>& job);

  /// Stores `bytes` as the file of `key` atomically: a temporary file in media.dir's
  /// `.partial` directory, fsync, rename over the old file, fsync of the directory. Then
  /// removes the owner's images with other extensions, so one image is kept.
  /// `errc::invalid_request` for a malformed key; throws on I/O errors.
  caf::expected<bool> put(const media_key& key, const std::string& bytes);

  /// The bytes of `key`; `errc::not_found` when there is no such file.
  caf::expected<std::string> get(const media_key& key) const;

  /// Removes the file of `key`; true if it existed (removing nothing is no error).
  caf::expected<bool> remove(const media_key& key);

private:
  std::string root_;
};

/// The typed interface of the store, used by request with a timeout from an actor.
/// Every operation may also fail with `errc::overloaded` (queue full), and with
/// `errc::storage_full`, `errc::storage_read_only` or `errc::internal` (an I/O error,
/// logged; see `media_session::execute`).
using media_actor = caf::typed_actor<
  /// Stores an image (see `media_session::put`); replies true.
  caf::replies_to<atom::put_media, media_key, std::string>::with<bool>,
  /// Replies the bytes of an image, or `errc::not_found`.
  caf::replies_to<atom::get_media, media_key>::with<std::string>,
  /// Removes an image; replies whether it existed.
  caf::replies_to<atom::delete_media, media_key>::with<bool>>;

/// Spawns the facade and its detached workers over `cfg.dir`, which
/// `prepare_media_dir` has checked. The pool publishes its load in `gauges`, if given.
media_actor spawn_media(caf::actor_system& sys, const config::media_config& cfg,
                        std::shared_ptr<pool_gauges> gauges = nullptr);

} // namespace tandem::persistence
