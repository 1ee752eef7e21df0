// ReplicaService.StoreStream and FetchStream, PeerStream and FetchPeerStream
// in-process: a real gRPC server on an ephemeral loopback port in front of a
// real LevelDB store, called with the sync bidi API (the raw protocol) and
// through the batching streams, and GrpcReplicaPeers against a replica
// without FetchStream.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "access/capability.h"
#include "codec/list_codec.h"
#include "crdt/limits.h"
#include "crdt/list_state.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/common/batch_server.h"
#include "services/node/peer_stream.h"
#include "services/node/replica_peers.h"
#include "services/node/replica_service.h"
#include "storage/replica_store.h"
#include "tests/support/lists.h"
#include "tests/support/loopback_server.h"
#include "tests/support/temp_dir.h"

namespace shoplist::node {
namespace {

using shoplist::testing::ListId;
using shoplist::testing::WantedOf;

constexpr crdt::ReplicaId kAlice = 0xA11CE;

// A delta that adds `count` of `item` to a fresh list.
crdt::ListState AddDelta(const std::string& item, int64_t count = 1) {
  crdt::ListState state;
  absl::StatusOr<crdt::ListState> delta = state.Add(kAlice, item, count);
  EXPECT_TRUE(delta.ok()) << delta.status();
  return delta.ok() ? *delta : crdt::ListState();
}

v1::StoreRequest StoreOf(const std::string& list_id,
                         const crdt::ListState& delta,
                         const std::string& intended_owner = "") {
  v1::StoreRequest request;
  request.set_list_id(list_id);
  codec::EncodeState(delta, request.mutable_delta());
  request.set_intended_owner(intended_owner);
  return request;
}

// A write whose dot lies outside its causal context.
v1::StoreRequest InvalidStoreOf(const std::string& list_id) {
  v1::StoreRequest request = StoreOf(list_id, AddDelta("milk"));
  request.mutable_delta()->mutable_items(0)->mutable_entries(0)->set_counter(
      999);
  return request;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
  return context;
}

// Records the first result of each of a fixed set of requests, and how
// many times each was called back.
template <typename Result>
class Recorder {
 public:
  explicit Recorder(int expected) : calls_(expected, 0), results_(expected) {}

  void Record(int i, Result result) {
    absl::MutexLock lock(&mu_);
    if (++calls_[i] == 1) {
      results_[i] = std::move(result);
      ++distinct_;
    }
  }

  // True once every request had its callback, within `timeout`.
  bool WaitAll(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto all = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return distinct_ == static_cast<int>(calls_.size());
    };
    return mu_.AwaitWithTimeout(absl::Condition(&all), timeout);
  }

  std::vector<int> Calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 protected:
  std::vector<Result> Results() {
    absl::MutexLock lock(&mu_);
    return results_;
  }

 private:
  absl::Mutex mu_;
  std::vector<int> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<Result> results_ ABSL_GUARDED_BY(mu_);
  int distinct_ ABSL_GUARDED_BY(mu_) = 0;
};

// Every callback of PeerStream::Submit.
class Outcomes : public Recorder<grpc::Status> {
 public:
  using Recorder::Recorder;
  PeerStream::Done For(int i) {
    return [this, i](const grpc::Status& status) { Record(i, status); };
  }
  std::vector<grpc::Status> Statuses() { return Results(); }
};

// A StoreStream that reads batches forever and never acknowledges.
class SilentReactor final
    : public grpc::ServerBidiReactor<v1::StoreBatch, v1::StoreBatchAck> {
 public:
  SilentReactor() { StartRead(&in_); }

  void OnReadDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (ok) {
      StartRead(&in_);
    } else {
      FinishLocked(grpc::Status::OK);
    }
  }
  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }
  void OnDone() override { delete this; }

 private:
  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  absl::Mutex mu_;
  v1::StoreBatch in_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

class SilentReplicaService final : public v1::ReplicaService::CallbackService {
 public:
  grpc::ServerBidiReactor<v1::StoreBatch, v1::StoreBatchAck>* StoreStream(
      grpc::CallbackServerContext* /*context*/) override {
    return new SilentReactor();
  }
};

class StoreStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<storage::ReplicaStore>> store =
        storage::OpenLevelDbStore(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    service_ =
        std::make_unique<ReplicaServiceImpl>("n1", store_.get(), digests_);
    server_ = Start(service_.get());
    ASSERT_NE(server_, nullptr);
    stub_ = v1::ReplicaService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    StopServer();
    if (silent_server_ != nullptr) silent_server_->Shutdown();
    silent_server_.reset();
    store_.reset();
  }

  // Builds and starts a server for `service` on 127.0.0.1:0; sets port_.
  std::unique_ptr<grpc::Server> Start(grpc::Service* service) {
    testing::LoopbackServer started = testing::StartLoopbackServer(service);
    port_ = started.port;
    EXPECT_GT(port_, 0);
    return std::move(started.server);
  }

  // A stub for a server that accepts StoreStreams and never acknowledges.
  std::unique_ptr<v1::ReplicaService::Stub> SilentStub() {
    silent_service_ = std::make_unique<SilentReplicaService>();
    silent_server_ = Start(silent_service_.get());
    EXPECT_NE(silent_server_, nullptr);
    return v1::ReplicaService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }

  void StopServer() {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(100));
    }
    server_.reset();
    service_.reset();
  }

  // The list is stored (not merely hinted) and wants `count` of `item`.
  void ExpectListWith(const std::string& list_id, const std::string& item,
                      int64_t count = 1) {
    absl::StatusOr<crdt::ListState> state = store_->Get(list_id);
    ASSERT_TRUE(state.ok()) << list_id << ": " << state.status();
    EXPECT_EQ(WantedOf(*state, item), count) << list_id;
  }

  void ExpectNoList(const std::string& list_id) {
    EXPECT_EQ(store_->Get(list_id).status().code(), absl::StatusCode::kNotFound)
        << list_id;
  }

  size_t Hints() {
    absl::StatusOr<size_t> hints = store_->CountHints();
    EXPECT_TRUE(hints.ok()) << hints.status();
    return hints.ok() ? *hints : 0;
  }

  shoplist::testing::TempDir dir_;
  std::unique_ptr<storage::ReplicaStore> store_;
  SharedDigests digests_;
  std::unique_ptr<ReplicaServiceImpl> service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ReplicaService::Stub> stub_;
  std::unique_ptr<SilentReplicaService> silent_service_;
  std::unique_ptr<grpc::Server> silent_server_;
};

using Stream = grpc::ClientReaderWriter<v1::StoreBatch, v1::StoreBatchAck>;

// Reads acknowledgements until the server ends the stream.
std::vector<uint64_t> ReadAcks(Stream* stream) {
  std::vector<uint64_t> acks;
  v1::StoreBatchAck ack;
  while (stream->Read(&ack)) acks.push_back(ack.sequence());
  return acks;
}

TEST_F(StoreStreamTest, RawStreamAcksCumulativelyAndStoresEveryWrite) {
  auto context = Context();
  std::unique_ptr<Stream> stream = stub_->StoreStream(context.get());
  std::vector<std::string> ids;
  for (uint64_t sequence = 1; sequence <= 3; ++sequence) {
    v1::StoreBatch batch;
    batch.set_sequence(sequence);
    for (int i = 0; i < 2; ++i) {
      ids.push_back(ListId());
      *batch.add_writes() = StoreOf(ids.back(), AddDelta(ids.back()));
    }
    ASSERT_TRUE(stream->Write(batch)) << "batch " << sequence;
  }
  ASSERT_TRUE(stream->WritesDone());
  std::vector<uint64_t> acks = ReadAcks(stream.get());
  grpc::Status status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_code() << ": "
                           << status.error_message();

  ASSERT_FALSE(acks.empty());
  EXPECT_EQ(acks.back(), 3u);
  for (size_t i = 1; i < acks.size(); ++i) {
    EXPECT_LE(acks[i - 1], acks[i]) << "ack " << i;
  }
  for (uint64_t ack : acks) {
    EXPECT_GE(ack, 1u);
    EXPECT_LE(ack, 3u);
  }
  ASSERT_EQ(ids.size(), 6u);
  for (const std::string& id : ids) ExpectListWith(id, id);
  EXPECT_EQ(Hints(), 0u);
}

