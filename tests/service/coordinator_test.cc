// The coordinator against gMock'd replica peers and a real LevelDB store:
// each test decides when and how every replica answers.
#include "services/node/coordinator.h"

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "access/capability.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/node/hint_deliverer.h"
#include "tests/support/lists.h"
#include "tests/support/temp_dir.h"

namespace shoplist::node {
namespace {

using shoplist::testing::WantedOf;
using ::testing::_;
using ::testing::Invoke;
using ::testing::NiceMock;

class MockReplicaPeers : public ReplicaPeers {
 public:
  MOCK_METHOD(void, Store,
              (const std::string&, const v1::StoreRequest&, absl::Duration,
               StoreDone),
              (override));
  MOCK_METHOD(void, Fetch,
              (const std::string&, const v1::FetchRequest&, absl::Duration,
               FetchDone),
              (override));
  MOCK_METHOD(void, HandOff,
              (const std::string&, const v1::HandOffRequest&, absl::Duration,
               StoreDone),
              (override));
  MOCK_METHOD(void, GetDigests,
              (const std::string&, const v1::DigestRequest&, absl::Duration,
               DigestDone),
              (override));
};

class MockFailureSink : public FailureSink {
 public:
  MOCK_METHOD(void, ReportFailure, (const std::string&, const std::string&),
              (override));
};

struct PendingStore {
  std::string address;
  v1::StoreRequest request;
  ReplicaPeers::StoreDone done;
  bool finished = false;
};
struct PendingFetch {
  std::string address;
  v1::FetchRequest request;
  ReplicaPeers::FetchDone done;
  bool finished = false;
};

// Answers a captured call, as the network would.
void Complete(PendingStore* call, const grpc::Status& status) {
  ASSERT_NE(call, nullptr);
  ASSERT_FALSE(call->finished);
  call->finished = true;
  call->done(status);
}
void Complete(PendingFetch* call, const grpc::Status& status,
              const v1::FetchResponse& response) {
  ASSERT_NE(call, nullptr);
  ASSERT_FALSE(call->finished);
  call->finished = true;
  call->done(status, response);
}

constexpr crdt::ReplicaId kClient = 0xC11E47;
constexpr crdt::ReplicaId kOtherClient = 0x07E4;
// What a request without a secret proves: everything on an open list.
const access::SecretHash kOpen = access::HashSecret("");

crdt::ListState Delta(crdt::ListState& list, const std::string& item, int n,
                      crdt::ReplicaId writer = kClient) {
  return *list.Add(writer, item, n);
}

struct WriteOutcome {
  bool called = false;
  int calls = 0;
  absl::Status status;
  Coordinator::WriteResult result;
};

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<ring::Member> members;
    for (int i = 0; i < 5; ++i) {
      members.push_back({"n" + std::to_string(i),
                         "10.0.0." + std::to_string(i) + ":7000", true});
    }
    auto view = std::make_shared<RingView>();
    view->version = 7;
    view->ring = ring::Ring(members, 16);
    ring_ = std::make_unique<StaticRingSource>(view);

    list_id_ = *crdt::NewListId();
    for (const ring::Member* m : view->ring.Owners(list_id_, 5)) {
      walk_.push_back(m->id);
      address_of_[m->id] = m->address;
    }
    store_ = *storage::OpenLevelDbStore(dir_.Sub("db"));

    ON_CALL(peers_, Store(_, _, _, _))
        .WillByDefault(Invoke(
            [this](const std::string& address, const v1::StoreRequest& request,
                   absl::Duration, ReplicaPeers::StoreDone d) {
              stores_.push_back({address, request, std::move(d)});
            }));
    ON_CALL(peers_, Fetch(_, _, _, _))
        .WillByDefault(Invoke(
            [this](const std::string& address, const v1::FetchRequest& request,
                   absl::Duration, ReplicaPeers::FetchDone d) {
              fetches_.push_back({address, request, std::move(d)});
            }));
  }

  // The coordinator waits for its calls in flight: answer what a test
  // left pending, as their deadlines would.
  void TearDown() override {
    ::testing::Mock::VerifyAndClearExpectations(&failures_);
    // An answer may start new calls (a stand-in, a read repair): repeat
    // until none is left.
    grpc::Status cancelled(grpc::StatusCode::CANCELLED, "test over");
    for (bool answered = true; answered;) {
      answered = false;
      for (size_t i = 0; i < stores_.size(); ++i) {
        if (stores_[i].finished) continue;
        Complete(&stores_[i], cancelled);
        answered = true;
      }
      for (size_t i = 0; i < fetches_.size(); ++i) {
        if (fetches_[i].finished) continue;
        Complete(&fetches_[i], cancelled, v1::FetchResponse());
        answered = true;
      }
    }
    coordinator_.reset();
  }

  // Local writes commit on the store's commit thread: a synchronous merge
  // of another list queues behind them, so when it returns their callbacks
  // have run.
  void FlushLocalWrites() {
    ASSERT_TRUE(store_->Merge(barrier_id_, crdt::ListState()).ok());
  }

  // Answers every pending call with OK (a not-found for fetches) and
  // forgets all calls, so lookups find only later ones.
  void AnswerAllAndForget() {
    for (size_t i = 0; i < stores_.size(); ++i) {
      if (!stores_[i].finished) Complete(&stores_[i], grpc::Status::OK);
    }
    for (size_t i = 0; i < fetches_.size(); ++i) {
      if (!fetches_[i].finished) {
        Complete(&fetches_[i], grpc::Status::OK, v1::FetchResponse());
      }
    }
    stores_.clear();
    fetches_.clear();
  }

  // A coordinator running as the node at `position` of the key's walk
  // (0..2 are owners, 3..4 are not).
  Coordinator* MakeCoordinator(size_t position, size_t read_quorum = 2) {
    CoordinatorOptions options;
    options.self_id = walk_[position];
    options.read_quorum = read_quorum;
    coordinator_ = std::make_unique<Coordinator>(
        options, store_.get(), &peers_, ring_.get(), &health_, &failures_);
    return coordinator_.get();
  }

