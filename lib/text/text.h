// Text as people type it: Unicode-aware trimming and case folding for
// item names, titles and the names people give lists on the command line.
// Built on ICU (Debian's libicu), never on hand-made tables.
//
// Every function takes UTF-8 and returns UTF-8. Input that is not valid
// UTF-8 is handled without crashing: trimming stops at the first invalid
// byte, folding replaces invalid sequences with U+FFFD. Callers that must
// refuse invalid UTF-8 validate first (crdt::ValidateName).
//
// Thread-safe: no state.
#ifndef SHOPLIST_TEXT_TEXT_H_
#define SHOPLIST_TEXT_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace shoplist::text {

// `s` without leading and trailing Unicode White_Space (ASCII blanks,
// tabs and newlines, but also U+00A0 NO-BREAK SPACE, U+3000 IDEOGRAPHIC
// SPACE and the rest of the class): what a name pasted from a web page or
// typed with a stray blank means.
std::string TrimSpace(absl::string_view s);

// Full Unicode case folding ("Straße" and "STRASSE" fold alike), for
// matching without regard to case. Not for display.
std::string FoldCase(absl::string_view s);

}  // namespace shoplist::text

#endif  // SHOPLIST_TEXT_TEXT_H_
