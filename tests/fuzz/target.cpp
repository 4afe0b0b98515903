#include "target.h"

#include <string_view>

#include "prng.h"

namespace fuzz {

namespace {

// Words of a refusal that describe it rather than echo the input.
constexpr size_t kFeatureWords = 8;

// Letters and the punctuation of messages; anything else (control bytes, non-ASCII, '=', '|', ...) is echoed input.
bool plain_word(const std::string& word) {
  for (const char c : word) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!letter && std::string_view("()-_.,:/").find(c) == std::string_view::npos) return false;
  }
  return !word.empty();
}

}  // namespace

std::string message_feature(const char* message) {
  // Quoted and bracketed text (names, paths, values, shapes) and digits go first.
  std::string stripped;
  char closing = '\0';  // inside '...', "..." or [...]: skipped up to this character
  for (const char* p = message; *p != '\0'; ++p) {
    const char c = *p;
    if (closing != '\0') {
      if (c == closing) closing = '\0';
      continue;
    }
    if (c == '\'' || c == '"') {
      closing = c;
      continue;
    }
    if (c == '[') {
      closing = ']';
      continue;
    }
    if (c < '0' || c > '9') stripped += c;
  }
  // Some messages echo the input unquoted ("unterminated string <line>"): keep the first few plain words, so that
  // random bytes cannot make every refusal new.
  std::string feature;
  size_t words = 0;
  size_t start = 0;
  while (start < stripped.size() && words < kFeatureWords) {
    size_t end = stripped.find(' ', start);
    if (end == std::string::npos) end = stripped.size();
    const std::string word = stripped.substr(start, end - start);
    if (plain_word(word)) {
      feature += (feature.empty() ? "" : " ") + word;
      ++words;
    }
    start = end + 1;
  }
  return feature;
}

uint64_t input_hash(const Bytes& input) { return fnv1a(input.data(), input.size()); }

}  // namespace fuzz
