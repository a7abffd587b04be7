#include "persistence/users_repo.hpp"

namespace tandem::persistence::users {

namespace {

// -- SQL ----------------------------------------------------------------------------

/// The columns of a `user_profile`, in the form `profile_from_row` reads. Times are
/// rendered by the server in UTC without an offset (docs/api.md, Conventions): the clients
/// append `Z` themselves and would misread `+00:00`.
const std::string profile_columns = R"(
  user_id, email, first_name, last_name, description,
  to_char(dob, 'YYYY-MM-DD') AS dob,
  gender, school, work, location,
  email_public, dob_public, gender_public, school_public, work_public, location_public,
  share_mode, domain_allow, domain_deny, profile_image_extension,
  to_char(profile_image_uploaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
    AS profile_image_uploaded_at)";

// ON CONFLICT turns "exists already" into an empty result instead of an aborted
// transaction and an error log line: it is an ordinary answer (U2's 400).
const std::string insert_profile = R"(
INSERT INTO users (user_id, email, first_name, last_name, domain_allow, domain_deny)
VALUES ($1, $2, $3, $4, $5::text[], $6::text[])
ON CONFLICT (user_id) DO NOTHING
RETURNING)" + profile_columns;

const std::string select_profile = "SELECT" + profile_columns + R"(
FROM users WHERE user_id = $1)";

// = ANY uses the primary key; array_position keeps the caller's order.
const std::string select_profiles = "SELECT" + profile_columns + R"(
FROM users WHERE user_id = ANY ($1::text[])
ORDER BY array_position($1::text[], user_id))";

const std::string update_profile = R"(
UPDATE users
   SET email = $2, first_name = $3, last_name = $4, description = $5, share_mode = $6,
       domain_allow = $7::text[], domain_deny = $8::text[],
       gender = $9, school = $10, work = $11, location = $12,
       email_public = $13, gender_public = $14, school_public = $15,
       work_public = $16, location_public = $17
 WHERE user_id = $1
RETURNING)" + profile_columns;

const std::string update_domain_allow = R"(
UPDATE users SET domain_allow = $2::text[] WHERE user_id = $1
RETURNING)" + profile_columns;

const std::string update_domain_deny = R"(
UPDATE users SET domain_deny = $2::text[] WHERE user_id = $1
RETURNING)" + profile_columns;

// -- rows ---------------------------------------------------------------------------

std::vector<std::string> text_array(const pqxx::field& f) {
  std::vector<std::string> out;
  auto parser = f.as_array();
  // The table's CHECKs forbid NULL entries, and the array is one-dimensional: besides
  // its strings the parser reports only the opening and closing brace.
  for (;;) {
    auto [kind, value] = parser.get_next();
    if (kind == pqxx::array_parser::done)
      return out;
    if (kind == pqxx::array_parser::string_value)
      out.push_back(std::move(value));
  }
}

caf::optional<std::string> nullable_text(const pqxx::field& f) {
  if (f.is_null())
    return caf::none;
  return f.as<std::string>();
}

user_profile profile_from_row(const pqxx::row& row) {
  user_profile p;
  p.user_id = row["user_id"].as<std::string>();
  p.email = row["email"].as<std::string>();
  p.first_name = row["first_name"].as<std::string>();
  p.last_name = row["last_name"].as<std::string>();
  p.description = row["description"].as<std::string>();
  p.dob = nullable_text(row["dob"]);
  p.gender = row["gender"].as<std::string>();
  p.school = row["school"].as<std::string>();
  p.work = row["work"].as<std::string>();
  p.location = row["location"].as<std::string>();
  p.email_public = row["email_public"].as<bool>();
  p.dob_public = row["dob_public"].as<bool>();
  p.gender_public = row["gender_public"].as<bool>();
  p.school_public = row["school_public"].as<bool>();
  p.work_public = row["work_public"].as<bool>();
  p.location_public = row["location_public"].as<bool>();
  // The table's CHECK admits only the two spellings.
  p.sharing = parse_share_mode(row["share_mode"].as<std::string>())
                .value_or(share_mode::default_none);
  p.domain_allow = text_array(row["domain_allow"]);
  p.domain_deny = text_array(row["domain_deny"]);
  p.profile_image_extension = nullable_text(row["profile_image_extension"]);
  p.profile_image_uploaded_at = nullable_text(row["profile_image_uploaded_at"]);
  return p;
}

/// The single profile a statement returned, or `not_found` when it matched no row.
caf::expected<user_profile> single_profile(const pqxx::result& res) {
  if (res.empty())
    return caf::make_error(errc::not_found);
  return profile_from_row(res[0]);
}

} // namespace

