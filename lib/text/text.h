// Text as people type it: Unicode-aware cleaning, matching keys and
// display order for item names, titles, categories and the names people
// give lists on the command line. Built on ICU (Debian's libicu), never on
// hand-made tables.
//
// Every function takes UTF-8 and returns UTF-8. Input that is not valid
// UTF-8 is handled without crashing: invalid sequences become U+FFFD (and
// TrimSpace stops at the first one). Callers that must refuse invalid
// UTF-8 validate first (crdt::ValidateName).
//
// Thread-safe: no shared mutable state (collators are per thread).
#ifndef SHOPLIST_TEXT_TEXT_H_
#define SHOPLIST_TEXT_TEXT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace shoplist::text {

// `s` without leading and trailing Unicode White_Space (ASCII blanks,
// tabs and newlines, but also U+00A0 NO-BREAK SPACE, U+3000 IDEOGRAPHIC
// SPACE and the rest of the class): what a name pasted from a web page or
// typed with a stray blank means.
std::string TrimSpace(absl::string_view s);

// A name as typed, tidied for display: Unicode NFC, trimmed, and every
// inner run of White_Space collapsed to one U+0020 SPACE. So "Oat \t milk"
// is "Oat milk", and an "é" typed as e + U+0301 is the one code point.
std::string CleanSpace(absl::string_view s);

// The key that makes one item of each thing: CleanSpace, then full case
// folding, then NFC ("  Milk", "milk" and "MILK" share the key "milk";
// "Straße" and "STRASSE" share "strasse"). Idempotent:
// ItemKey(ItemKey(s)) == ItemKey(s). ASCII input takes a fast path with
// the same result.
std::string ItemKey(absl::string_view s);

// Whether ItemKey(s) == s; fast for ASCII (no allocation).
bool IsItemKey(absl::string_view s);

// Full Unicode case folding ("Straße" and "STRASSE" fold alike), for
// matching without regard to case. Not for display.
std::string FoldCase(absl::string_view s);

// Keys to sort `names` by to show them as people expect: keys[i] belongs
// to names[i], and memcmp (std::string's <) orders the keys as the Unicode
// root collation orders the names (so "eggs" sorts before "Milk", and
// "Äpfel" next to "Apfel"); names that collate equal get equal keys.
// Keys compare only with keys of the same call: the WebAssembly build
// (collate_wasm.cc) asks the JavaScript engine's Intl.Collator once per
// call and numbers the names; the native one is SortKey of each name.
std::vector<std::string> SortKeys(absl::Span<const absl::string_view> names);

#ifndef __EMSCRIPTEN__
// A byte string whose memcmp order is the ICU root collation order of `s`,
// comparable with every other SortKey. Native only: the WebAssembly build
// has no ICU collation data (use SortKeys).
std::string SortKey(absl::string_view s);
#endif

}  // namespace shoplist::text

#endif  // SHOPLIST_TEXT_TEXT_H_