  // Finds the captured store sent to node `id`.
  PendingStore* StoreTo(const std::string& id) {
    for (auto& s : stores_) {
      if (s.address == address_of_[id]) return &s;
    }
    return nullptr;
  }
  PendingFetch* FetchTo(const std::string& id) {
    for (auto& f : fetches_) {
      if (f.address == address_of_[id]) return &f;
    }
    return nullptr;
  }
  // The fetch to `id` not answered yet (a digest read may ask twice).
  PendingFetch* OpenFetchTo(const std::string& id) {
    for (auto& f : fetches_) {
      if (f.address == address_of_[id] && !f.finished) return &f;
    }
    return nullptr;
  }

  shoplist::testing::TempDir dir_;
  std::unique_ptr<StaticRingSource> ring_;
  std::string list_id_;
  std::vector<std::string> walk_;  // nodes in clockwise order for list_id_
  std::map<std::string, std::string> address_of_;
  std::unique_ptr<storage::ReplicaStore> store_;
  std::unique_ptr<Coordinator> coordinator_;
  const std::string barrier_id_ = *crdt::NewListId();
  NiceMock<MockReplicaPeers> peers_;
  NiceMock<MockFailureSink> failures_;
  PeerHealth health_{absl::Seconds(30)};
  // Deques: answering a call may capture new ones without moving these.
  std::deque<PendingStore> stores_;
  std::deque<PendingFetch> fetches_;
  // Outcomes live in the fixture: calls still pending when a test body
  // ends are answered in TearDown, and their callbacks write here.
  WriteOutcome out_;
  absl::StatusOr<Coordinator::ReadResult> read_result_;
  int read_calls_ = 0;
  absl::StatusOr<Coordinator::ApplyResult> apply_result_;
  absl::StatusOr<Coordinator::SyncResult> sync_result_;
  int sync_calls_ = 0;
  absl::Status status_;
};

Coordinator::WriteDone Capture(WriteOutcome* out) {
  return [out](absl::Status status, Coordinator::WriteResult result) {
    out->called = true;
    ++out->calls;
    out->status = status;
    out->result = std::move(result);
  };
}

TEST_F(CoordinatorTest, WriteAnswersAtQuorumWithoutWaitingForTheSlowReplica) {
  auto coordinator = MakeCoordinator(0);
  crdt::ListState client;
  WriteOutcome& out = out_;
  // The answer is made of the list as stored here, right after its merge.
  coordinator->Write(list_id_, Delta(client, "milk", 2), std::nullopt,
                     Capture(&out),
                     [](const crdt::ListState& stored) { return stored; });
  FlushLocalWrites();
  // Fan-out went to both other owners at once, before any answered.
  ASSERT_EQ(stores_.size(), 2u);
  ASSERT_NE(StoreTo(walk_[1]), nullptr);
  ASSERT_NE(StoreTo(walk_[2]), nullptr);
  EXPECT_EQ(StoreTo(walk_[1])->request.intended_owner(), "");
  EXPECT_FALSE(out.called);

  Complete(StoreTo(walk_[1]), grpc::Status::OK);
  ASSERT_TRUE(out.called);
  EXPECT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(out.result.acks, 2u);
  ASSERT_TRUE(out.result.local.has_value());
  EXPECT_EQ(out.result.local->View().items.size(), 1u);

  // The straggler's late answer changes nothing.
  Complete(StoreTo(walk_[2]), grpc::Status::OK);
  EXPECT_EQ(out.calls, 1);
  // Stored durably here.
  EXPECT_TRUE(store_->Get(list_id_).ok());
}

TEST_F(CoordinatorTest, FailedReplicaIsReplacedByAStandInHoldingAHint) {
  auto coordinator = MakeCoordinator(0);
  EXPECT_CALL(failures_, ReportFailure(walk_[1], _));
  crdt::ListState client;
  WriteOutcome& out = out_;
  coordinator->Write(list_id_, Delta(client, "milk", 1), std::nullopt,
                     Capture(&out));
  FlushLocalWrites();
  Complete(StoreTo(walk_[1]),
           grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "timed out"));
  // The next healthy node past the owners takes the write for walk_[1].
  PendingStore* stand_in = StoreTo(walk_[3]);
  ASSERT_NE(stand_in, nullptr);
  EXPECT_EQ(stand_in->request.intended_owner(), walk_[1]);
  EXPECT_FALSE(out.called);
  Complete(stand_in, grpc::Status::OK);
  ASSERT_TRUE(out.called);
  EXPECT_TRUE(out.status.ok());
  EXPECT_EQ(out.result.acks, 2u);
  // The failed node is now avoided: the next write goes to the stand-in
  // straight away.
  AnswerAllAndForget();
  coordinator->Write(list_id_, Delta(client, "tea", 1), std::nullopt,
                     Capture(&out));
  FlushLocalWrites();
  EXPECT_EQ(StoreTo(walk_[1]), nullptr);
  ASSERT_NE(StoreTo(walk_[3]), nullptr);
  EXPECT_EQ(StoreTo(walk_[3])->request.intended_owner(), walk_[1]);
}