const std::vector<std::string>& default_domain_allow() {
  static const std::vector<std::string> domains = {
    "wikipedia.org", "nytimes.com", "forbes.com", "cnn.com", "cnbc.com", "medium.com",
    "washingtonpost.com", "brunch.co.kr", "stackoverflow.com", "stackexchange.com",
    "techcrunch.com", "crunchbase.com", "nbcnews.com", "huffpost.com", "buzzfeednews.com",
    "foxnews.com", "espn.com", "cbs.com", "cbsnews.com", "npr.org", "tistory.com", "cnet.com",
    "noninertialframe.com", "reuters.com", "apnews.com", "politico.com", "kaggle.com",
    "udemy.com", "udacity.com", "coursera.org", "github.com", "gitlab.com", "bloomberg.com",
    "fool.com", "python.org", "geeksforgeeks.org", "leetcode.com", "towardsdatascience.com",
    "nfl.com", "wsj.com", "usnews.com", "tmz.com", "businessinsider.com", "latimes.com",
    "techmeme.com", "engadget.com", "theverge.com", "ycombinator.com", "gizmodo.com",
    "producthunt.com", "venturebeat.com", "wired.com", "technologyreview.com",
    "androidcentral.com", "androidauthority.com", "vox.com", "fortune.com", "arxiv.org",
    "openai.com", "researchgate.net", "machinelearningmastery.com", "aitrends.com",
    "artificial-intelligence.blog", "mit.edu", "caltech.edu", "sciencedaily.com",
    "research.google", "kdnuggets.com", "serverless.com", "namu.wiki", "github.io",
    "angular.io", "mozilla.org", "w3schools.com", "nih.gov", "science.gov", "elsevier.com",
    "academia.edu", "scienceopen.com", "goodreads.com", "hbr.org", "css-tricks.com",
    "freecodecamp.org", "inc.com", "mashable.com", "paulgraham.com", "quora.com",
    "entrepreneur.com", "ted.com", "economist.com", "dzone.com", "hackernoon.com", "devdocs.io",
    "diff.blog", "digitalocean.com", "slashdot.org", "serverfault.com", "askubuntu.com",
    "betterprogramming.pub", "stackshare.io", "dev.to", "xkcd.com", "hackerrank.com",
    "okky.kr", "edx.org", "pluralsight.com", "tensorflow.org", "pytorch.org",
    "scikit-learn.org", "deeplearning.ai", "topcoder.com", "artofproblemsolving.com",
    "redhat.com", "glassdoor.com", "heroku.com", "devpost.com", "pagenow.io", "testdriven.io",
    "plainenglish.io",
  };
  return domains;
}

const std::vector<std::string>& default_domain_deny() {
  static const std::vector<std::string> domains = {
    "facebook.com", "instagram.com", "amazon.com", "twitter.com", "messenger.com", "google.com",
  };
  return domains;
}

caf::expected<user_profile> insert(pqxx::work& tx, const new_profile& p) {
  static const std::string allow = text_array_literal(default_domain_allow());
  static const std::string deny = text_array_literal(default_domain_deny());
  auto res = tx.exec_params(insert_profile, p.user_id, p.email, p.first_name, p.last_name,
                            allow, deny);
  if (res.empty())
    return caf::make_error(errc::already_exists);
  return profile_from_row(res[0]);
}

caf::expected<user_profile> load(pqxx::work& tx, const std::string& user_id) {
  return single_profile(tx.exec_params(select_profile, user_id));
}

std::vector<user_profile> load_many(pqxx::work& tx, const std::vector<std::string>& ids) {
  std::vector<user_profile> out;
  if (ids.empty())
    return out;
  auto res = tx.exec_params(select_profiles, text_array_literal(ids));
  out.reserve(res.size());
  for (const auto& row : res)
    out.push_back(profile_from_row(row));
  return out;
}

caf::expected<user_profile> update(pqxx::work& tx, const identity& who,
                                   const profile_update& u) {
  return single_profile(tx.exec_params(
    update_profile, who.user_id, who.email, u.first_name, u.last_name, u.description,
    std::string{to_string(u.sharing)}, text_array_literal(u.domain_allow),
    text_array_literal(u.domain_deny), u.gender, u.school, u.work, u.location, u.email_public,
    u.gender_public, u.school_public, u.work_public, u.location_public));
}

caf::expected<user_profile> set_domains(pqxx::work& tx, const std::string& user_id,
                                        domain_list which,
                                        const std::vector<std::string>& domains) {
  const auto& sql = which == domain_list::allow ? update_domain_allow : update_domain_deny;
  return single_profile(tx.exec_params(sql, user_id, text_array_literal(domains)));
}

std::string text_array_literal(const std::vector<std::string>& xs) {
  std::string out = "{";
  for (const auto& x : xs) {
    if (out.size() > 1)
      out += ',';
    // Quoting every element keeps commas, braces, blanks and the word NULL literal.
    out += '"';
    for (char c : x) {
      if (c == '"' || c == '\\')
        out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

} // namespace tandem::persistence::users
