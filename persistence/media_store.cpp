#include "persistence/media_store.hpp"

#include "config/log.hpp"

#include <sodium.h>

#include <array>
#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace tandem::persistence {

namespace {

/// Two workers: uploads and reads are short (at most media.max_bytes each), and the
/// other engineers' pools already share the two cores.
constexpr std::size_t media_workers = 2;

/// Queued jobs beyond this are refused with errc::overloaded: each queued upload
/// holds its body in memory, so this bounds that memory to 32 * media.max_bytes.
constexpr std::size_t media_queue_limit = 32;

/// Longest plain directory name; longer encodings are hashed (NAME_MAX is 255).
constexpr std::size_t max_plain_dir_name = 200;

/// Uploads are written here and renamed into their owner's directory when complete, so
/// that whatever a crash cuts short is here alone and removed at the next start
/// (prepare_media_dir). No owner's directory can have this name: those never hold '.'.
constexpr const char* partial_dir = ".partial";

constexpr std::array<const char*, 3> image_extensions = {"png", "jpeg", "jpg"};

constexpr char upper_hex[] = "0123456789ABCDEF";

bool is_plain(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
         || c == '_';
}

bool is_upper_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

/// Owns a file descriptor; closes it once.
class unique_fd {
public:
  explicit unique_fd(int fd) : fd_(fd) {
    // nop
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  int get() const {
    return fd_;
  }

  /// Closes now and reports the error close may carry (delayed write errors).
  void close_checked(const std::string& what) {
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0)
      throw_errno(what);
  }

private:
  int fd_;
};

/// Makes a rename or unlink in `dir` durable.
void fsync_dir(const std::string& dir) {
  unique_fd fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (fd.get() < 0)
    throw_errno("open " + dir);
  if (::fsync(fd.get()) != 0)
    throw_errno("fsync " + dir);
}

void write_all(int fd, const std::string& bytes, const std::string& path) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      throw_errno("write " + path);
    }
    done += static_cast<std::size_t>(n);
  }
}

/// Removes `path`; false if it did not exist.
bool unlink_if_exists(const std::string& path) {
  if (::unlink(path.c_str()) == 0)
    return true;
  if (errno == ENOENT)
    return false;
  throw_errno("unlink " + path);
}

bool valid_key(const media_key& key) {
  return is_media_dir_name(key.owner_dir) && format_of_extension(key.ext) != image_format::unknown;
}

/// The code of a failed file operation: the store's own faults by errno, else internal.
errc storage_fault_of(const std::error_code& ec) {
  if (ec.category() != std::generic_category())
    return errc::internal;
  switch (ec.value()) {
    case ENOSPC:
    case EDQUOT: return errc::storage_full;
    case EROFS:
    case EACCES:
    case EPERM: return errc::storage_read_only;
    default: return errc::internal;
  }
}

caf::error malformed_key() {
  return caf::make_error(errc::invalid_request, "Malformed media key");
}

} // namespace

// -- naming and content checks --------------------------------------------------

image_format format_of_extension(std::string_view ext) {
  if (ext == "png")
    return image_format::png;
  if (ext == "jpeg" || ext == "jpg")
    return image_format::jpeg;
  return image_format::unknown;
}

image_format sniff_image(std::string_view bytes) {
  static constexpr std::string_view png_signature{"\x89PNG\r\n\x1a\n", 8};
  static constexpr std::string_view jpeg_soi{"\xFF\xD8\xFF", 3};
  if (bytes.substr(0, png_signature.size()) == png_signature)
    return image_format::png;
  if (bytes.substr(0, jpeg_soi.size()) == jpeg_soi)
    return image_format::jpeg;
  return image_format::unknown;
}

const char* content_type_of(image_format fmt) {
  switch (fmt) {
    case image_format::png: return "image/png";
    case image_format::jpeg: return "image/jpeg";
    case image_format::unknown: break;
  }
  return "";
}

std::string media_dir_name(const std::string& user_id) {
  std::string out;
  out.reserve(user_id.size());
  for (unsigned char c : user_id) {
    if (is_plain(c)) {
      out += static_cast<char>(c);
    } else {
      out += '~';
      out += upper_hex[c >> 4];
      out += upper_hex[c & 0x0F];
    }
  }
  if (out.size() <= max_plain_dir_name)
    return out;
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(user_id.data()),
                     user_id.size());
  std::array<char, crypto_hash_sha256_BYTES * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  return std::string{"~~"} + hex.data();
}

bool is_media_dir_name(std::string_view name) {
  if (name.size() == 2 + crypto_hash_sha256_BYTES * 2 && name.substr(0, 2) == "~~") {
    for (auto c : name.substr(2))
      if (!is_lower_hex(c))
        return false;
    return true;
  }
  if (name.empty() || name.size() > max_plain_dir_name)
    return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (is_plain(c))
      continue;
    if (c != '~' || i + 2 >= name.size() || !is_upper_hex(name[i + 1])
        || !is_upper_hex(name[i + 2]))
      return false;
    i += 2;
  }
  return true;
}

void prepare_media_dir(const std::string& dir) {
  if (dir.empty())
    throw std::runtime_error("media.dir is empty");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw std::runtime_error("media.dir " + dir + ": cannot create: " + ec.message());
  if (!std::filesystem::is_directory(dir, ec))
    throw std::runtime_error("media.dir " + dir + ": not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw std::runtime_error("media.dir " + dir + ": not writable: "
                             + std::generic_category().message(errno));
  auto partial = std::filesystem::path{dir} / partial_dir;
  auto removed = std::filesystem::remove_all(partial, ec);
  if (!ec)
    std::filesystem::create_directory(partial, ec);
  if (ec)
    throw std::runtime_error("media.dir " + dir + ": cannot empty " + partial_dir + ": "
                             + ec.message());
  if (removed > 1)  // the directory itself counts one
    log::warn("partial uploads removed", {{"dir", partial.string()}, {"files", removed - 1}});
}

