// The crypto thread pool of the native UDP socket (udp.cc): spreads the
// elliptic-curve work of a packet (recover on the way in, sign on the way
// out, ~95 % of its cost) over all cores while the protocol logic stays on
// the JavaScript thread.
//
// - open(): the datagrams of one receive batch are verified (hash check +
//   sender recovery) by the workers AND the calling thread; it returns when
//   all are done, so JS then walks the batch in receive order.
// - submit(): a datagram to send, sealed first (hash + sign) for replies,
//   is queued on the worker that owns its destination (a hash of the
//   address), so datagrams to one destination leave in the order they were
//   submitted. A full queue drops (counted) instead of growing.
//
// With 0 workers nothing here runs on another thread: udp.cc then does the
// same work inline (the single-thread mode).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core.h"

namespace discv4 {

// One datagram to verify: the status (core.h Status) and the recovered id go
// into the caller's memory.
struct OpenJob {
  const uint8_t* pkt;
  uint32_t len;
  int32_t* status;
  uint8_t* outId;  // 64 bytes
};

struct PoolStats {
  uint64_t opened = 0;
  uint64_t sealed = 0;
  uint64_t sent = 0;
  uint64_t sealErrors = 0;
  uint64_t sendErrors = 0;
  uint64_t queueDrops = 0;    // submit() with the destination's queue full
  uint64_t discarded = 0;     // jobs still queued when the pool stopped
  uint64_t sendRetries = 0;   // EAGAIN: waited for the socket to drain
};

class CryptoPool {
 public:
  // `workers` threads beside the caller's; each owns a send queue of
  // `queueCapacity` datagrams.
  CryptoPool(uint32_t workers, uint32_t queueCapacity);
  ~CryptoPool();
  CryptoPool(const CryptoPool&) = delete;
  CryptoPool& operator=(const CryptoPool&) = delete;

  uint32_t workers() const { return uint32_t(workers_.size()); }

  // The key replies are sealed with (32 bytes).
  void setKey(const uint8_t priv[32]);

  // Verifies jobs[0..n) on the workers and this thread; returns when done.
  void open(OpenJob* jobs, uint32_t n);

  // Queues pkt[0..len) to `dest` on socket `fd`, sealed first if `seal`.
  // false: dropped (queue full, too large, or stopped).
  bool submit(int fd, const uint8_t* pkt, uint32_t len, const sockaddr* dest, socklen_t destLen, bool seal);

  // Stops and joins the workers; queued datagrams are discarded. Idempotent.
  void stop();

  PoolStats stats() const;

 private:
  static constexpr size_t kMaxDatagram = kMaxPacketSize;  // core.h: discv4's largest packet

  struct SendJob {
    uint8_t data[kMaxDatagram];
    uint32_t len;
    bool seal;
    bool skip;  // could not be sealed: not sent
    int fd;
    socklen_t destLen;
    sockaddr_storage dest;
  };

  struct Worker {
    std::thread thread;
    std::condition_variable cv;
    bool sleeping = false;
    // Ring of send jobs: the worker takes jobs at `head`, submit() adds at
    // head + count. One consumer, so a job's slot stays put while it runs.
    std::unique_ptr<SendJob[]> ring;
    uint32_t head = 0;
    uint32_t count = 0;
  };

  // Datagrams a worker takes, seals and sends (one sendmmsg) per round.
  static constexpr uint32_t kSendBatch = 32;

  void run(Worker* w);
  // Seals and sends a prefix of jobs[0..n); returns how many it took.
  uint32_t runSends(SendJob* jobs, uint32_t n, const uint8_t* priv);
  void sendBatch(int fd, mmsghdr* msgs, uint32_t n);
  void wakeAll();

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Worker>> workers_;
  uint32_t capacity_;
  bool stopped_ = false;
  uint8_t key_[32] = {0};
  bool hasKey_ = false;

  // The current open batch (under mu_).
  OpenJob* jobs_ = nullptr;
  uint32_t n_ = 0;
  uint32_t next_ = 0;
  uint32_t running_ = 0;
  std::condition_variable batchDone_;

  // Counters: relaxed atomics, read by stats() on the JS thread.
  std::atomic<uint64_t> opened_{0}, sealed_{0}, sent_{0}, sealErrors_{0}, sendErrors_{0}, queueDrops_{0},
      discarded_{0}, sendRetries_{0};
};

}  // namespace discv4
