// Which backup sets `shoplist-admin backup-all --keep` deletes, and the
// names sets have.
#include "clients/admin/backup_sets.h"

#include <algorithm>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoplist::admin {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(BackupSetsTest, NamesSortAsTimesAndParseBack) {
  const absl::Time t = absl::FromUnixSeconds(1796515200);  // 2026-12-06
  EXPECT_EQ(BackupSetName(t), "20261206T000000Z");
  EXPECT_LT(BackupSetName(t), BackupSetName(t + absl::Seconds(1)));
  EXPECT_LT(BackupSetName(t + absl::Hours(23)),
            BackupSetName(t + absl::Hours(25)));
  EXPECT_TRUE(IsBackupSetName("20261206T000000Z"));
  EXPECT_FALSE(IsBackupSetName("20261206T000000"));
  EXPECT_FALSE(IsBackupSetName("20261306T000000Z"));  // month 13
  EXPECT_FALSE(IsBackupSetName("lost+found"));
  EXPECT_FALSE(IsBackupSetName(""));
}

TEST(BackupSetsTest, KeepsTheNewestCompleteSetsAndWhatIsNewer) {
  // Oldest to newest: c = complete, p = partial (a node failed).
  std::vector<BackupSet> sets = {
      {"20261201T000000Z", true},  {"20261202T000000Z", false},
      {"20261203T000000Z", true},  {"20261204T000000Z", true},
      {"20261205T000000Z", false}, {"20261206T000000Z", true},
  };
  EXPECT_THAT(
      BackupSetsToRemove(sets, 2),
      ElementsAre("20261201T000000Z", "20261202T000000Z", "20261203T000000Z"));
  EXPECT_THAT(BackupSetsToRemove(sets, 3),
              ElementsAre("20261201T000000Z", "20261202T000000Z"));
  EXPECT_THAT(
      BackupSetsToRemove(sets, 1),
      ElementsAre("20261201T000000Z", "20261202T000000Z", "20261203T000000Z",
                  "20261204T000000Z", "20261205T000000Z"));
  // Order of the input does not matter; 0 keeps one all the same.
  std::reverse(sets.begin(), sets.end());
  EXPECT_EQ(BackupSetsToRemove(sets, 0), BackupSetsToRemove(sets, 1));
}

TEST(BackupSetsTest, NeverDeletesWithoutEnoughCompleteSetsOrOtherFolders) {
  // Failed runs only: nothing is old enough to go, however many there are.
  EXPECT_THAT(BackupSetsToRemove({{"20261201T000000Z", false},
                                  {"20261202T000000Z", false},
                                  {"20261203T000000Z", true}},
                                 2),
              IsEmpty());
  EXPECT_THAT(BackupSetsToRemove({{"lost+found", true},
                                  {"notes", false},
                                  {"20261201T000000Z", true},
                                  {"20261202T000000Z", true}},
                                 1),
              ElementsAre("20261201T000000Z"));
  EXPECT_THAT(BackupSetsToRemove({}, 3), IsEmpty());
}

TEST(BackupSetsTest, OnlyAMarkerThatSaysCompleteCounts) {
  const std::string ok = BackupSetMarker("20261206T000000Z", 7,
                                         {{"n1", "ok"}, {"n2", "ok"}}, true);
  EXPECT_TRUE(MarkerSaysComplete(ok));
  EXPECT_FALSE(MarkerSaysComplete(BackupSetMarker(
      "20261206T000000Z", 7, {{"n1", "ok"}, {"n2", "n2 is down"}}, false)));
  // Damaged, cut short or edited by hand: never a good set, never a crash.
  EXPECT_FALSE(MarkerSaysComplete(ok.substr(0, ok.size() / 2)));
  EXPECT_FALSE(MarkerSaysComplete(""));
  EXPECT_FALSE(MarkerSaysComplete("[true]"));
  EXPECT_FALSE(MarkerSaysComplete(R"({"complete": 1})"));
  EXPECT_FALSE(MarkerSaysComplete(R"({"complete": "true"})"));
  EXPECT_FALSE(MarkerSaysComplete(R"({"complete": null})"));
  EXPECT_TRUE(MarkerSaysComplete(R"({"complete": true})"));
}

}  // namespace
}  // namespace shoplist::admin