TEST_F(CoordinatorTest, WriteBelowQuorumIsUnavailableButKeepsWhatWasStored) {
  auto coordinator = MakeCoordinator(0);
  crdt::ListState client;
  WriteOutcome& out = out_;
  coordinator->Write(list_id_, Delta(client, "milk", 1), std::nullopt,
                     Capture(&out));
  FlushLocalWrites();
  grpc::Status down(grpc::StatusCode::UNAVAILABLE, "connection refused");
  Complete(StoreTo(walk_[1]), down);
  Complete(StoreTo(walk_[2]), down);
  // Both stand-ins were tried too.
  ASSERT_NE(StoreTo(walk_[3]), nullptr);
  ASSERT_NE(StoreTo(walk_[4]), nullptr);
  Complete(StoreTo(walk_[3]), down);
  EXPECT_FALSE(out.called);
  Complete(StoreTo(walk_[4]), down);
  ASSERT_TRUE(out.called);
  EXPECT_EQ(out.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(out.result.acks, 1u);
  EXPECT_TRUE(store_->Get(list_id_).ok());
}

TEST_F(CoordinatorTest, KnownDownOwnerGetsAStandInFromTheStart) {
  health_.RecordFailure(walk_[2]);
  auto coordinator = MakeCoordinator(0);
  crdt::ListState client;
  WriteOutcome& out = out_;
  coordinator->Write(list_id_, Delta(client, "milk", 1), std::nullopt,
                     Capture(&out));
  FlushLocalWrites();
  EXPECT_EQ(StoreTo(walk_[2]), nullptr);
  ASSERT_NE(StoreTo(walk_[3]), nullptr);
  EXPECT_EQ(StoreTo(walk_[3])->request.intended_owner(), walk_[2]);
}

TEST_F(CoordinatorTest, NonOwnerCoordinatesWithoutKeepingACopy) {
  auto coordinator = MakeCoordinator(4);
  crdt::ListState client;
  WriteOutcome& out = out_;
  bool answered = false;
  coordinator->Write(list_id_, Delta(client, "milk", 1), std::nullopt,
                     Capture(&out), [&](const crdt::ListState& stored) {
                       answered = true;
                       return stored;
                     });
  FlushLocalWrites();
  ASSERT_EQ(stores_.size(), 3u);
  Complete(StoreTo(walk_[0]), grpc::Status::OK);
  EXPECT_FALSE(out.called);
  Complete(StoreTo(walk_[2]), grpc::Status::OK);
  ASSERT_TRUE(out.called);
  EXPECT_TRUE(out.status.ok());
  EXPECT_FALSE(out.result.local.has_value());
  EXPECT_FALSE(answered);
  EXPECT_TRUE(absl::IsNotFound(store_->Get(list_id_).status()));
  Complete(StoreTo(walk_[1]), grpc::Status::OK);
}

v1::FetchResponse Found(const crdt::ListState& state) {
  v1::FetchResponse response;
  response.set_found(true);
  codec::EncodeState(state, response.mutable_state());
  return response;
}

TEST_F(CoordinatorTest, ReadMergesDivergentRepliesAndRepairsReplicas) {
  crdt::ListState here, there;
  ASSERT_TRUE(store_->Merge(list_id_, Delta(here, "milk", 1)).ok());
  Delta(there, "eggs", 6, kOtherClient);

  auto coordinator = MakeCoordinator(0);
  absl::StatusOr<Coordinator::ReadResult>& result = read_result_;
  int& calls = read_calls_;
  coordinator->Read(list_id_, std::nullopt,
                    [this](absl::StatusOr<Coordinator::ReadResult> r) {
                      read_result_ = std::move(r);
                      ++read_calls_;
                    });
  ASSERT_EQ(fetches_.size(), 2u);
  // Local answer (milk) plus one replica (eggs) make R=2.
  Complete(FetchTo(walk_[1]), grpc::Status::OK, Found(there));
  ASSERT_EQ(calls, 1);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->replies, 2u);
  EXPECT_EQ(result->state.View().items.size(), 2u);
  EXPECT_EQ(result->stored_digest, std::nullopt);  // not this node's copy
  // No repair until every replica answered.
  EXPECT_TRUE(stores_.empty());
  Complete(FetchTo(walk_[2]), grpc::Status::OK, v1::FetchResponse());
  EXPECT_EQ(calls, 1);

  // Every replica lacked something: walk_[1] gets milk, walk_[2] everything,
  // this node gets eggs.
  ASSERT_EQ(stores_.size(), 2u);
  auto items_of = [](const PendingStore* s) {
    std::vector<std::string> names;
    for (const auto& i : s->request.delta().items()) names.push_back(i.name());
    return names;
  };
  EXPECT_THAT(items_of(StoreTo(walk_[1])), ::testing::ElementsAre("milk"));
  EXPECT_THAT(items_of(StoreTo(walk_[2])),
              ::testing::ElementsAre("eggs", "milk"));
  EXPECT_EQ(store_->Get(list_id_)->View().items.size(), 2u);
}

