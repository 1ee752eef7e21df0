#include "text/text.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <cstdint>

namespace shoplist::text {
namespace {

icu::UnicodeString FromUtf8(absl::string_view s) {
  return icu::UnicodeString::fromUTF8(
      icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
}

std::string ToUtf8(const icu::UnicodeString& u) {
  std::string out;
  u.toUTF8String(out);
  return out;
}

bool IsAscii(absl::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// ASCII White_Space: tab, newline, vertical tab, form feed, return, space
// (U+001C..U+001F are not White_Space).
bool IsAsciiSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::string CollapseAscii(absl::string_view s, bool lower) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (char c : s) {
    if (IsAsciiSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(lower && c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32)
                                                : c);
  }
  return out;
}

icu::UnicodeString Nfc(const icu::UnicodeString& u) {
  UErrorCode error = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(error);
  if (U_FAILURE(error)) return u;
  icu::UnicodeString out = nfc->normalize(u, error);
  return U_FAILURE(error) ? u : out;
}

icu::UnicodeString CollapseUnicode(const icu::UnicodeString& in) {
  icu::UnicodeString out;
  bool pending_space = false;
  for (int32_t i = 0; i < in.length();) {
    const UChar32 c = in.char32At(i);
    i = in.moveIndex32(i, 1);
    if (u_isUWhiteSpace(c)) {
      pending_space = !out.isEmpty();
      continue;
    }
    if (pending_space) out.append(static_cast<UChar>(' '));
    pending_space = false;
    out.append(c);
  }
  return out;
}

}  // namespace

std::string TrimSpace(absl::string_view s) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(s.data());
  const int32_t length = static_cast<int32_t>(s.size());
  int32_t begin = 0;
  while (begin < length) {
    int32_t next = begin;
    UChar32 c;
    U8_NEXT(bytes, next, length, c);
    if (c < 0 || !u_isUWhiteSpace(c)) break;
    begin = next;
  }
  int32_t end = length;
  while (end > begin) {
    int32_t previous = end;
    UChar32 c;
    U8_PREV(bytes, begin, previous, c);
    if (c < 0 || !u_isUWhiteSpace(c)) break;
    end = previous;
  }
  return std::string(s.substr(begin, end - begin));
}

std::string CleanSpace(absl::string_view s) {
  if (IsAscii(s)) return CollapseAscii(s, /*lower=*/false);
  return ToUtf8(Nfc(CollapseUnicode(FromUtf8(s))));
}

std::string ItemKey(absl::string_view s) {
  if (IsAscii(s)) return CollapseAscii(s, /*lower=*/true);
  // Canonical caseless matching: fold a decomposed string, then compose.
  // Folding a composed string again can change it (U+0345 and the like),
  // so repeat to a fixed point: a key is its own key.
  UErrorCode error = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(error);
  icu::UnicodeString u = CollapseUnicode(FromUtf8(s));
  for (int round = 0; round < 4; ++round) {
    icu::UnicodeString folded = u;
    if (U_SUCCESS(error)) folded = nfd->normalize(folded, error);
    folded.foldCase();
    folded = Nfc(folded);
    if (folded == u) break;
    u = std::move(folded);
  }
  return ToUtf8(u);
}

bool IsItemKey(absl::string_view s) {
  if (!IsAscii(s)) return ItemKey(s) == s;
  char previous = ' ';  // no leading blank
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return false;
    if (IsAsciiSpace(c) && (c != ' ' || previous == ' ')) return false;
    previous = c;
  }
  return previous != ' ' || s.empty();
}

std::string FoldCase(absl::string_view s) {
  icu::UnicodeString unicode = FromUtf8(s);
  unicode.foldCase();
  return ToUtf8(unicode);
}

}  // namespace shoplist::text
