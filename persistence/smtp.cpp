#include "persistence/smtp.hpp"

#include "common/text.hpp"
#include "config/log.hpp"
#include "persistence/worker_pool.hpp"

#include <curl/curl.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <optional>

namespace tandem::persistence {

namespace {

std::string base64(std::string_view bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

/// `text` as RFC 2047 "B" encoded words, folded onto lines of their own: each word
/// encodes at most 45 bytes (60 base64 characters, 72 with its frame, under the limit
/// of 75), cut between UTF-8 characters.
std::string encoded_words(std::string_view text) {
  constexpr std::size_t max_bytes = 45;
  std::string out;
  while (!text.empty()) {
    auto n = std::min(max_bytes, text.size());
    while (n < text.size() && n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80)
      --n;
    out += (out.empty() ? "" : "\r\n ") + std::string{"=?UTF-8?B?"} + base64(text.substr(0, n))
           + "?=";
    text.remove_prefix(n);
  }
  return out;
}

/// RFC 5322 date-time in UTC.
std::string mail_date(std::chrono::system_clock::time_point now) {
  auto t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

/// What libcurl reads as the message: the composed mail, in pieces.
struct upload {
  std::string_view rest;
};

size_t read_upload(char* buffer, size_t size, size_t count, void* user) {
  auto* up = static_cast<upload*>(user);
  auto n = std::min(size * count, up->rest.size());
  std::memcpy(buffer, up->rest.data(), n);
  up->rest.remove_prefix(n);
  return n;
}

curl_usessl tls_mode(const std::string& starttls) {
  if (starttls == "required")
    return CURLUSESSL_ALL;
  return starttls == "try" ? CURLUSESSL_TRY : CURLUSESSL_NONE;
}

/// What an SMTP worker owns: one libcurl easy handle, whose connection libcurl keeps
/// open from one send to the next. Blocking: used only on a detached worker's thread.
class smtp_session {
public:
  explicit smtp_session(config::smtp_config cfg) : cfg_(std::move(cfg)), curl_(curl_easy_init()) {
    // nop
  }

  smtp_session(const smtp_session&) = delete;
  smtp_session& operator=(const smtp_session&) = delete;

  ~smtp_session() {
    if (curl_ != nullptr)
      curl_easy_cleanup(curl_);
  }

  completion execute(const pool_job<smtp_session>& job) {
    try {
      return job.run(*this);
    } catch (const std::exception& e) {
      log::error("smtp job failed", {{"job", job.name}, {"error", e.what()}});
      return job.fail(caf::make_error(errc::internal));
    }
  }

  /// One SMTP transaction for `e`: its verdict, never an exception.
  smtp_verdict send(const outbox_email& e) {
    if (curl_ == nullptr)
      return {smtp_verdict::transient, "libcurl could not make a handle"};
    // Rows come from POST /email, which checks the same; a row put in by hand may not.
    if (!text::deliverable_email(e.recipient_email))
      return {smtp_verdict::permanent, "the recipient address cannot be sent to"};
    auto message = compose_invitation(e, cfg_.from, std::chrono::system_clock::now());
    upload up{message};
    auto from = "<" + cfg_.from + ">";
    auto* rcpt = curl_slist_append(nullptr, ("<" + e.recipient_email + ">").c_str());
    char error[CURL_ERROR_SIZE] = "";
    auto* h = curl_;
    curl_easy_setopt(h, CURLOPT_URL, cfg_.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(tls_mode(cfg_.starttls)));
    if (!cfg_.ca_file.empty())
      curl_easy_setopt(h, CURLOPT_CAINFO, cfg_.ca_file.c_str());
    if (!cfg_.username.empty()) {
      curl_easy_setopt(h, CURLOPT_USERNAME, cfg_.username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, cfg_.password.c_str());
    }
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg_.timeout_ms));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(cfg_.timeout_ms));
    // Timeouts by signal would hit other threads of the process.
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    auto rc = curl_easy_perform(h);
    long reply = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply);
    // The handle outlives this call; the list and the buffer do not.
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, nullptr);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    curl_slist_free_all(rcpt);
    if (rc == CURLE_OK)
      return {smtp_verdict::accepted, {}};
    std::string detail = error[0] != '\0' ? error : curl_easy_strerror(rc);
    if (reply != 0)
      detail += " (reply " + std::to_string(reply) + ")";
    // A 5xx refuses this message for good; a refused login or STARTTLS is the node's
    // configuration, which an operator may fix before the retries run out.
    bool permanent = reply >= 500 && reply < 600 && rc != CURLE_LOGIN_DENIED
                     && rc != CURLE_USE_SSL_FAILED;
    return {permanent ? smtp_verdict::permanent : smtp_verdict::transient, std::move(detail)};
  }

private:
  config::smtp_config cfg_;
  CURL* curl_;
};

struct smtp_state {
  std::optional<worker_pool<smtp_session, smtp_actor::base>> pool;
  static inline const char* name = "tandem.smtp";
};

smtp_actor::behavior_type smtp_impl(smtp_actor::stateful_pointer<smtp_state> self,
                                    config::smtp_config cfg, std::size_t queue_limit) {
  worker_factory<smtp_session> factory = [cfg](caf::actor_system& sys) {
    return sys.spawn<caf::detached>(pool_worker_impl<smtp_session, config::smtp_config>, cfg);
  };
  self->state.pool.emplace(self, pool_settings{"smtp", 1, queue_limit}, std::move(factory));
  return {
    [self](atom::send_email, const outbox_email& e) {
      return self->state.pool->submit("send_email",
                                      [e](smtp_session& session) { return session.send(e); });
    },
  };
}

} // namespace

std::string compose_invitation(const outbox_email& e, const std::string& from,
                               std::chrono::system_clock::time_point now) {
  auto sender = e.sender_first_name + " " + e.sender_last_name;
  auto body = sender + " invites you to Tandem, where friends see which pages the others are "
              "on and chat about them.\r\n";
  auto domain = from.substr(from.find('@') + 1);
  std::string mail = "Date: " + mail_date(now) + "\r\n"
                     "From: <" + from + ">\r\n"
                     "To: <" + e.recipient_email + ">\r\n"
                     "Subject: " + encoded_words(sender + " invites you to Tandem") + "\r\n"
                     "Message-ID: <invitation-" + std::to_string(e.id) + "@" + domain + ">\r\n"
                     "MIME-Version: 1.0\r\n"
                     "Content-Type: text/plain; charset=UTF-8\r\n"
                     "Content-Transfer-Encoding: base64\r\n"
                     "\r\n";
  // Lines of at most 76 characters (RFC 2045).
  auto encoded = base64(body);
  for (std::size_t i = 0; i < encoded.size(); i += 76)
    mail += encoded.substr(i, 76) + "\r\n";
  return mail;
}

smtp_actor spawn_smtp(caf::actor_system& sys, const config::smtp_config& cfg,
                      std::size_t queue_limit) {
  // Before any worker thread: libcurl's global set-up is not safe alongside other threads
  // of libcurl in every build.
  curl_global_init(CURL_GLOBAL_DEFAULT);
  return sys.spawn(smtp_impl, cfg, queue_limit);
}

} // namespace tandem::persistence
