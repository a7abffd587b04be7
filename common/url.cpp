#include "common/url.hpp"

#include "common/text.hpp"

// Boost.URL's compiled part, built into this one translation unit (header-only mode).
#include <boost/url/src.hpp>

#include <boost/url/encode.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

namespace tandem::url {

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  auto encoded = boost::urls::make_pct_string_view(in);
  if (!encoded)
    return std::nullopt;
  boost::urls::encoding_opts opts;
  opts.space_as_plus = plus_is_space;
  auto out = encoded->decode(opts);
  if (text::check(out) != text::fault::none)
    return std::nullopt;
  return out;
}

std::string encode_path(std::string_view path) {
  static constexpr auto plain = boost::urls::unreserved_chars + '/';
  return boost::urls::encode(path, plain);
}

} // namespace tandem::url
