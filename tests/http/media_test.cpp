#include "common/text.hpp"
#include "http/media_routes.hpp"
#include "http/media_urls.hpp"
#include "persistence/media_store.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

using namespace tandem;
using namespace tandem::http;
using persistence::image_format;
using namespace std::chrono_literals;

namespace {

const auto t0 = media_url_signer::clock::time_point{std::chrono::seconds{1'700'000'000}};

/// The pieces of a signed URL.
struct parsed_url {
  std::string base;
  std::string object_key;
  std::string expires;
  std::string signature;
};

parsed_url parse(const std::string& url) {
  auto at = url.find("/media/");
  auto q = url.find('?');
  REQUIRE(at != std::string::npos);
  REQUIRE(q != std::string::npos);
  parsed_url out;
  out.base = url.substr(0, at);
  out.object_key = url.substr(at + 7, q - at - 7);
  std::istringstream query{url.substr(q + 1)};
  std::string pair;
  while (std::getline(query, pair, '&')) {
    auto eq = pair.find('=');
    auto name = pair.substr(0, eq);
    (name == "expires" ? out.expires : out.signature) = pair.substr(eq + 1);
  }
  return out;
}

media_url_signer make_signer(std::string public_url = "https://media.example/") {
  return media_url_signer{"a-test-key-of-some-length", std::move(public_url), "127.0.0.1", 3600s};
}

const std::string png_bytes = std::string{"\x89PNG\r\n\x1a\n", 8} + "rest of a png";
const std::string jpeg_bytes = std::string{"\xFF\xD8\xFF\xE0", 4} + "rest of a jpeg";

/// A fresh directory under the system temp dir, removed at scope exit.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path()
           / ("tandem-media-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

} // namespace

// -- signed URLs --------------------------------------------------------------------

TEST_CASE("a signed media URL verifies for its method, key and time", "[media][unit]") {
  auto signer = make_signer();
  auto url = signer.sign("PUT", "abc/profile_image.png", t0);
  REQUIRE(url);
  auto u = parse(*url);
  CHECK(u.base == "https://media.example");
  CHECK(u.object_key == "abc/profile_image.png");
  CHECK(u.expires == std::to_string(1'700'000'000 + 3600));
  CHECK(u.signature.size() == 64);
  using v = media_url_signer::verdict;
  CHECK(signer.verify("PUT", u.object_key, u.expires, u.signature, t0) == v::valid);
  CHECK(signer.verify("PUT", u.object_key, u.expires, u.signature, t0 + 3600s) == v::valid);
}

TEST_CASE("a tampered media URL is refused", "[media][unit]") {
  auto signer = make_signer();
  auto u = parse(*signer.sign("PUT", "abc/profile_image.png", t0));
  using v = media_url_signer::verdict;
  SECTION("another object key") {
    CHECK(signer.verify("PUT", "abd/profile_image.png", u.expires, u.signature, t0)
          == v::bad_signature);
    CHECK(signer.verify("PUT", "abc/profile_image.jpg", u.expires, u.signature, t0)
          == v::bad_signature);
  }
  SECTION("a later expiry") {
    auto later = std::to_string(std::stoll(u.expires) + 86400);
    CHECK(signer.verify("PUT", u.object_key, later, u.signature, t0) == v::bad_signature);
  }
  SECTION("a flipped signature digit") {
    auto sig = u.signature;
    sig[10] = sig[10] == '0' ? '1' : '0';
    CHECK(signer.verify("PUT", u.object_key, u.expires, sig, t0) == v::bad_signature);
  }
  SECTION("malformed or missing parameters") {
    CHECK(signer.verify("PUT", u.object_key, u.expires, "", t0) == v::bad_signature);
    CHECK(signer.verify("PUT", u.object_key, u.expires, u.signature.substr(2), t0)
          == v::bad_signature);
    CHECK(signer.verify("PUT", u.object_key, u.expires, u.signature + "00", t0)
          == v::bad_signature);
    CHECK(signer.verify("PUT", u.object_key, u.expires,
                        std::string(64, 'z'), t0) == v::bad_signature);
    CHECK(signer.verify("PUT", u.object_key, "", u.signature, t0) == v::bad_signature);
    CHECK(signer.verify("PUT", u.object_key, "-1", u.signature, t0) == v::bad_signature);
    CHECK(signer.verify("PUT", u.object_key, u.expires + "x", u.signature, t0)
          == v::bad_signature);
  }
  SECTION("another key signed it") {
    media_url_signer other{"another-key", "https://media.example", "127.0.0.1", 3600s};
    CHECK(other.verify("PUT", u.object_key, u.expires, u.signature, t0) == v::bad_signature);
  }
}

TEST_CASE("a media URL signed for one method does not work for another", "[media][unit]") {
  auto signer = make_signer();
  auto put = parse(*signer.sign("PUT", "abc/profile_image.png", t0));
  auto get = parse(*signer.sign("GET", "abc/profile_image.png", t0));
  using v = media_url_signer::verdict;
  CHECK(signer.verify("GET", put.object_key, put.expires, put.signature, t0) == v::bad_signature);
  CHECK(signer.verify("PUT", get.object_key, get.expires, get.signature, t0) == v::bad_signature);
  CHECK(signer.verify("DELETE", put.object_key, put.expires, put.signature, t0)
        == v::bad_signature);
  CHECK(signer.verify("GET", get.object_key, get.expires, get.signature, t0) == v::valid);
}

TEST_CASE("a media URL past its expiry is expired, not valid", "[media][unit]") {
  auto signer = make_signer();
  auto u = parse(*signer.sign("GET", "abc/profile_image.png", t0));
  using v = media_url_signer::verdict;
  CHECK(signer.verify("GET", u.object_key, u.expires, u.signature, t0 + 3601s) == v::expired);
  // A forged URL is refused as forged whatever its expiry.
  CHECK(signer.verify("GET", u.object_key, u.expires, std::string(64, '0'), t0 + 3601s)
        == v::bad_signature);
}

TEST_CASE("without a public URL media URLs name the bound port once it is known",
          "[media][unit]") {
  media_url_signer v4{"k", "", "127.0.0.1", 60s};
  CHECK_FALSE(v4.sign("GET", "a/profile_image.png", t0));
  v4.set_port(8123);
  CHECK(parse(*v4.sign("GET", "a/profile_image.png", t0)).base == "http://127.0.0.1:8123");
  media_url_signer v6{"k", "", "::1", 60s};
  v6.set_port(9000);
  CHECK(parse(*v6.sign("GET", "a/profile_image.png", t0)).base == "http://[::1]:9000");
}

// -- safe names for hostile user ids ------------------------------------------------

TEST_CASE("hostile user ids become safe directory names", "[media][unit]") {
  std::vector<std::string> hostile = {
    "..", ".", "../../etc/passwd", "a/../../b", "/absolute", "with\\backslash",
    std::string{"nul\0byte", 8}, "%2e%2e", "~", "~2E~2E", "spaces and\nnewline",
    "\xC3\xA9t\xC3\xA9", "google_1234567890", "2b7c8a7e-0f1d-4a54-9c83-3f1c5a1d9e11"};
  std::set<std::string> names;
  for (const auto& id : hostile) {
    auto name = persistence::media_dir_name(id);
    INFO("id: " << id << " -> " << name);
    CHECK(persistence::is_media_dir_name(name));
    CHECK(name != ".");
    CHECK(name != "..");
    CHECK(name.find('/') == std::string::npos);
    CHECK(name.find('.') == std::string::npos);
    CHECK(name.find('\0') == std::string::npos);
    CHECK(name.find('%') == std::string::npos);
    CHECK(name.size() <= 200);
    names.insert(name);
  }
  CHECK(names.size() == hostile.size());  // distinct ids, distinct directories
  // Plain ids stay readable.
  CHECK(persistence::media_dir_name("google_1234567890") == "google_1234567890");
  CHECK(persistence::media_dir_name("..") == "~2E~2E");
  CHECK(persistence::media_dir_name("a/b") == "a~2Fb");
}

TEST_CASE("very long user ids are hashed to a bounded name", "[media][unit]") {
  std::string long_a(128, '\xFF');  // 384 bytes once escaped
  std::string long_b = long_a;
  long_b.back() = '\xFE';
  auto a = persistence::media_dir_name(long_a);
  auto b = persistence::media_dir_name(long_b);
  CHECK(a.size() == 66);
  CHECK(a.rfind("~~", 0) == 0);
  CHECK(a != b);
  CHECK(persistence::is_media_dir_name(a));
  // Just at the limit an id stays plain.
  CHECK(persistence::media_dir_name(std::string(200, 'x')) == std::string(200, 'x'));
}

TEST_CASE("only names media_dir_name can produce are accepted", "[media][unit]") {
  for (auto bad : {"", ".", "..", "a/b", "a.b", "%2E", "~", "~2", "~zz", "~2e", "a~", "~~abc",
                   "a\\b"})
    CHECK_FALSE(persistence::is_media_dir_name(bad));
  CHECK_FALSE(persistence::is_media_dir_name(std::string(201, 'x')));
  CHECK(persistence::is_media_dir_name("abc-DEF_123~2F~00"));
}

// -- content checks -------------------------------------------------------------------

TEST_CASE("image formats come from magic bytes, not from labels", "[media][unit]") {
  CHECK(persistence::sniff_image(png_bytes) == image_format::png);
  CHECK(persistence::sniff_image(jpeg_bytes) == image_format::jpeg);
  CHECK(persistence::sniff_image("GIF89a...") == image_format::unknown);
  CHECK(persistence::sniff_image("") == image_format::unknown);
  CHECK(persistence::sniff_image(png_bytes.substr(0, 7)) == image_format::unknown);
  CHECK(persistence::sniff_image(std::string{"\xFF\xD8", 2}) == image_format::unknown);
  CHECK(persistence::sniff_image("<svg onload=alert(1)>") == image_format::unknown);
}

TEST_CASE("extensions and content types map to image formats", "[media][unit]") {
  CHECK(persistence::format_of_extension("png") == image_format::png);
  CHECK(persistence::format_of_extension("jpeg") == image_format::jpeg);
  CHECK(persistence::format_of_extension("jpg") == image_format::jpeg);
  CHECK(persistence::format_of_extension("gif") == image_format::unknown);
  CHECK(persistence::format_of_extension("PNG") == image_format::unknown);
  CHECK(parse_image_ext("PNG") == std::optional<std::string>{"png"});
  CHECK(parse_image_ext("jpg") == std::optional<std::string>{"jpg"});
  CHECK_FALSE(parse_image_ext("svg"));
  CHECK_FALSE(parse_image_ext(""));
  CHECK_FALSE(parse_image_ext("png/../x"));
  CHECK(format_of_content_type("image/png") == image_format::png);
  CHECK(format_of_content_type(" Image/JPEG ; charset=binary") == image_format::jpeg);
  CHECK(format_of_content_type("image/jpg") == image_format::jpeg);
  CHECK(format_of_content_type("image/svg+xml") == image_format::unknown);
  CHECK(format_of_content_type("") == image_format::unknown);
  CHECK(std::string{persistence::content_type_of(image_format::jpeg)} == "image/jpeg");
}

TEST_CASE("invitation addresses are checked plainly", "[media][unit]") {
  for (auto ok : {"friend@example.com", "a.b+tag@sub.example.co.uk", "x@d\xC3\xA9.fr"})
    CHECK(text::deliverable_email(ok));
  for (auto bad : {"", "plain", "@example.com", "a@", "a@b", "a@@b.com", "a@b@c.com",
                   "a b@example.com", "a@exa mple.com", ".a@example.com", "a..b@example.com",
                   "a@example..com", "a@-example.com", "a@example.com.", "<a>@example.com",
                   "a@exam_ple.com"})
    CHECK_FALSE(text::deliverable_email(bad));
  CHECK_FALSE(text::deliverable_email(std::string(65, 'a') + "@example.com"));
  CHECK_FALSE(text::deliverable_email("a@" + std::string(250, 'b') + ".com"));
}

// -- the store on a real directory ----------------------------------------------------------

TEST_CASE("the media store writes, replaces, reads and removes images", "[media][unit]") {
  temp_dir dir;
  persistence::media_session store{dir.path.string()};
  media_key png{persistence::media_dir_name("../u1"), "png"};
  media_key jpg{png.owner_dir, "jpg"};

  CHECK(code_of(store.get(png).error()) == errc::not_found);
  REQUIRE(store.put(png, png_bytes));
  CHECK(read_file(dir.path / "~2E~2E~2Fu1" / "profile_image.png") == png_bytes);
  CHECK(*store.get(png) == png_bytes);

  // A new image of another format replaces the old one: one image per user.
  REQUIRE(store.put(jpg, jpeg_bytes));
  CHECK(code_of(store.get(png).error()) == errc::not_found);
  CHECK(*store.get(jpg) == jpeg_bytes);
  // No temporary file is left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path / png.owner_dir))
    ++entries;
  CHECK(entries == 1);
  CHECK(std::filesystem::is_empty(dir.path / ".partial"));

  CHECK(*store.remove(jpg) == true);
  CHECK(*store.remove(jpg) == false);
  CHECK(code_of(store.get(jpg).error()) == errc::not_found);
}

TEST_CASE("the media store refuses keys that are not its own", "[media][unit]") {
  temp_dir dir;
  persistence::media_session store{dir.path.string()};
  for (auto key : {media_key{"..", "png"}, media_key{"a/b", "png"}, media_key{"ok", "gif"},
                   media_key{"ok", "png/../../x"}}) {
    CHECK(code_of(store.put(key, png_bytes).error()) == errc::invalid_request);
    CHECK(code_of(store.get(key).error()) == errc::invalid_request);
    CHECK(code_of(store.remove(key).error()) == errc::invalid_request);
  }
  CHECK(std::filesystem::is_empty(dir.path));
}

TEST_CASE("preparing the media directory creates it or fails clearly", "[media][unit]") {
  temp_dir dir;
  auto nested = dir.path / "a" / "b";
  persistence::prepare_media_dir(nested.string());
  CHECK(std::filesystem::is_directory(nested));
  auto file = dir.path / "file";
  std::ofstream{file} << "x";
  CHECK_THROWS_WITH(persistence::prepare_media_dir(file.string()),
                    Catch::Contains("media.dir") && Catch::Contains("file"));
  CHECK_THROWS_WITH(persistence::prepare_media_dir((file / "sub").string()),
                    Catch::Contains("cannot create"));
}

TEST_CASE("preparing the media directory removes what a crash left of uploads", "[media][unit]") {
  temp_dir dir;
  std::filesystem::create_directories(dir.path / ".partial");
  std::ofstream{dir.path / ".partial" / "123"} << "the first half of an image";
  std::filesystem::create_directories(dir.path / "u1");
  std::ofstream{dir.path / "u1" / "profile_image.png"} << "an image";
  persistence::prepare_media_dir(dir.path.string());
  CHECK(std::filesystem::is_empty(dir.path / ".partial"));
  CHECK(read_file(dir.path / "u1" / "profile_image.png") == "an image");
}
