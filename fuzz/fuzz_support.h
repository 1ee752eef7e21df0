// Shared by the fuzz targets and the seed generator: invariant checks, the
// framing of inputs that hold several messages, and small fixed states.
#ifndef SHOPLIST_FUZZ_FUZZ_SUPPORT_H_
#define SHOPLIST_FUZZ_FUZZ_SUPPORT_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "codec/list_codec.h"
#include "crdt/list_state.h"
#include "shoplist/v1/types.pb.h"

// Stops the run when an invariant fails; libFuzzer reports the deadly
// signal and keeps the input.
#define FUZZ_CHECK(cond)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
                   __LINE__, #cond);                                  \
      __builtin_trap();                                               \
    }                                                                 \
  } while (0)

// Like FUZZ_CHECK for an absl::Status that must be OK; prints the error.
#define FUZZ_CHECK_OK(expr)                                              \
  do {                                                                   \
    const absl::Status fuzz_status = (expr);                             \
    if (!fuzz_status.ok()) {                                             \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, \
                   fuzz_status.ToString().c_str());                      \
      __builtin_trap();                                                  \
    }                                                                    \
  } while (0)

namespace shoplist::fuzz {

// An input holding several messages is a sequence of records: a tag byte,
// a 16-bit little-endian length, then that many bytes (what is left when
// fewer remain). Targets read the tag as the kind of request.
class RecordReader {
 public:
  RecordReader(const uint8_t* data, size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  bool Next(uint8_t& tag, std::string_view& bytes) {
    if (rest_.size() < 3) return false;
    tag = static_cast<uint8_t>(rest_[0]);
    size_t length = static_cast<uint8_t>(rest_[1]) |
                    size_t{static_cast<uint8_t>(rest_[2])} << 8;
    rest_.remove_prefix(3);
    bytes = rest_.substr(0, length);
    rest_.remove_prefix(bytes.size());
    return true;
  }

 private:
  std::string_view rest_;
};

inline void AppendRecord(std::string& out, uint8_t tag,
                         std::string_view bytes) {
  bytes = bytes.substr(0, 0xffff);
  out.push_back(static_cast<char>(tag));
  out.push_back(static_cast<char>(bytes.size() & 0xff));
  out.push_back(static_cast<char>(bytes.size() >> 8));
  out.append(bytes);
}

inline constexpr crdt::ReplicaId kAlice = 0xA11CE;
inline constexpr crdt::ReplicaId kBob = 0xB0B;
inline constexpr crdt::ReplicaId kCarol = 0xCA201;
inline constexpr uint64_t kNowMicros = 1'700'000'000'000'000;

// A list two writers changed: a title, items on and off the list, a
// removal's resets, a cloud dot (Carol's reserved counter skips 1..4),
// display names, a note, categories, an aisle order and writers' names.
inline crdt::ListState SampleList() {
  crdt::Writer alice(kAlice), bob(kBob);
  alice.now_micros = kNowMicros;
  alice.name = "Alice";
  bob.now_micros = kNowMicros + 5;
  bob.name = "Bob";
  crdt::ListState list;
  (void)list.Create(alice, "groceries", kNowMicros);
  (void)list.Add(alice, "Milk", 3);
  (void)list.Add(bob, "milk", 1);
  (void)list.Add(bob, "tea", 2, "Drinks");
  (void)list.Buy(alice, "milk", 2);
  (void)list.SetNote(alice, "milk", "the blue one, 2% fat");
  (void)list.SetCategory(bob, "milk", "Dairy");
  (void)list.SetAisles(alice, {"Dairy", "Drinks"});
  (void)list.RemoveItem(kBob, "tea");
  (void)list.Add(crdt::Writer(kCarol, 5), "bread", 1);
  return list;
}

// What another replica made of SampleList() concurrently.
inline crdt::ListState ConcurrentList() {
  crdt::ListState list = SampleList();
  (void)list.Add(kBob, "tea", 1);
  (void)list.Remove(kAlice, "milk", 1);
  (void)list.Rename(kCarol, "weekend", kNowMicros + 1);
  return list;
}

inline crdt::ListState Merged(crdt::ListState a, const crdt::ListState& b) {
  a.Merge(b);
  return a;
}

inline std::string Encoded(const crdt::ListState& state) {
  v1::ListState message;
  codec::EncodeState(state, &message);
  return message.SerializeAsString();
}

// What a peer gets on the wire must decode to the same state and encode
// to the same bytes (equal states encode equally).
inline void CheckRoundTrip(const crdt::ListState& state) {
  const std::string bytes = Encoded(state);
  v1::ListState parsed;
  FUZZ_CHECK(parsed.ParseFromString(bytes));
  absl::StatusOr<crdt::ListState> decoded = codec::DecodeState(parsed);
  FUZZ_CHECK_OK(decoded.status());
  FUZZ_CHECK(*decoded == state);
  FUZZ_CHECK(Encoded(*decoded) == bytes);
}

// Views show visible items sorted by name, with quantities of at least 0.
inline void CheckView(const crdt::ListState& state) {
  const crdt::ListView view = state.View();
  FUZZ_CHECK(view.deleted == state.deleted());
  std::set<std::string> keys;
  for (size_t i = 0; i < view.items.size(); ++i) {
    FUZZ_CHECK(view.items[i].wanted >= 0 && view.items[i].bought >= 0);
    FUZZ_CHECK(keys.insert(view.items[i].key).second);
    // Display order: what is still to buy before what is done.
    FUZZ_CHECK(i == 0 || view.items[i - 1].done() <= view.items[i].done());
  }
  FUZZ_CHECK(view.items.size() == state.VisibleItems());
}

}  // namespace shoplist::fuzz

#endif  // SHOPLIST_FUZZ_FUZZ_SUPPORT_H_