TEST_F(CoordinatorTest,
       ReadThatMissesItsQuorumStillRepairsTheOwnersThatAnswered) {
  crdt::ListState here, there;
  ASSERT_TRUE(store_->Merge(list_id_, Delta(here, "milk", 1)).ok());
  Delta(there, "eggs", 6, kOtherClient);
  auto coordinator = MakeCoordinator(0, /*read_quorum=*/3);
  coordinator->Read(list_id_, std::nullopt,
                    [this](absl::StatusOr<Coordinator::ReadResult> r) {
                      read_result_ = std::move(r);
                      ++read_calls_;
                    });
  grpc::Status down(grpc::StatusCode::UNAVAILABLE, "down");
  // walk_[1] and both stand-ins for it fail; walk_[2] answers last.
  Complete(FetchTo(walk_[1]), down, v1::FetchResponse());
  Complete(FetchTo(walk_[3]), down, v1::FetchResponse());
  Complete(FetchTo(walk_[4]), down, v1::FetchResponse());
  // R=3 is out of reach: answered at once, but no repair until the last
  // replica answered.
  ASSERT_EQ(read_calls_, 1);
  EXPECT_EQ(read_result_.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(stores_.empty());
  Complete(FetchTo(walk_[2]), grpc::Status::OK, Found(there));
  EXPECT_EQ(read_calls_, 1);
  // Both owners that answered get what the other had.
  ASSERT_NE(StoreTo(walk_[2]), nullptr);
  ASSERT_EQ(StoreTo(walk_[2])->request.delta().items_size(), 1);
  EXPECT_EQ(StoreTo(walk_[2])->request.delta().items(0).name(), "milk");
  EXPECT_EQ(store_->Get(list_id_)->View().items.size(), 2u);
}

TEST_F(CoordinatorTest, ReadOfAnUnknownListIsNotFound) {
  auto coordinator = MakeCoordinator(0);
  absl::Status& status = status_;
  coordinator->Read(list_id_, std::nullopt,
                    [this](absl::StatusOr<Coordinator::ReadResult> r) {
                      status_ = r.status();
                    });
  Complete(FetchTo(walk_[1]), grpc::Status::OK, v1::FetchResponse());
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  Complete(FetchTo(walk_[2]), grpc::Status::OK, v1::FetchResponse());
  EXPECT_TRUE(stores_.empty());
}

TEST_F(CoordinatorTest, ReadWithoutQuorumIsUnavailable) {
  auto coordinator = MakeCoordinator(0);
  absl::Status& status = status_;
  coordinator->Read(list_id_, std::nullopt,
                    [this](absl::StatusOr<Coordinator::ReadResult> r) {
                      status_ = r.status();
                    });
  grpc::Status down(grpc::StatusCode::UNAVAILABLE, "down");
  Complete(FetchTo(walk_[1]), down, v1::FetchResponse());
  Complete(FetchTo(walk_[2]), down, v1::FetchResponse());
  Complete(FetchTo(walk_[3]), down, v1::FetchResponse());
  Complete(FetchTo(walk_[4]), down, v1::FetchResponse());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
}

TEST_F(CoordinatorTest, ReadThroughAStandInSeesTheHintsItHolds) {
  // walk_[3] stands in for the quarantined first owner and holds its hint.
  health_.RecordFailure(walk_[0]);
  crdt::ListState client;
  ASSERT_TRUE(
      store_->AddHint(walk_[0], list_id_, Delta(client, "milk", 1)).ok());
  auto coordinator = MakeCoordinator(3);
  coordinator->Read(list_id_, std::nullopt,
                    [this](absl::StatusOr<Coordinator::ReadResult> r) {
                      read_result_ = std::move(r);
                    });
  EXPECT_EQ(FetchTo(walk_[0]), nullptr);
  Complete(FetchTo(walk_[1]), grpc::Status::OK, v1::FetchResponse());
  ASSERT_TRUE(read_result_.ok()) << read_result_.status();
  ASSERT_EQ(read_result_->state.View().items.size(), 1u);
  EXPECT_EQ(read_result_->state.View().items[0].name, "milk");
  EXPECT_EQ(read_result_->stored_digest, std::nullopt);  // hints, not a copy
}

Coordinator::SyncDone CaptureSync(absl::StatusOr<Coordinator::SyncResult>* out,
                                  int* calls) {
  return [out, calls](absl::StatusOr<Coordinator::SyncResult> r) {
    *out = std::move(r);
    ++*calls;
  };
}

std::vector<std::string> NamesIn(const crdt::ListState& state) {
  std::vector<std::string> names;
  for (const auto& item : state.View().items) names.push_back(item.name);
  return names;
}

// What an owner answers to a digest fetch when it holds `bytes` (bytes
// that are no state stand for one whose digest matches nothing here).
v1::FetchResponse DigestOf(const storage::StoredList& stored) {
  v1::FetchResponse response;
  response.set_found(true);
  absl::StatusOr<std::string> digest = storage::StoredDigest(stored, "it");
  response.set_digest(digest.ok() ? *digest : std::string(32, 'x'));
  return response;
}
v1::FetchResponse DigestOf(std::string bytes) {
  return DigestOf(storage::StoredList{std::move(bytes), {}});
}

TEST_F(CoordinatorTest, ADigestReadOfOwnersInAgreementMovesOneState) {
  crdt::ListState here;
  ASSERT_TRUE(store_->Merge(list_id_, Delta(here, "milk", 1)).ok());
  const storage::StoredList stored = *store_->GetStored(list_id_);
  auto coordinator = MakeCoordinator(0);
  coordinator->Read(list_id_, std::nullopt,
                    [this](absl::StatusOr<Coordinator::ReadResult> r) {
                      read_result_ = std::move(r);
                      ++read_calls_;
                    });
  // The other owners are asked for digests only.
  ASSERT_EQ(fetches_.size(), 2u);
  for (const PendingFetch& f : fetches_) {
    EXPECT_TRUE(f.request.owner());
    EXPECT_TRUE(f.request.digest());
  }
  Complete(FetchTo(walk_[1]), grpc::Status::OK, DigestOf(stored));
  ASSERT_EQ(read_calls_, 1);
  ASSERT_TRUE(read_result_.ok()) << read_result_.status();
  EXPECT_EQ(read_result_->replies, 2u);
  EXPECT_EQ(NamesIn(read_result_->state), std::vector<std::string>{"milk"});
  // The answer is this node's copy as stored: its encoding may be reused.
  EXPECT_EQ(read_result_->stored_digest,
            *storage::StoredDigest(stored, "the list"));
  Complete(FetchTo(walk_[2]), grpc::Status::OK, DigestOf(stored));
  // Everyone holds the same: no second fetch, no repair.
  EXPECT_EQ(fetches_.size(), 2u);
  EXPECT_TRUE(stores_.empty());
  EXPECT_EQ(coordinator->read_digest_misses(), 0u);
}

TEST_F(CoordinatorTest,
       AnOwnerWhoseDigestDiffersIsAskedForItsStateAndRepaired) {
  crdt::ListState here, there;
  ASSERT_TRUE(store_->Merge(list_id_, Delta(here, "milk", 1)).ok());
  const storage::StoredList stored = *store_->GetStored(list_id_);
  Delta(there, "eggs", 6, kOtherClient);
  auto coordinator = MakeCoordinator(0);
  coordinator->Read(list_id_, std::nullopt,
                    [this](absl::StatusOr<Coordinator::ReadResult> r) {
                      read_result_ = std::move(r);
                      ++read_calls_;
                    });
  Complete(FetchTo(walk_[2]), grpc::Status::OK, DigestOf(stored));
  // walk_[1] holds something else: its digest is not an answer.
  v1::ListState other;
  codec::EncodeState(there, &other);
  Complete(FetchTo(walk_[1]), grpc::Status::OK,
           DigestOf(other.SerializeAsString()));
  EXPECT_EQ(coordinator->read_digest_misses(), 1u);
  // R=2 was met by this node and walk_[2], both with milk.
  ASSERT_EQ(read_calls_, 1);
  ASSERT_TRUE(read_result_.ok()) << read_result_.status();
  EXPECT_EQ(NamesIn(read_result_->state), std::vector<std::string>{"milk"});
  PendingFetch* again = OpenFetchTo(walk_[1]);
  ASSERT_NE(again, nullptr) << "the differing owner was not asked again";
  EXPECT_FALSE(again->request.digest());
  EXPECT_TRUE(stores_.empty()) << "repaired before every owner answered";
  Complete(again, grpc::Status::OK, Found(there));

  // walk_[1] lacked milk; walk_[2], which matched this node, lacked eggs
  // as this node did.
  ASSERT_NE(StoreTo(walk_[1]), nullptr);
  ASSERT_NE(StoreTo(walk_[2]), nullptr);
  auto names = [](const PendingStore* s) {
    std::vector<std::string> n;
    for (const auto& i : s->request.delta().items()) n.push_back(i.name());
    return n;
  };
  EXPECT_THAT(names(StoreTo(walk_[1])), ::testing::ElementsAre("milk"));
  EXPECT_THAT(names(StoreTo(walk_[2])), ::testing::ElementsAre("eggs"));
  EXPECT_EQ(store_->Get(list_id_)->View().items.size(), 2u);
}

// A caller that holds what it needs of this node's copy (a node's kept
// encodings) gets the read without the copy being decoded, while every
// answer is that copy.
TEST_F(CoordinatorTest, AReadOfACopyTheCallerHoldsOmitsTheState) {
  crdt::ListState here;
  ASSERT_TRUE(store_->Merge(list_id_, Delta(here, "milk", 1)).ok());
  const storage::StoredList stored = *store_->GetStored(list_id_);
  auto coordinator = MakeCoordinator(0);
  std::vector<std::string> asked;
  Coordinator::ReadOptions options;
  options.holds_copy = [&asked](absl::string_view digest) {
    asked.emplace_back(digest);
    return true;
  };
  coordinator->Read(
      list_id_, std::nullopt,
      [this](absl::StatusOr<Coordinator::ReadResult> r) {
        read_result_ = std::move(r);
        ++read_calls_;
      },
      options);
  EXPECT_EQ(asked, std::vector<std::string>{
                       *storage::StoredDigest(stored, "the list")});
  Complete(FetchTo(walk_[1]), grpc::Status::OK, DigestOf(stored));
  ASSERT_EQ(read_calls_, 1);
  ASSERT_TRUE(read_result_.ok()) << read_result_.status();
  EXPECT_TRUE(read_result_->state_omitted);
  EXPECT_EQ(read_result_->stored_digest,
            *storage::StoredDigest(stored, "the list"));
  EXPECT_EQ(read_result_->replies, 2u);
  EXPECT_TRUE(read_result_->state.View().items.empty());
  Complete(FetchTo(walk_[2]), grpc::Status::OK, DigestOf(stored));
  EXPECT_TRUE(stores_.empty());
}

// When another owner holds something else, the copy is decoded after all:
// the answer is the join, and read repair works as it does without, also
// when the difference shows only after the read was answered (the
// parameter: whether the differing owner answers first).
class HeldCopyReadTest : public CoordinatorTest,
                         public ::testing::WithParamInterface<bool> {};

TEST_P(HeldCopyReadTest, StillJoinsAndRepairsWhatDiffers) {
  const bool differs_first = GetParam();
  crdt::ListState here, there;
  ASSERT_TRUE(store_->Merge(list_id_, Delta(here, "milk", 1)).ok());
  const storage::StoredList stored = *store_->GetStored(list_id_);
  Delta(there, "eggs", 6, kOtherClient);
  auto coordinator = MakeCoordinator(0);
  Coordinator::ReadOptions options;
  options.holds_copy = [](absl::string_view) { return true; };
  coordinator->Read(
      list_id_, std::nullopt,
      [this](absl::StatusOr<Coordinator::ReadResult> r) {
        read_result_ = std::move(r);
        ++read_calls_;
      },
      options);
  if (!differs_first) {
    Complete(FetchTo(walk_[2]), grpc::Status::OK, DigestOf(stored));
    ASSERT_EQ(read_calls_, 1);
    ASSERT_TRUE(read_result_.ok()) << read_result_.status();
    EXPECT_TRUE(read_result_->state_omitted);
  }
  Complete(FetchTo(walk_[1]), grpc::Status::OK, DigestOf("other bytes"));
  Complete(OpenFetchTo(walk_[1]), grpc::Status::OK, Found(there));
  ASSERT_EQ(read_calls_, 1);
  if (differs_first) {
    ASSERT_TRUE(read_result_.ok()) << read_result_.status();
    EXPECT_FALSE(read_result_->state_omitted);
    EXPECT_EQ(read_result_->stored_digest, std::nullopt);
    EXPECT_EQ(NamesIn(read_result_->state),
              (std::vector<std::string>{"eggs", "milk"}));
    Complete(FetchTo(walk_[2]), grpc::Status::OK, DigestOf(stored));
  }
  // walk_[1] lacked milk, walk_[2] eggs (as this node did).
  ASSERT_NE(StoreTo(walk_[1]), nullptr);
  ASSERT_NE(StoreTo(walk_[2]), nullptr);
  ASSERT_EQ(StoreTo(walk_[1])->request.delta().items_size(), 1);
  EXPECT_EQ(StoreTo(walk_[1])->request.delta().items(0).name(), "milk");
  ASSERT_EQ(StoreTo(walk_[2])->request.delta().items_size(), 1);
  EXPECT_EQ(StoreTo(walk_[2])->request.delta().items(0).name(), "eggs");
  EXPECT_EQ(store_->Get(list_id_)->View().items.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Orders, HeldCopyReadTest, ::testing::Bool());

// An owner that lacks the list, answering after the read was answered from
// the held copy, is repaired with the whole list.
TEST_F(CoordinatorTest, AnOwnerWithoutTheListIsRepairedAfterAHeldCopyRead) {
  crdt::ListState here;
  ASSERT_TRUE(store_->Merge(list_id_, Delta(here, "milk", 1)).ok());
  const storage::StoredList stored = *store_->GetStored(list_id_);
  auto coordinator = MakeCoordinator(0);
  Coordinator::ReadOptions options;
  options.holds_copy = [](absl::string_view) { return true; };
  coordinator->Read(
      list_id_, std::nullopt,
      [this](absl::StatusOr<Coordinator::ReadResult> r) {
        read_result_ = std::move(r);
        ++read_calls_;
      },
      options);
  Complete(FetchTo(walk_[1]), grpc::Status::OK, DigestOf(stored));
  ASSERT_EQ(read_calls_, 1);
  ASSERT_TRUE(read_result_.ok()) << read_result_.status();
  EXPECT_TRUE(read_result_->state_omitted);
  Complete(FetchTo(walk_[2]), grpc::Status::OK, v1::FetchResponse());
  ASSERT_NE(StoreTo(walk_[2]), nullptr);
  ASSERT_EQ(StoreTo(walk_[2])->request.delta().items_size(), 1);
  EXPECT_EQ(StoreTo(walk_[2])->request.delta().items(0).name(), "milk");
  EXPECT_EQ(StoreTo(walk_[1]), nullptr);  // it matched: nothing to send
}

TEST_F(CoordinatorTest, ADigestReadAsksAStandInForItsStateWithHints) {
  crdt::ListState here;
  ASSERT_TRUE(store_->Merge(list_id_, Delta(here, "milk", 1)).ok());
  auto coordinator = MakeCoordinator(0);
  coordinator->Read(list_id_, std::nullopt,
                    [this](absl::StatusOr<Coordinator::ReadResult> r) {
                      read_result_ = std::move(r);
                    });
  // walk_[1] is down: its stand-in walk_[3] is asked for everything.
  Complete(FetchTo(walk_[1]),
           grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"),
           v1::FetchResponse());
  PendingFetch* stand_in = FetchTo(walk_[3]);
  ASSERT_NE(stand_in, nullptr);
  EXPECT_FALSE(stand_in->request.owner());
  EXPECT_FALSE(stand_in->request.digest());
}

TEST_F(CoordinatorTest, SyncThatChangesNothingIsOnlyARead) {
  crdt::ListState there;
  Delta(there, "eggs", 6, kOtherClient);
  auto coordinator = MakeCoordinator(0);
  coordinator->Sync(list_id_, crdt::ListState(), crdt::CausalContext(),
                    /*create=*/false, kOpen,
                    CaptureSync(&sync_result_, &sync_calls_));
  FlushLocalWrites();
  EXPECT_TRUE(stores_.empty());
  Complete(FetchTo(walk_[1]), grpc::Status::OK, Found(there));
  ASSERT_EQ(sync_calls_, 1);
  ASSERT_TRUE(sync_result_.ok()) << sync_result_.status();
  EXPECT_EQ(sync_result_->acks, 0u);
  EXPECT_THAT(NamesIn(sync_result_->missing), ::testing::ElementsAre("eggs"));
}

TEST_F(CoordinatorTest, SyncCreatingAListNoReplicaHoldsIsOk) {
  auto coordinator = MakeCoordinator(0);
  coordinator->Sync(list_id_, crdt::ListState(), crdt::CausalContext(),
                    /*create=*/true, kOpen,
                    CaptureSync(&sync_result_, &sync_calls_));
  Complete(FetchTo(walk_[1]), grpc::Status::OK, v1::FetchResponse());
  ASSERT_EQ(sync_calls_, 1);
  ASSERT_TRUE(sync_result_.ok()) << sync_result_.status();
  EXPECT_TRUE(sync_result_->missing.View().items.empty());

  // Without create, the same exchange is NOT_FOUND.
  coordinator->Sync(list_id_, crdt::ListState(), crdt::CausalContext(),
                    /*create=*/false, kOpen,
                    CaptureSync(&sync_result_, &sync_calls_));
  Complete(&fetches_.back(), grpc::Status::OK, v1::FetchResponse());
  Complete(&fetches_[fetches_.size() - 2], grpc::Status::OK,
           v1::FetchResponse());
  ASSERT_EQ(sync_calls_, 2);
  EXPECT_EQ(sync_result_.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CoordinatorTest, SyncOnAnOwnerAnswersFromItsMergedCopy) {
  crdt::ListState there;
  ASSERT_TRUE(
      store_->Merge(list_id_, Delta(there, "eggs", 6, kOtherClient)).ok());
  auto coordinator = MakeCoordinator(0);
  crdt::ListState client;
  crdt::ListState delta = Delta(client, "milk", 1);
  coordinator->Sync(list_id_, delta, client.context(), /*create=*/false, kOpen,
                    CaptureSync(&sync_result_, &sync_calls_));
  FlushLocalWrites();
  Complete(StoreTo(walk_[1]), grpc::Status::OK);
  ASSERT_EQ(sync_calls_, 1);
  ASSERT_TRUE(sync_result_.ok()) << sync_result_.status();
  EXPECT_EQ(sync_result_->acks, 2u);
  // What the client lacks, not what it sent; no read was needed.
  EXPECT_THAT(NamesIn(sync_result_->missing), ::testing::ElementsAre("eggs"));
  EXPECT_TRUE(fetches_.empty());
}

TEST_F(CoordinatorTest, SyncOnANodeWithoutAReplicaChecksAQuorumReadFirst) {
  crdt::ListState there;
  Delta(there, "eggs", 6, kOtherClient);
  auto coordinator = MakeCoordinator(4);
  crdt::ListState client;
  crdt::ListState delta = Delta(client, "milk", 1);
  coordinator->Sync(list_id_, delta, client.context(), /*create=*/false, kOpen,
                    CaptureSync(&sync_result_, &sync_calls_));
  // The change goes nowhere before the list's access record is known.
  EXPECT_TRUE(stores_.empty());
  ASSERT_EQ(fetches_.size(), 3u);
  Complete(FetchTo(walk_[0]), grpc::Status::OK, Found(there));
  Complete(FetchTo(walk_[1]), grpc::Status::OK, Found(there));
  ASSERT_EQ(stores_.size(), 3u);
  EXPECT_EQ(sync_calls_, 0);
  Complete(StoreTo(walk_[0]), grpc::Status::OK);
  Complete(StoreTo(walk_[1]), grpc::Status::OK);
  // The answer is the read it checked against, with the change.
  ASSERT_EQ(sync_calls_, 1);
  ASSERT_TRUE(sync_result_.ok()) << sync_result_.status();
  EXPECT_EQ(sync_result_->acks, 2u);
  EXPECT_THAT(NamesIn(sync_result_->missing), ::testing::ElementsAre("eggs"));
}

TEST_F(CoordinatorTest, ApplyCreatesThenEditsAsTheNodesOwnReplica) {
  auto coordinator = MakeCoordinator(0);
  v1::Operation create;
  create.mutable_create()->set_title("groceries");
  absl::StatusOr<Coordinator::ApplyResult>& result = apply_result_;
  coordinator->Apply(list_id_, create, kOpen,
                     [this](absl::StatusOr<Coordinator::ApplyResult> r) {
                       apply_result_ = std::move(r);
                     });
  Complete(FetchTo(walk_[1]), grpc::Status::OK, v1::FetchResponse());
  Complete(FetchTo(walk_[2]), grpc::Status::OK, v1::FetchResponse());
  ASSERT_EQ(stores_.size(), 2u);
  Complete(&stores_[0], grpc::Status::OK);
  FlushLocalWrites();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->state.View().title, "groceries");
  EXPECT_EQ(result->acks, 2u);
  Complete(&stores_[1], grpc::Status::OK);

  // A second operation is based on what the replicas hold.
  AnswerAllAndForget();
  v1::Operation add;
  add.mutable_add()->set_item("milk");
  add.mutable_add()->set_count(2);
  coordinator->Apply(list_id_, add, kOpen,
                     [this](absl::StatusOr<Coordinator::ApplyResult> r) {
                       apply_result_ = std::move(r);
                     });
  Complete(FetchTo(walk_[1]), grpc::Status::OK, v1::FetchResponse());
  Complete(&stores_[0], grpc::Status::OK);
  FlushLocalWrites();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->state.View().title, "groceries");
  ASSERT_EQ(result->state.View().items.size(), 1u);
  EXPECT_EQ(result->state.View().items[0].wanted, 2);
  Complete(FetchTo(walk_[2]), grpc::Status::OK, v1::FetchResponse());
  for (size_t i = 1; i < stores_.size(); ++i)
    Complete(&stores_[i], grpc::Status::OK);
}

TEST_F(CoordinatorTest, ApplyOnAnUnknownListIsNotFoundAndBadInputInvalid) {
  auto coordinator = MakeCoordinator(0);
  v1::Operation add;
  add.mutable_add()->set_item("milk");
  add.mutable_add()->set_count(1);
  absl::Status& status = status_;
  coordinator->Apply(list_id_, add, kOpen,
                     [this](absl::StatusOr<Coordinator::ApplyResult> r) {
                       status_ = r.status();
                     });
  Complete(FetchTo(walk_[1]), grpc::Status::OK, v1::FetchResponse());
  Complete(FetchTo(walk_[2]), grpc::Status::OK, v1::FetchResponse());
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);

  AnswerAllAndForget();
  v1::Operation create;
  create.mutable_create()->set_title(std::string(300, 'x'));
  coordinator->Apply(list_id_, create, kOpen,
                     [this](absl::StatusOr<Coordinator::ApplyResult> r) {
                       status_ = r.status();
                     });
  Complete(FetchTo(walk_[1]), grpc::Status::OK, v1::FetchResponse());
  Complete(FetchTo(walk_[2]), grpc::Status::OK, v1::FetchResponse());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(stores_.empty());
}