TEST_F(StoreStreamTest, WriteForAnotherOwnerKeepsAHintAndIsAcked) {
  const std::string id = ListId();
  const crdt::ListState delta = AddDelta("milk", 2);
  auto context = Context();
  std::unique_ptr<Stream> stream = stub_->StoreStream(context.get());
  v1::StoreBatch batch;
  batch.set_sequence(1);
  *batch.add_writes() = StoreOf(id, delta, "n2");
  ASSERT_TRUE(stream->Write(batch));
  ASSERT_TRUE(stream->WritesDone());
  std::vector<uint64_t> acks = ReadAcks(stream.get());
  grpc::Status status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_code() << ": "
                           << status.error_message();

  ASSERT_FALSE(acks.empty());
  EXPECT_EQ(acks.back(), 1u);
  EXPECT_EQ(Hints(), 1u);
  absl::StatusOr<std::vector<storage::Hint>> held = store_->Hints(10);
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ((*held)[0].owner, "n2");
  EXPECT_EQ((*held)[0].list_id, id);
  EXPECT_EQ((*held)[0].delta, delta);
  ExpectNoList(id);
}

TEST_F(StoreStreamTest, InvalidWriteEndsStreamAndStoresNothingOfItsBatch) {
  auto context = Context();
  std::unique_ptr<Stream> stream = stub_->StoreStream(context.get());

  // Batch 1 is valid and acknowledged before batch 2 is sent.
  const std::string first = ListId();
  v1::StoreBatch batch;
  batch.set_sequence(1);
  *batch.add_writes() = StoreOf(first, AddDelta("bread"));
  ASSERT_TRUE(stream->Write(batch));
  v1::StoreBatchAck ack;
  ASSERT_TRUE(stream->Read(&ack));
  EXPECT_EQ(ack.sequence(), 1u);

  // Batch 2: a valid write, then one with a dot outside its context.
  const std::string valid = ListId();
  const std::string invalid = ListId();
  batch.Clear();
  batch.set_sequence(2);
  *batch.add_writes() = StoreOf(valid, AddDelta("milk"));
  *batch.add_writes() = InvalidStoreOf(invalid);
  ASSERT_TRUE(stream->Write(batch));
  stream->WritesDone();  // may fail: the server may have ended the stream
  std::vector<uint64_t> acks = ReadAcks(stream.get());
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  for (uint64_t a : acks) EXPECT_LT(a, 2u) << "batch 2 was acknowledged";

  ExpectListWith(first, "bread");
  ExpectNoList(valid);
  ExpectNoList(invalid);
  EXPECT_EQ(Hints(), 0u);
}

// Like the above, with a hint before the invalid write: the batch is refused
// as a whole, so the hint must not be kept either.
TEST_F(StoreStreamTest, InvalidWriteAfterAHintKeepsNoHint) {
  auto context = Context();
  std::unique_ptr<Stream> stream = stub_->StoreStream(context.get());
  const std::string hinted = ListId();
  const std::string invalid = ListId();
  v1::StoreBatch batch;
  batch.set_sequence(1);
  *batch.add_writes() = StoreOf(hinted, AddDelta("milk"), "n2");
  *batch.add_writes() = InvalidStoreOf(invalid);
  ASSERT_TRUE(stream->Write(batch));
  stream->WritesDone();
  std::vector<uint64_t> acks = ReadAcks(stream.get());
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  EXPECT_TRUE(acks.empty());

  EXPECT_EQ(Hints(), 0u) << "a hint of a refused batch was kept";
  ExpectNoList(hinted);
  ExpectNoList(invalid);
}

TEST_F(StoreStreamTest, PeerStreamStoresConcurrentSubmits) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  constexpr int kTotal = kThreads * kPerThread;
  std::vector<std::string> ids;
  for (int i = 0; i < kTotal; ++i) ids.push_back(ListId());

  Outcomes outcomes(kTotal);
  {
    PeerStream peer(stub_.get());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int j = 0; j < kPerThread; ++j) {
          const int i = t * kPerThread + j;
          peer.Submit(StoreOf(ids[i], AddDelta("item")),
                      absl::Now() + absl::Seconds(30), outcomes.For(i));
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_TRUE(outcomes.WaitAll(absl::Seconds(30)));
    peer.Close();
  }

  std::vector<int> calls = outcomes.Calls();
  std::vector<grpc::Status> statuses = outcomes.Statuses();
  for (int i = 0; i < kTotal; ++i) {
    EXPECT_EQ(calls[i], 1) << "request " << i;
    EXPECT_TRUE(statuses[i].ok())
        << "request " << i << ": " << statuses[i].error_code() << " "
        << statuses[i].error_message();
    ExpectListWith(ids[i], "item");
  }
  EXPECT_EQ(Hints(), 0u);
}

