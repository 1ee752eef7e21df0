#include "crdt/list_id.h"

#ifdef __EMSCRIPTEN__
#include <unistd.h>  // getentropy
#else
#include <sys/random.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace shoplist::crdt {
namespace {

constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

// Up to `size` random bytes into `p`: how many, or -1 with errno set.
#ifdef __EMSCRIPTEN__
// Emscripten has no getrandom(); its getentropy() asks the browser's or
// Node's crypto.getRandomValues, at most 256 bytes a call.
ssize_t ReadRandom(uint8_t* p, size_t size) {
  size = std::min<size_t>(size, 256);
  return getentropy(p, size) == 0 ? static_cast<ssize_t>(size) : -1;
}
#else
ssize_t ReadRandom(uint8_t* p, size_t size) { return getrandom(p, size, 0); }
#endif

}  // namespace

absl::Status FillRandom(void* buffer, size_t size) {
  auto* p = static_cast<uint8_t*>(buffer);
  while (size > 0) {
    ssize_t n = ReadRandom(p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(
          absl::StrCat("getrandom failed: ", std::strerror(errno)));
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NewListId() {
  std::array<uint8_t, 16> bytes;
  if (absl::Status s = FillRandom(bytes.data(), bytes.size()); !s.ok()) {
    return s;
  }
  return SpellId(bytes);
}

std::string SpellId(const std::array<uint8_t, 16>& bits) {
  std::string id;
  id.reserve(kListIdLength);
  // 128 bits in 5-bit groups: 25 full groups and a last group of 3 bits.
  uint32_t buffer = 0;
  int shift = 0;
  for (uint8_t b : bits) {
    buffer = (buffer << 8) | b;
    shift += 8;
    while (shift >= 5) {
      id.push_back(kAlphabet[(buffer >> (shift - 5)) & 31]);
      shift -= 5;
    }
  }
  id.push_back(kAlphabet[(buffer << (5 - shift)) & 31]);
  return id;
}

absl::Status ValidateListId(absl::string_view id) {
  if (id.size() != kListIdLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "list id must be ", kListIdLength, " characters, got ", id.size()));
  }
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) {
      return absl::InvalidArgumentError("list id may contain only a-z and 2-7");
    }
  }
  // The last character carries 3 bits followed by 2 zero bits.
  if ((std::strchr(kAlphabet, id.back()) - kAlphabet) & 3) {
    return absl::InvalidArgumentError("list id is not canonical base32");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> NewReplicaId() {
  uint64_t id = 0;
  while (id == 0) {
    if (absl::Status s = FillRandom(&id, sizeof id); !s.ok()) return s;
  }
  return id;
}

}  // namespace shoplist::crdt