// --- Access: the coordinator checks first, then every replica ---

class CoordinatorAccessTest : public CoordinatorTest {
 protected:
  void SetUp() override {
    CoordinatorTest::SetUp();
    access_ = *access::MakeAccess();
    ASSERT_TRUE(list_.Create(kOtherClient, "groceries", 1).ok());
    ASSERT_TRUE(
        list_.SetAccess(kOtherClient, access::EncodeGrants(access_.grants))
            .ok());
  }
  access::SecretHash Proof(absl::string_view secret) {
    return access::HashSecret(secret);
  }
  crdt::ListState list_;  // a closed list, as a replica would hold it
  access::NewAccess access_;
};

TEST_F(CoordinatorAccessTest, AnOwnerChecksItsCopyAndRefusesBeforeSending) {
  ASSERT_TRUE(store_->Merge(list_id_, list_).ok());
  auto coordinator = MakeCoordinator(0);
  crdt::ListState client = list_;
  crdt::ListState delta = Delta(client, "milk", 1);
  coordinator->Sync(list_id_, delta, client.context(), /*create=*/false,
                    Proof(access_.read_secret),
                    CaptureSync(&sync_result_, &sync_calls_));
  ASSERT_EQ(sync_calls_, 1);
  EXPECT_EQ(sync_result_.status().code(), absl::StatusCode::kPermissionDenied);
  coordinator->Sync(list_id_, delta, client.context(), /*create=*/false,
                    Proof(""), CaptureSync(&sync_result_, &sync_calls_));
  ASSERT_EQ(sync_calls_, 2);
  EXPECT_EQ(sync_result_.status().code(), absl::StatusCode::kNotFound);
  // Nothing went anywhere, nothing was stored here.
  FlushLocalWrites();
  EXPECT_TRUE(stores_.empty());
  EXPECT_EQ(WantedOf(*store_->Get(list_id_), "milk"), -1);

  // The edit link goes through, and the replicas get its proof to check.
  coordinator->Sync(list_id_, delta, client.context(), /*create=*/false,
                    Proof(access_.edit_secret),
                    CaptureSync(&sync_result_, &sync_calls_));
  FlushLocalWrites();
  ASSERT_EQ(stores_.size(), 2u);
  const access::SecretHash edit = Proof(access_.edit_secret);
  EXPECT_EQ(stores_[0].request.proof(), access::ProofBytes(edit));
  Complete(StoreTo(walk_[1]), grpc::Status::OK);
  ASSERT_EQ(sync_calls_, 3);
  EXPECT_TRUE(sync_result_.ok()) << sync_result_.status();
  EXPECT_EQ(WantedOf(*store_->Get(list_id_), "milk"), 1);
}