TEST_F(StoreStreamTest, AccessRefusalsFailTheirWriteAloneAndStoreNothing) {
  // A closed list as this replica holds it.
  const std::string id = ListId();
  const access::NewAccess access = *access::MakeAccess();
  crdt::ListState list;
  ASSERT_TRUE(list.Create(kAlice, "groceries", 1).ok());
  ASSERT_TRUE(list.SetAccess(kAlice, access::EncodeGrants(access.grants)).ok());
  ASSERT_TRUE(store_->Merge(id, list).ok());
  auto with_proof = [&](const std::string& item, absl::string_view secret) {
    crdt::ListState copy = list;
    v1::StoreRequest request = StoreOf(id, *copy.Add(0xB0B, item, 1));
    const access::SecretHash hash = access::HashSecret(secret);
    request.set_proof(access::ProofBytes(hash));
    return request;
  };
  Outcomes outcomes(4);
  {
    PeerStream peer(stub_.get());
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    peer.Submit(with_proof("forged", "zzzzzzzzzzzzzzzzzzzzzzzzza"), deadline,
                outcomes.For(0));
    peer.Submit(with_proof("peeked", access.read_secret), deadline,
                outcomes.For(1));
    peer.Submit(with_proof("milk", access.edit_secret), deadline,
                outcomes.For(2));
    // A repair carries no proof: what a replica already accepted.
    crdt::ListState copy = list;
    peer.Submit(StoreOf(id, *copy.Add(0xC0C, "tea", 1)), deadline,
                outcomes.For(3));
    EXPECT_TRUE(outcomes.WaitAll(absl::Seconds(30)));
    peer.Close();
  }
  std::vector<grpc::Status> statuses = outcomes.Statuses();
  EXPECT_EQ(statuses[0].error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(statuses[1].error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(statuses[2].ok()) << statuses[2].error_message();
  EXPECT_TRUE(statuses[3].ok()) << statuses[3].error_message();
  ExpectListWith(id, "milk");
  ExpectListWith(id, "tea");
  absl::StatusOr<crdt::ListState> stored = store_->Get(id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(WantedOf(*stored, "forged"), -1);
  EXPECT_EQ(WantedOf(*stored, "peeked"), -1);
}

TEST_F(StoreStreamTest, AProofOfTheWrongSizeIsInvalid) {
  v1::StoreRequest request = StoreOf(ListId(), AddDelta("milk"));
  request.set_proof("short");
  grpc::ClientContext context;
  v1::StoreResponse response;
  grpc::Status status = stub_->Store(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(StoreStreamTest, PeerStreamFailsEveryRequestWhenServerGoesDown) {
  PeerStream peer(stub_.get());

  // The stream is open and working.
  constexpr int kBefore = 10;
  Outcomes before(kBefore);
  for (int i = 0; i < kBefore; ++i) {
    peer.Submit(StoreOf(ListId(), AddDelta("milk")),
                absl::Now() + absl::Seconds(30), before.For(i));
  }
  ASSERT_TRUE(before.WaitAll(absl::Seconds(10)));
  for (const grpc::Status& status : before.Statuses()) {
    EXPECT_TRUE(status.ok()) << status.error_message();
  }

  // Requests racing with the shutdown: each answered exactly once, either
  // way.
  constexpr int kRacing = 10;
  Outcomes racing(kRacing);
  for (int i = 0; i < kRacing; ++i) {
    peer.Submit(StoreOf(ListId(), AddDelta("milk")),
                absl::Now() + absl::Seconds(30), racing.For(i));
  }
  StopServer();
  EXPECT_TRUE(racing.WaitAll(absl::Seconds(10)));

  // Requests after the shutdown fail.
  constexpr int kAfter = 10;
  Outcomes after(kAfter);
  for (int i = 0; i < kAfter; ++i) {
    peer.Submit(StoreOf(ListId(), AddDelta("milk")),
                absl::Now() + absl::Seconds(30), after.For(i));
  }
  EXPECT_TRUE(after.WaitAll(absl::Seconds(10)));

  // Once the stream has failed, a fresh Submit opens a new stream, which
  // fails too instead of hanging.
  Outcomes fresh(1);
  peer.Submit(StoreOf(ListId(), AddDelta("milk")),
              absl::Now() + absl::Seconds(30), fresh.For(0));
  EXPECT_TRUE(fresh.WaitAll(absl::Seconds(10)));

  // Close returns once every callback is over: a second call of any would
  // have happened by then.
  peer.Close();
  for (int c : before.Calls()) EXPECT_EQ(c, 1);
  for (int c : racing.Calls()) EXPECT_EQ(c, 1);
  for (int c : after.Calls()) EXPECT_EQ(c, 1);
  for (const grpc::Status& status : after.Statuses()) {
    EXPECT_FALSE(status.ok()) << "a request after shutdown succeeded";
  }
  EXPECT_EQ(fresh.Calls()[0], 1);
  EXPECT_FALSE(fresh.Statuses()[0].ok());
}

TEST_F(StoreStreamTest, ExpireRightAfterSubmitPastDeadlineCallsBackOnce) {
  PeerStream peer(stub_.get());
  std::atomic<int> calls{0};
  absl::Notification called;
  grpc::Status result;
  const std::string id = ListId();
  peer.Submit(StoreOf(id, AddDelta("milk")), absl::Now() - absl::Seconds(1),
              [&](const grpc::Status& status) {
                if (calls.fetch_add(1) == 0) {
                  result = status;
                  called.Notify();
                }
              });
  peer.Expire(absl::Now());
  ASSERT_TRUE(called.WaitForNotificationWithTimeout(absl::Seconds(5)));
  peer.Close();  // every callback is over
  EXPECT_EQ(calls.load(), 1);
  // Acknowledged means durable.
  if (result.ok()) ExpectListWith(id, "milk");
}

// With a peer that never acknowledges, Expire fails a request only once its
// deadline has passed.
TEST_F(StoreStreamTest, ExpireFailsPendingRequestOnlyPastItsDeadline) {
  std::unique_ptr<v1::ReplicaService::Stub> silent = SilentStub();
  PeerStream peer(silent.get());
  Outcomes outcomes(1);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  peer.Submit(StoreOf(ListId(), AddDelta("milk")), deadline, outcomes.For(0));
  peer.Expire(absl::Now());
  EXPECT_FALSE(outcomes.WaitAll(absl::Milliseconds(300)))
      << "failed before its deadline";
  peer.Expire(deadline + absl::Milliseconds(1));
  ASSERT_TRUE(outcomes.WaitAll(absl::Seconds(5)));
  peer.Close();
  EXPECT_EQ(outcomes.Calls()[0], 1);
  EXPECT_FALSE(outcomes.Statuses()[0].ok());
}

// peer_stream.h: a request past its deadline fails with UNAVAILABLE or
// DEADLINE_EXCEEDED.
TEST_F(StoreStreamTest, ExpiredRequestFailsWithDeadlineExceededOrUnavailable) {
  std::unique_ptr<v1::ReplicaService::Stub> silent = SilentStub();
  PeerStream peer(silent.get());
  Outcomes outcomes(1);
  peer.Submit(StoreOf(ListId(), AddDelta("milk")),
              absl::Now() + absl::Milliseconds(10), outcomes.For(0));
  absl::SleepFor(absl::Milliseconds(20));
  peer.Expire(absl::Now());
  ASSERT_TRUE(outcomes.WaitAll(absl::Seconds(5)));
  peer.Close();
  const grpc::StatusCode code = outcomes.Statuses()[0].error_code();
  EXPECT_TRUE(code == grpc::StatusCode::DEADLINE_EXCEEDED ||
              code == grpc::StatusCode::UNAVAILABLE)
      << "got code " << code << ": " << outcomes.Statuses()[0].error_message();
}

// peer_stream.h: Close "cancels the stream and waits until its callbacks
// are over".
TEST_F(StoreStreamTest, CloseWaitsForTheCallbacksOfPendingRequests) {
  std::unique_ptr<v1::ReplicaService::Stub> silent = SilentStub();
  std::atomic<bool> started{false};
  std::atomic<bool> finished{false};
  {
    PeerStream peer(silent.get());
    peer.Submit(StoreOf(ListId(), AddDelta("milk")),
                absl::Now() + absl::Seconds(30), [&](const grpc::Status&) {
                  started = true;
                  absl::SleepFor(absl::Milliseconds(300));
                  finished = true;
                });
    absl::SleepFor(absl::Milliseconds(100));  // the batch is on the wire
    ASSERT_FALSE(started.load());
    peer.Close();
    EXPECT_TRUE(started.load()) << "Close returned before the callback ran";
    EXPECT_TRUE(finished.load()) << "Close returned during the callback";
  }
  // Let a late callback finish before `started`/`finished` go away.
  for (int i = 0; i < 50 && !finished.load(); ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
}

// A callback that submits again to the stream being closed (a coordinator
// falling back as the node shuts down) must not open a stream that Close
// would then wait for: the silent peer never ends one by itself.
TEST_F(StoreStreamTest, ASubmitFromACallbackDuringCloseFailsAtOnce) {
  std::unique_ptr<v1::ReplicaService::Stub> silent = SilentStub();
  PeerStream peer(silent.get());
  std::atomic<int> again{-1};
  peer.Submit(StoreOf(ListId(), AddDelta("milk")),
              absl::Now() + absl::Seconds(30), [&](const grpc::Status&) {
                peer.Submit(StoreOf(ListId(), AddDelta("eggs")),
                            absl::Now() + absl::Seconds(30),
                            [&](const grpc::Status& status) {
                              again = status.error_code();
                            });
              });
  absl::SleepFor(absl::Milliseconds(100));  // the batch is on the wire
  peer.Close();  // hung here before: the second stream was never cancelled
  EXPECT_EQ(again.load(), grpc::StatusCode::UNAVAILABLE);
}

// --- FetchStream: reads batched the same way ---

// Every callback of FetchPeerStream::Submit.
class FetchOutcomes
    : public Recorder<std::pair<grpc::Status, v1::FetchResponse>> {
 public:
  using Recorder::Recorder;
  FetchPeerStream::Done For(int i) {
    return [this, i](const grpc::Status& status,
                     const v1::FetchResponse& response) {
      Record(i, {status, response});
    };
  }
  std::vector<std::pair<grpc::Status, v1::FetchResponse>> Got() {
    return Results();
  }
};

v1::FetchRequest FetchOf(const std::string& list_id, bool owner = true) {
  v1::FetchRequest request;
  request.set_list_id(list_id);
  request.set_owner(owner);
  return request;
}

// How many of `item` the answer's state wants; -1 when it does not decode.
int64_t WantedIn(const v1::FetchResponse& response, const std::string& item) {
  absl::StatusOr<crdt::ListState> state = codec::DecodeState(response.state());
  return state.ok() ? WantedOf(*state, item) : -1;
}

TEST_F(StoreStreamTest, RawFetchStreamAnswersEachBatchInOrderPerFetch) {
  const std::string a = ListId(), b = ListId(), absent = ListId();
  ASSERT_TRUE(store_->Merge(a, AddDelta("milk", 2)).ok());
  ASSERT_TRUE(store_->Merge(b, AddDelta("eggs", 3)).ok());

  auto context = Context();
  auto stream = stub_->FetchStream(context.get());
  v1::FetchBatch first;
  first.set_sequence(7);
  *first.add_fetches() = FetchOf(a);
  *first.add_fetches() = FetchOf("not a list id!");
  *first.add_fetches() = FetchOf(absent);
  ASSERT_TRUE(stream->Write(first));
  v1::FetchBatch second;
  second.set_sequence(8);
  *second.add_fetches() = FetchOf(b, /*owner=*/false);
  ASSERT_TRUE(stream->Write(second));
  ASSERT_TRUE(stream->WritesDone());

  std::vector<v1::FetchBatchReply> replies;
  v1::FetchBatchReply reply;
  while (stream->Read(&reply)) replies.push_back(reply);
  grpc::Status status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();

  // A bad fetch fails alone; the stream and its batch go on.
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].sequence(), 7u);
  ASSERT_EQ(replies[0].results_size(), 3);
  EXPECT_EQ(replies[0].results(0).code(), grpc::StatusCode::OK);
  EXPECT_TRUE(replies[0].results(0).response().found());
  EXPECT_EQ(WantedIn(replies[0].results(0).response(), "milk"), 2);
  EXPECT_EQ(replies[0].results(1).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(replies[0].results(1).message().empty());
  EXPECT_EQ(replies[0].results(2).code(), grpc::StatusCode::OK);
  EXPECT_FALSE(replies[0].results(2).response().found());
  EXPECT_EQ(replies[1].sequence(), 8u);
  ASSERT_EQ(replies[1].results_size(), 1);
  EXPECT_EQ(WantedIn(replies[1].results(0).response(), "eggs"), 3);
}

TEST_F(StoreStreamTest, BatchesOverTheCallCapAreStoredAndAnsweredWhole) {
  // More writes in one batch than a stream holds in flight: they start as
  // earlier ones are answered.
  const int n = static_cast<int>(kMaxCallsInFlight) + 500;
  std::vector<std::string> ids;
  {
    auto context = Context();
    std::unique_ptr<Stream> stream = stub_->StoreStream(context.get());
    v1::StoreBatch batch;
    batch.set_sequence(1);
    for (int i = 0; i < n; ++i) {
      ids.push_back(ListId());
      *batch.add_writes() = StoreOf(ids.back(), AddDelta("milk"));
    }
    ASSERT_TRUE(stream->Write(batch));
    ASSERT_TRUE(stream->WritesDone());
    std::vector<uint64_t> acks = ReadAcks(stream.get());
    grpc::Status status = stream->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_FALSE(acks.empty());
    EXPECT_EQ(acks.back(), 1u);
  }
  for (const std::string& id : ids) ExpectListWith(id, "milk");

  // The same for fetches, whose batch is answered by one reply: a reply
  // that waits for the rest of its batch must not hold the stream's cap.
  auto context = Context();
  auto stream = stub_->FetchStream(context.get());
  v1::FetchBatch batch;
  batch.set_sequence(1);
  for (const std::string& id : ids) *batch.add_fetches() = FetchOf(id);
  ASSERT_TRUE(stream->Write(batch));
  ASSERT_TRUE(stream->WritesDone());
  v1::FetchBatchReply reply;
  ASSERT_TRUE(stream->Read(&reply));
  EXPECT_FALSE(stream->Read(&reply));
  grpc::Status status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(reply.results_size(), n);
  for (int i = 0; i < n; i += 97) {
    EXPECT_EQ(WantedIn(reply.results(i).response(), "milk"), 1) << i;
  }
}

TEST_F(StoreStreamTest, DrainingEndsStoreAndFetchStreamsOnceAnswered) {
  const std::string id = ListId();
  auto store_context = Context();
  std::unique_ptr<Stream> store = stub_->StoreStream(store_context.get());
  v1::StoreBatch batch;
  batch.set_sequence(1);
  *batch.add_writes() = StoreOf(id, AddDelta("milk"));
  ASSERT_TRUE(store->Write(batch));
  v1::StoreBatchAck ack;
  ASSERT_TRUE(store->Read(&ack));
  EXPECT_EQ(ack.sequence(), 1u);
  auto fetch_context = Context();
  auto fetch = stub_->FetchStream(fetch_context.get());

  // The callers never close their side; the drain ends both streams OK.
  service_->DrainStreams();
  EXPECT_FALSE(store->Read(&ack));
  grpc::Status status = store->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  v1::FetchBatchReply reply;
  EXPECT_FALSE(fetch->Read(&reply));
  status = fetch->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  ExpectListWith(id, "milk");

  // A stream opened later ends at once, storing nothing; a peer's stream
  // fails its write, so its coordinator keeps a hint instead.
  PeerStream peer(stub_.get());
  const std::string later = ListId();
  absl::Notification done;
  grpc::Status got;
  peer.Submit(StoreOf(later, AddDelta("eggs")), absl::Now() + absl::Seconds(10),
              [&](const grpc::Status& s) {
                got = s;
                done.Notify();
              });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(got.error_code(), grpc::StatusCode::UNAVAILABLE)
      << got.error_message();
  ExpectNoList(later);
}

TEST_F(StoreStreamTest, FetchStreamJoinsHintsOnlyForAStandIn) {
  // This node holds only a hint of the list, for another owner.
  const std::string id = ListId();
  ASSERT_TRUE(store_->AddHint("n2", id, AddDelta("bread")).ok());

  FetchOutcomes outcomes(2);
  FetchPeerStream peer(stub_.get());
  peer.Submit(FetchOf(id, /*owner=*/false), absl::Now() + absl::Seconds(30),
              outcomes.For(0));
  peer.Submit(FetchOf(id, /*owner=*/true), absl::Now() + absl::Seconds(30),
              outcomes.For(1));
  ASSERT_TRUE(outcomes.WaitAll(absl::Seconds(30)));
  peer.Close();

  auto got = outcomes.Got();
  ASSERT_TRUE(got[0].first.ok()) << got[0].first.error_message();
  EXPECT_TRUE(got[0].second.found());
  EXPECT_EQ(WantedIn(got[0].second, "bread"), 1);
  ASSERT_TRUE(got[1].first.ok()) << got[1].first.error_message();
  EXPECT_FALSE(got[1].second.found()) << "an owner's answer joined a hint";
}

TEST_F(StoreStreamTest, FetchPeerStreamAnswersConcurrentSubmits) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  constexpr int kTotal = kThreads * kPerThread;
  std::vector<std::string> ids;
  for (int i = 0; i < kTotal; ++i) {
    ids.push_back(ListId());
    ASSERT_TRUE(store_->Merge(ids.back(), AddDelta(ids.back(), i + 1)).ok());
  }

  FetchOutcomes outcomes(kTotal);
  {
    FetchPeerStream peer(stub_.get());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int j = 0; j < kPerThread; ++j) {
          const int i = t * kPerThread + j;
          peer.Submit(FetchOf(ids[i]), absl::Now() + absl::Seconds(30),
                      outcomes.For(i));
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_TRUE(outcomes.WaitAll(absl::Seconds(30)));
    peer.Close();
  }

  std::vector<int> calls = outcomes.Calls();
  auto got = outcomes.Got();
  for (int i = 0; i < kTotal; ++i) {
    EXPECT_EQ(calls[i], 1) << "request " << i;
    ASSERT_TRUE(got[i].first.ok())
        << "request " << i << ": " << got[i].first.error_message();
    // Each answer is its own list's, however the batches were cut.
    EXPECT_EQ(WantedIn(got[i].second, ids[i]), i + 1) << "request " << i;
  }
}

TEST_F(StoreStreamTest, FetchPeerStreamFailsEveryRequestWhenServerGoesDown) {
  const std::string id = ListId();
  ASSERT_TRUE(store_->Merge(id, AddDelta("milk")).ok());
  FetchPeerStream peer(stub_.get());
  FetchOutcomes before(1);
  peer.Submit(FetchOf(id), absl::Now() + absl::Seconds(30), before.For(0));
  ASSERT_TRUE(before.WaitAll(absl::Seconds(10)));
  EXPECT_TRUE(before.Got()[0].first.ok());

  StopServer();
  constexpr int kAfter = 10;
  FetchOutcomes after(kAfter);
  for (int i = 0; i < kAfter; ++i) {
    peer.Submit(FetchOf(id), absl::Now() + absl::Seconds(30), after.For(i));
  }
  EXPECT_TRUE(after.WaitAll(absl::Seconds(10)));
  peer.Close();
  for (int c : after.Calls()) EXPECT_EQ(c, 1);
  for (const auto& [status, response] : after.Got()) {
    EXPECT_FALSE(status.ok()) << "a fetch after shutdown succeeded";
  }
}

// A replica of an earlier version: unary Fetch only, no FetchStream.
class UnaryOnlyReplicaService final
    : public v1::ReplicaService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* context,
                                  const v1::FetchRequest* request,
                                  v1::FetchResponse* response) override {
    ++fetches;
    response->set_found(true);
    codec::EncodeState(AddDelta(request->list_id()), response->mutable_state());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  std::atomic<int> fetches{0};
};

TEST_F(StoreStreamTest, ReplicaPeersFetchFromAPeerWithoutFetchStream) {
  UnaryOnlyReplicaService old_service;
  std::unique_ptr<grpc::Server> old_server = Start(&old_service);
  ASSERT_NE(old_server, nullptr);
  const std::string address = absl::StrCat("127.0.0.1:", port_);
  {
    std::unique_ptr<ReplicaPeers> peers = NewGrpcReplicaPeers();
    for (int round = 0; round < 2; ++round) {
      const std::string id = ListId();
      absl::Notification done;
      grpc::Status status;
      v1::FetchResponse got;
      peers->Fetch(address, FetchOf(id), absl::Seconds(10),
                   [&](const grpc::Status& s, const v1::FetchResponse& r) {
                     status = s;
                     got = r;
                     done.Notify();
                   });
      ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
      ASSERT_TRUE(status.ok())
          << "round " << round << ": " << status.error_code() << " "
          << status.error_message();
      EXPECT_EQ(WantedIn(got, id), 1) << "round " << round;
    }
  }
  EXPECT_EQ(old_service.fetches.load(), 2);
  old_server->Shutdown();
}

}  // namespace
}  // namespace shoplist::node
