// SortKeys for the WebAssembly build, which has no ICU collation data: the
// JavaScript engine's Intl.Collator for the root locale ("und", default
// tertiary strength) sorts each batch in one call, and each name's key is
// its rank, 4 bytes big-endian, so that memcmp orders keys as the collator
// orders names. Names it compares equal share a rank.
#include <emscripten/emscripten.h>

#include <cstdint>

#include "text/text.h"

// ranks[i] := the dense rank of the i-th name; the names are the UTF-8
// bytes of text[ends[i-1], ends[i]) (ends[-1] = 0). Malformed UTF-8 reads
// as U+FFFD, as in the rest of lib/text.
EM_JS(void, shoplist_collation_ranks,
      (const char* text, const uint32_t* ends, uint32_t count, uint32_t* ranks),
      {
        var collator = Module["shoplistCollator"] ||
                       (Module["shoplistCollator"] = new Intl.Collator("und"));
        var decoder = new TextDecoder();
        var names = new Array(count);
        var order = new Array(count);
        var start = text;
        for (var i = 0; i < count; i++) {
          var end = text + HEAPU32[(ends >> 2) + i];
          names[i] = decoder.decode(HEAPU8.subarray(start, end));
          order[i] = i;
          start = end;
        }
        order.sort(
            function(a, b) { return collator.compare(names[a], names[b]); });
        var rank = 0;
        for (var k = 0; k < count; k++) {
          if (k > 0 &&
              collator.compare(names[order[k - 1]], names[order[k]]) != 0) {
            rank++;
          }
          HEAPU32[(ranks >> 2) + order[k]] = rank;
        }
      });

namespace shoplist::text {

std::vector<std::string> SortKeys(absl::Span<const absl::string_view> names) {
  std::string text;
  std::vector<uint32_t> ends;
  ends.reserve(names.size());
  for (absl::string_view name : names) {
    text.append(name.data(), name.size());
    ends.push_back(static_cast<uint32_t>(text.size()));
  }
  std::vector<uint32_t> ranks(names.size());
  if (!names.empty()) {
    shoplist_collation_ranks(text.data(), ends.data(),
                             static_cast<uint32_t>(names.size()), ranks.data());
  }
  std::vector<std::string> keys;
  keys.reserve(names.size());
  for (uint32_t rank : ranks) {
    const char key[4] = {static_cast<char>(rank >> 24),
                         static_cast<char>(rank >> 16),
                         static_cast<char>(rank >> 8), static_cast<char>(rank)};
    keys.emplace_back(key, sizeof key);
  }
  return keys;
}

}  // namespace shoplist::text