TEST_F(CoordinatorAccessTest, ReadsWithoutReadProofAreNotFound) {
  auto coordinator = MakeCoordinator(4);
  for (const std::string& secret :
       {std::string(""), access_.edit_secret, access_.read_secret}) {
    fetches_.clear();  // all answered
    coordinator->Read(list_id_, Proof(secret),
                      [this](absl::StatusOr<Coordinator::ReadResult> r) {
                        read_result_ = std::move(r);
                      });
    Complete(FetchTo(walk_[0]), grpc::Status::OK, Found(list_));
    Complete(FetchTo(walk_[1]), grpc::Status::OK, Found(list_));
    // Every replica has the same: no read repair follows.
    Complete(FetchTo(walk_[2]), grpc::Status::OK, Found(list_));
    if (secret.empty()) {
      EXPECT_EQ(read_result_.status().code(), absl::StatusCode::kNotFound);
    } else {
      EXPECT_TRUE(read_result_.ok()) << read_result_.status();
    }
  }
}

TEST_F(CoordinatorAccessTest, AHeldCopyIsCheckedByItsAccessRecord) {
  ASSERT_TRUE(store_->Merge(list_id_, list_).ok());
  const storage::StoredList stored = *store_->GetStored(list_id_);
  auto coordinator = MakeCoordinator(0);
  Coordinator::ReadOptions options;
  options.holds_copy = [](absl::string_view) { return true; };
  for (const std::string& secret :
       {std::string(""), access_.edit_secret, access_.read_secret}) {
    fetches_.clear();
    coordinator->Read(
        list_id_, Proof(secret),
        [this](absl::StatusOr<Coordinator::ReadResult> r) {
          read_result_ = std::move(r);
        },
        options);
    Complete(FetchTo(walk_[1]), grpc::Status::OK, DigestOf(stored));
    Complete(FetchTo(walk_[2]), grpc::Status::OK, DigestOf(stored));
    if (secret.empty()) {
      EXPECT_EQ(read_result_.status().code(), absl::StatusCode::kNotFound);
    } else {
      ASSERT_TRUE(read_result_.ok()) << read_result_.status();
      EXPECT_TRUE(read_result_->state_omitted);
    }
  }
}

