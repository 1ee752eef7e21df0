#include "ring/ring.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ring/stable_hash.h"

namespace shoplist::ring {
namespace {

bool ById(const Member& a, const Member& b) { return a.id < b.id; }

}  // namespace

bool RangeContains(const TokenRange& range, uint64_t position) {
  const auto [start, end] = range;
  if (start < end) return start < position && position <= end;
  if (start > end) return position > start || position <= end;
  return true;  // the whole ring
}

Ring::Ring(std::vector<Member> members, uint32_t vnodes)
    : vnodes_(std::max<uint32_t>(vnodes, 1)) {
  // Stable, so among equal ids the input order survives and the last of a
  // run is the last occurrence.
  std::stable_sort(members.begin(), members.end(), ById);
  for (Member& m : members) {
    if (!members_.empty() && members_.back().id == m.id) {
      members_.back() = std::move(m);
    } else {
      members_.push_back(std::move(m));
    }
  }

  tokens_.reserve(members_.size() * vnodes_);
  for (uint32_t m = 0; m < members_.size(); ++m) {
    const std::string prefix = absl::StrCat(members_[m].id, "#");
    for (uint32_t i = 0; i < vnodes_; ++i) {
      tokens_.push_back({StableHash(absl::StrCat(prefix, i)), m});
    }
  }
  // members_ is sorted by id, so ordering by index breaks ties on id.
  std::sort(tokens_.begin(), tokens_.end(), [](const Token& a, const Token& b) {
    return a.value != b.value ? a.value < b.value : a.member < b.member;
  });
}

absl::StatusOr<Ring> Ring::Create(std::vector<Member> members,
                                  uint32_t vnodes) {
  if (vnodes == 0) {
    return absl::InvalidArgumentError("ring: vnodes must be at least 1");
  }
  std::vector<absl::string_view> ids;
  ids.reserve(members.size());
  for (const Member& m : members) {
    if (m.id.empty()) {
      return absl::InvalidArgumentError("ring: empty member id");
    }
    ids.push_back(m.id);
  }
  std::sort(ids.begin(), ids.end());
  if (auto it = std::adjacent_find(ids.begin(), ids.end()); it != ids.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ring: duplicate member id \"", *it, "\""));
  }
  return Ring(std::move(members), vnodes);
}

uint64_t Ring::KeyPosition(absl::string_view key) { return StableHash(key); }

size_t Ring::FirstTokenAt(uint64_t position) const {
  auto it =
      std::lower_bound(tokens_.begin(), tokens_.end(), position,
                       [](const Token& t, uint64_t p) { return t.value < p; });
  return it == tokens_.end() ? 0 : static_cast<size_t>(it - tokens_.begin());
}

void Ring::CollectDistinct(size_t start, size_t count,
                           MemberIndices* out) const {
  count = std::min(count, members_.size());
  for (size_t step = 0; step < tokens_.size() && out->size() < count; ++step) {
    const uint32_t m = tokens_[(start + step) % tokens_.size()].member;
    if (std::find(out->begin(), out->end(), m) == out->end()) {
      out->push_back(m);
    }
  }
}

std::vector<const Member*> Ring::Owners(absl::string_view key, size_t n) const {
  std::vector<const Member*> owners;
  if (tokens_.empty() || n == 0) return owners;
  MemberIndices walk;
  CollectDistinct(FirstTokenAt(KeyPosition(key)), n, &walk);
  owners.reserve(walk.size());
  for (uint32_t m : walk) owners.push_back(&members_[m]);
  return owners;
}

std::vector<Placement> Ring::PreferenceList(absl::string_view key,
                                            size_t n) const {
  std::vector<Placement> list;
  if (tokens_.empty() || n == 0) return list;
  const size_t start = FirstTokenAt(KeyPosition(key));

  MemberIndices owners;
  CollectDistinct(start, n, &owners);
  size_t down = 0;
  for (uint32_t m : owners) down += members_[m].up ? 0 : 1;

  // Stand-ins: the first up members past the owners, clockwise. The owners
  // are the first distinct members from `start`, so walking from `start`
  // again and skipping them continues the walk where they ended.
  MemberIndices stand_ins;
  MemberIndices seen = owners;
  for (size_t step = 0; step < tokens_.size() && stand_ins.size() < down &&
                        seen.size() < members_.size();
       ++step) {
    const uint32_t m = tokens_[(start + step) % tokens_.size()].member;
    if (std::find(seen.begin(), seen.end(), m) != seen.end()) continue;
    seen.push_back(m);
    if (members_[m].up) stand_ins.push_back(m);
  }

  list.reserve(owners.size());
  size_t next_stand_in = 0;
  for (uint32_t m : owners) {
    const Member& owner = members_[m];
    if (owner.up) {
      list.push_back({owner.id, owner.address, ""});
    } else if (next_stand_in < stand_ins.size()) {
      const Member& s = members_[stand_ins[next_stand_in++]];
      list.push_back({s.id, s.address, owner.id});
    }
  }
  return list;
}

std::vector<TokenRange> Ring::RangesOf(absl::string_view id, size_t n) const {
  std::vector<TokenRange> ranges;
  const Member* member = Find(id);
  if (member == nullptr || n == 0) return ranges;
  const auto index = static_cast<uint32_t>(member - members_.data());

  // Keys in (previous distinct token value, v] start their walk at the
  // first token of value v. Later tokens with the same value own nothing.
  uint64_t previous = tokens_.back().value;
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const uint64_t value = tokens_[t].value;
    if (t > 0 && value == tokens_[t - 1].value) continue;
    MemberIndices owners;
    CollectDistinct(t, n, &owners);
    if (std::find(owners.begin(), owners.end(), index) != owners.end()) {
      if (!ranges.empty() && ranges.back().second == previous) {
        ranges.back().second = value;
      } else {
        ranges.emplace_back(previous, value);
      }
    }
    previous = value;
  }
  // Join the last range to the first across the wrap. When that closes the
  // circle the result is (x, x], the whole ring.
  if (ranges.size() > 1 && ranges.back().second == ranges.front().first) {
    ranges.front().first = ranges.back().first;
    ranges.pop_back();
  }
  return ranges;
}

namespace {

// The fraction of the ring that `ranges` cover; (x, x] is all of it.
double Covered(const std::vector<TokenRange>& ranges) {
  constexpr double kPositions = 18446744073709551616.0;  // 2^64
  double covered = 0;
  for (const auto& [start, end] : ranges) {
    covered += start == end ? kPositions : static_cast<double>(end - start);
  }
  return covered / kPositions;
}

}  // namespace

std::vector<Share> Shares(const Ring& ring, size_t n) {
  std::vector<Share> shares;
  for (const Member& m : ring.members()) {
    shares.push_back(Share{m.id, Covered(ring.RangesOf(m.id, 1)),
                           Covered(ring.RangesOf(m.id, n))});
  }
  return shares;
}

const Member* Ring::Find(absl::string_view id) const {
  auto it = std::lower_bound(
      members_.begin(), members_.end(), id,
      [](const Member& m, absl::string_view i) { return m.id < i; });
  return it != members_.end() && it->id == id ? &*it : nullptr;
}

}  // namespace shoplist::ring
