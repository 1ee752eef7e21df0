// SortKey and SortKeys on ICU's root collator (libicu's i18n and its
// data): the native build. The WebAssembly build has collate_wasm.cc.
#include <unicode/coll.h>
#include <unicode/unistr.h>

#include <cstdint>
#include <memory>

#include "text/text.h"

namespace shoplist::text {

std::string SortKey(absl::string_view s) {
  // A collator is costly to make and not safe to share while in use.
  thread_local std::unique_ptr<icu::Collator> collator = [] {
    UErrorCode error = U_ZERO_ERROR;
    std::unique_ptr<icu::Collator> c(
        icu::Collator::createInstance(icu::Locale::getRoot(), error));
    return U_FAILURE(error) ? nullptr : std::move(c);
  }();
  if (collator == nullptr) return std::string(s);
  const icu::UnicodeString u = icu::UnicodeString::fromUTF8(
      icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  std::string key(64, '\0');
  int32_t n = collator->getSortKey(u, reinterpret_cast<uint8_t*>(key.data()),
                                   static_cast<int32_t>(key.size()));
  if (n > static_cast<int32_t>(key.size())) {
    key.resize(n);
    n = collator->getSortKey(u, reinterpret_cast<uint8_t*>(key.data()), n);
  }
  // The key ends in a NUL that memcmp order does not need.
  key.resize(n > 0 ? n - 1 : 0);
  return key;
}

std::vector<std::string> SortKeys(absl::Span<const absl::string_view> names) {
  std::vector<std::string> keys;
  keys.reserve(names.size());
  for (absl::string_view name : names) keys.push_back(SortKey(name));
  return keys;
}

}  // namespace shoplist::text