TEST_F(CoordinatorAccessTest, AnEditLinkCannotChangeWhoMayUseTheList) {
  auto coordinator = MakeCoordinator(4);
  crdt::ListState client = list_;
  absl::StatusOr<access::NewAccess> mine = access::MakeAccess();
  ASSERT_TRUE(mine.ok());
  crdt::ListState delta =
      *client.SetAccess(kClient, access::EncodeGrants(mine->grants));
  coordinator->Sync(list_id_, delta, client.context(), /*create=*/false,
                    Proof(access_.edit_secret),
                    CaptureSync(&sync_result_, &sync_calls_));
  Complete(FetchTo(walk_[0]), grpc::Status::OK, Found(list_));
  Complete(FetchTo(walk_[1]), grpc::Status::OK, Found(list_));
  ASSERT_EQ(sync_calls_, 1);
  EXPECT_EQ(sync_result_.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(stores_.empty());
}

TEST_F(CoordinatorAccessTest, AReplicaThatRefusesIsNotReplacedByAStandIn) {
  auto coordinator = MakeCoordinator(4);
  crdt::ListState client = list_;
  crdt::ListState delta = Delta(client, "milk", 1);
  coordinator->Write(list_id_, delta, Proof(access_.edit_secret),
                     Capture(&out_));
  ASSERT_EQ(stores_.size(), 3u);
  // Two replicas have merged a revocation this coordinator has not seen.
  Complete(StoreTo(walk_[0]), grpc::Status(grpc::StatusCode::NOT_FOUND, "no"));
  Complete(StoreTo(walk_[1]), grpc::Status(grpc::StatusCode::NOT_FOUND, "no"));
  EXPECT_EQ(stores_.size(), 3u);  // no stand-in asked
  ASSERT_TRUE(out_.called);
  EXPECT_EQ(out_.status.code(), absl::StatusCode::kNotFound);
  // A refusal says the replica is up.
  EXPECT_TRUE(health_.Healthy(walk_[0]));
}

TEST_F(CoordinatorAccessTest, ApplyIsCheckedForWhatTheOperationChanges) {
  auto coordinator = MakeCoordinator(4);
  v1::Operation add;
  add.mutable_add()->set_item("milk");
  add.mutable_add()->set_count(1);
  coordinator->Apply(list_id_, add, Proof(access_.read_secret),
                     [this](absl::StatusOr<Coordinator::ApplyResult> r) {
                       status_ = r.status();
                     });
  Complete(FetchTo(walk_[0]), grpc::Status::OK, Found(list_));
  Complete(FetchTo(walk_[1]), grpc::Status::OK, Found(list_));
  EXPECT_EQ(status_.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(stores_.empty());
}

TEST_F(CoordinatorTest, HintsAreDeliveredToTheirOwnerThenDeleted) {
  crdt::ListState client;
  ASSERT_TRUE(
      store_->AddHint(walk_[1], list_id_, Delta(client, "milk", 1)).ok());
  std::vector<ReplicaPeers::StoreDone> handoffs;
  std::vector<v1::HandOffRequest> requests;
  EXPECT_CALL(peers_, HandOff(address_of_[walk_[1]], _, _, _))
      .Times(2)
      .WillRepeatedly(
          Invoke([&](const std::string&, const v1::HandOffRequest& request,
                     absl::Duration, ReplicaPeers::StoreDone done) {
            requests.push_back(request);
            // First delivery fails: the owner is still down.
            done(requests.size() == 1
                     ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")
                     : grpc::Status::OK);
          }));
  HintDeliverer deliverer(walk_[0], store_.get(), &peers_, ring_.get(),
                          &health_, absl::Seconds(1), absl::Seconds(1));
  EXPECT_EQ(deliverer.DeliverOnce(), 0u);
  EXPECT_EQ(*store_->CountHints(), 1u);
  EXPECT_EQ(deliverer.DeliverOnce(), 1u);
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].hints(0).list_id(), list_id_);
  EXPECT_EQ(*store_->CountHints(), 0u);
}

}  // namespace
}  // namespace shoplist::node
