// UTF-8 validation (RFC 3629): no overlong forms, no surrogates, nothing
// above U+10FFFF.
#ifndef SHOPLIST_CRDT_UTF8_H_
#define SHOPLIST_CRDT_UTF8_H_

#include "absl/strings/string_view.h"

namespace shoplist::crdt {

bool IsValidUtf8(absl::string_view text);

}  // namespace shoplist::crdt

#endif  // SHOPLIST_CRDT_UTF8_H_