// -- the store ------------------------------------------------------------------

media_session::media_session(std::string root) : root_(std::move(root)) {
  // nop
}

completion media_session::execute(const pool_job<media_session>& job) {
  try {
    return job.run(*this);
  } catch (const std::system_error& e) {
    // A full or read-only file system is the operator's to fix, and the client's to wait
    // out: its own code (507, 503), never a 500. The operation left no file behind.
    auto fault = storage_fault_of(e.code());
    log::error(fault == errc::storage_full        ? "media store is full"
               : fault == errc::storage_read_only ? "media store cannot be written"
                                                  : "media store operation failed",
               {{"operation", job.name}, {"error", e.what()}});
    return job.fail(caf::make_error(fault, job.name));
  } catch (const std::exception& e) {
    // The message names the file and the system error; it never holds file contents.
    log::error("media store operation failed", {{"operation", job.name}, {"error", e.what()}});
    return job.fail(caf::make_error(errc::internal, job.name));
  }
}

caf::expected<bool> media_session::put(const media_key& key, const std::string& bytes) {
  if (!valid_key(key))
    return malformed_key();
  auto dir = root_ + "/" + key.owner_dir;
  if (::mkdir(dir.c_str(), 0750) == 0)
    fsync_dir(root_);  // a new owner's directory must survive a crash with its file
  else if (errno != EEXIST)
    throw_errno("mkdir " + dir);
  auto file = root_ + "/" + key.path();
  auto partial = root_ + "/" + partial_dir;
  if (::mkdir(partial.c_str(), 0750) != 0 && errno != EEXIST)
    throw_errno("mkdir " + partial);
  // Two workers may store the same key at once: each writes its own temporary
  // file (O_EXCL, random name) and the last rename wins whole.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  auto tmp = partial + "/" + std::to_string(rng());
  unique_fd fd{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)};
  if (fd.get() < 0)
    throw_errno("open " + tmp);
  try {
    write_all(fd.get(), bytes, tmp);
    // Data before name: after a crash the file is either the old image or the
    // complete new one, never a truncated mix.
    if (::fsync(fd.get()) != 0)
      throw_errno("fsync " + tmp);
    fd.close_checked("close " + tmp);
    if (::rename(tmp.c_str(), file.c_str()) != 0)
      throw_errno("rename " + tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  for (auto* ext : image_extensions)
    if (key.ext != ext)
      unlink_if_exists(dir + "/profile_image." + ext);
  fsync_dir(dir);
  return true;
}

caf::expected<std::string> media_session::get(const media_key& key) const {
  if (!valid_key(key))
    return malformed_key();
  auto file = root_ + "/" + key.path();
  // O_NOFOLLOW: the store only ever writes regular files, so a link is not ours.
  unique_fd fd{::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return caf::make_error(errc::not_found, "No such image");
    throw_errno("open " + file);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    throw_errno("fstat " + file);
  std::string bytes;
  bytes.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      throw_errno("read " + file);
    }
    if (n == 0)
      break;  // truncated meanwhile: never happens to our renamed files, but stay exact
    done += static_cast<std::size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

caf::expected<bool> media_session::remove(const media_key& key) {
  if (!valid_key(key))
    return malformed_key();
  if (!unlink_if_exists(root_ + "/" + key.path()))
    return false;
  // The owner's (possibly now empty) directory stays: removing it would race with an
  // upload that has just made sure it exists.
  fsync_dir(root_ + "/" + key.owner_dir);
  return true;
}

// -- the facade -------------------------------------------------------------------

namespace {

struct media_state {
  std::optional<worker_pool<media_session, media_actor::base>> pool;
  static inline const char* name = "tandem.media";
};

media_actor::behavior_type media_impl(media_actor::stateful_pointer<media_state> self,
                                      std::string root, std::shared_ptr<pool_gauges> gauges) {
  pool_settings settings{"media", media_workers, media_queue_limit};
  settings.gauges = std::move(gauges);
  self->state.pool.emplace(
    self, std::move(settings),
    [root](caf::actor_system& sys) {
      // Detached: file I/O (fsync above all) blocks its thread.
      return sys.spawn<caf::detached>(pool_worker_impl<media_session, std::string>, root);
    });
  return {
    [self](atom::put_media, media_key& key, std::string& bytes) {
      return self->state.pool->submit(
        "media_put", [key = std::move(key), bytes = std::move(bytes)](media_session& s) {
          return s.put(key, bytes);
        });
    },
    [self](atom::get_media, media_key& key) {
      return self->state.pool->submit(
        "media_get", [key = std::move(key)](media_session& s) { return s.get(key); });
    },
    [self](atom::delete_media, media_key& key) {
      return self->state.pool->submit(
        "media_del", [key = std::move(key)](media_session& s) { return s.remove(key); });
    },
  };
}

} // namespace

media_actor spawn_media(caf::actor_system& sys, const config::media_config& cfg,
                        std::shared_ptr<pool_gauges> gauges) {
  return sys.spawn(media_impl, cfg.dir, std::move(gauges));
}

} // namespace tandem::persistence
