// See pool.h. Locking: one mutex guards the open batch and the send rings.
// It is held only to take or return a job (tens of nanoseconds) while the
// jobs themselves take 25-40 us of elliptic-curve work, so contention stays
// negligible at two to a few dozen threads.
#include "pool.h"

#include "core.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace discv4 {

namespace {
// How long a worker waits for a full socket send buffer to drain before it
// drops the datagram (counted), and how often it retries.
constexpr int kSendRetries = 3;
constexpr int kSendWaitMs = 10;
}  // namespace

CryptoPool::CryptoPool(uint32_t workers, uint32_t queueCapacity) : capacity_(queueCapacity == 0 ? 1 : queueCapacity) {
  workers_.reserve(workers);
  for (uint32_t i = 0; i < workers; i++) {
    auto w = std::make_unique<Worker>();
    w->ring = std::make_unique<SendJob[]>(capacity_);
    workers_.push_back(std::move(w));
  }
  // Threads start once every Worker exists: run() only touches its own.
  for (auto& w : workers_) w->thread = std::thread(&CryptoPool::run, this, w.get());
}

CryptoPool::~CryptoPool() { stop(); }

void CryptoPool::setKey(const uint8_t priv[32]) {
  std::lock_guard<std::mutex> lk(mu_);
  memcpy(key_, priv, 32);
  hasKey_ = true;
}

void CryptoPool::wakeAll() {
  for (auto& w : workers_) {
    if (w->sleeping) w->cv.notify_one();
  }
}

void CryptoPool::open(OpenJob* jobs, uint32_t n) {
  if (n == 0) return;
  std::unique_lock<std::mutex> lk(mu_);
  if (workers_.empty() || stopped_ || n == 1) {
    // Nothing to share (or one datagram: a wake-up costs more than it saves).
    lk.unlock();
    for (uint32_t i = 0; i < n; i++) *jobs[i].status = discv4::open(jobs[i].pkt, jobs[i].len, jobs[i].outId);
    opened_.fetch_add(n, std::memory_order_relaxed);
    return;
  }
  jobs_ = jobs;
  n_ = n;
  next_ = 0;
  wakeAll();
  // Take jobs alongside the workers, then wait for the ones they hold.
  while (next_ < n_) {
    OpenJob& j = jobs_[next_++];
    running_++;
    lk.unlock();
    *j.status = discv4::open(j.pkt, j.len, j.outId);
    lk.lock();
    running_--;
  }
  batchDone_.wait(lk, [this] { return running_ == 0; });
  jobs_ = nullptr;
  n_ = 0;
  next_ = 0;
  opened_.fetch_add(n, std::memory_order_relaxed);
}

bool CryptoPool::submit(int fd, const uint8_t* pkt, uint32_t len, const sockaddr* dest, socklen_t destLen, bool seal) {
  if (len > kMaxDatagram || destLen > sizeof(sockaddr_storage) || workers_.empty()) {
    queueDrops_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // The destination's owner: a hash of its address bytes (port included).
  const auto* b = reinterpret_cast<const uint8_t*>(dest);
  uint32_t h = 2166136261u;
  for (socklen_t i = 0; i < destLen; i++) h = (h ^ b[i]) * 16777619u;
  Worker* w = workers_[h % workers_.size()].get();
  std::lock_guard<std::mutex> lk(mu_);
  if (stopped_ || w->count == capacity_) {
    queueDrops_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  SendJob& j = w->ring[(w->head + w->count) % capacity_];
  memcpy(j.data, pkt, len);
  j.len = len;
  j.seal = seal;
  j.skip = false;
  j.fd = fd;
  j.destLen = destLen;
  memcpy(&j.dest, dest, destLen);
  w->count++;
  if (w->sleeping) w->cv.notify_one();
  return true;
}

uint32_t CryptoPool::runSends(SendJob* jobs, uint32_t n, const uint8_t* priv) {
  // Seal what needs it; a job that cannot be sealed is skipped. All the
  // jobs taken leave in one sendmmsg. (Measured: stopping after fewer
  // seals, or whenever the JS thread waits on an open batch, lowered the
  // two-thread ping->pong rate from ~20,500 to ~17,000/s: fewer datagrams
  // per syscall and per wake-up of the receiver.)
  uint32_t i = 0;
  while (i < n) {
    SendJob& job = jobs[i++];
    if (job.seal) {
      if (priv == nullptr || discv4::seal(job.data, job.len, priv) != kOk) {
        sealErrors_.fetch_add(1, std::memory_order_relaxed);
        job.skip = true;
      } else {
        sealed_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (i >= kSendBatch) break;
  }
  n = i;
  // Then send them in order, as many per syscall as share a socket: the
  // receiver is woken once per batch instead of once per datagram.
  mmsghdr msgs[kSendBatch];
  iovec iov[kSendBatch];
  i = 0;
  while (i < n) {
    const int fd = jobs[i].fd;
    uint32_t k = 0;
    for (uint32_t j = i; j < n && jobs[j].fd == fd; j++) {
      if (jobs[j].skip) continue;
      iov[k].iov_base = jobs[j].data;
      iov[k].iov_len = jobs[j].len;
      memset(&msgs[k], 0, sizeof msgs[k]);
      msgs[k].msg_hdr.msg_name = &jobs[j].dest;
      msgs[k].msg_hdr.msg_namelen = jobs[j].destLen;
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
      k++;
    }
    uint32_t end = i;
    while (end < n && jobs[end].fd == fd) end++;
    sendBatch(fd, msgs, k);
    i = end;
  }
  return n;
}

void CryptoPool::sendBatch(int fd, mmsghdr* msgs, uint32_t n) {
  uint32_t done = 0;
  int attempts = 0;
  while (done < n) {
    int r = sendmmsg(fd, msgs + done, n - done, 0);
    if (r > 0) {
      sent_.fetch_add(uint64_t(r), std::memory_order_relaxed);
      done += uint32_t(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) && attempts < kSendRetries) {
      // The socket buffer is full: wait for room rather than drop at once.
      attempts++;
      sendRetries_.fetch_add(1, std::memory_order_relaxed);
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, kSendWaitMs);
      continue;
    }
    // This datagram cannot go (unreachable, or the buffer stayed full): count it, go on.
    sendErrors_.fetch_add(1, std::memory_order_relaxed);
    done++;
    attempts = 0;
  }
}

void CryptoPool::run(Worker* w) {
  uint8_t priv[32];
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    if (stopped_) return;
    // Opens first: the JS thread is waiting for them.
    if (next_ < n_) {
      OpenJob& j = jobs_[next_++];
      running_++;
      lk.unlock();
      *j.status = discv4::open(j.pkt, j.len, j.outId);
      lk.lock();
      if (--running_ == 0 && next_ >= n_) batchDone_.notify_one();
      continue;
    }
    if (w->count > 0) {
      // Take what is queued (up to kSendBatch, contiguous in the ring): the
      // jobs stay in their slots until done, and leave in one sendmmsg.
      uint32_t m = w->count < kSendBatch ? w->count : kSendBatch;
      if (w->head + m > capacity_) m = capacity_ - w->head;
      SendJob* jobs = &w->ring[w->head];
      const bool keyed = hasKey_;
      if (keyed) memcpy(priv, key_, 32);
      lk.unlock();
      m = runSends(jobs, m, keyed ? priv : nullptr);
      lk.lock();
      w->head = (w->head + m) % capacity_;
      w->count -= m;
      continue;
    }
    w->sleeping = true;
    w->cv.wait(lk);
    w->sleeping = false;
  }
}

void CryptoPool::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& w : workers_) {
      discarded_.fetch_add(w->count, std::memory_order_relaxed);
      w->cv.notify_one();
    }
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& w : workers_) w->count = 0;
}

PoolStats CryptoPool::stats() const {
  PoolStats s;
  s.opened = opened_.load(std::memory_order_relaxed);
  s.sealed = sealed_.load(std::memory_order_relaxed);
  s.sent = sent_.load(std::memory_order_relaxed);
  s.sealErrors = sealErrors_.load(std::memory_order_relaxed);
  s.sendErrors = sendErrors_.load(std::memory_order_relaxed);
  s.queueDrops = queueDrops_.load(std::memory_order_relaxed);
  s.discarded = discarded_.load(std::memory_order_relaxed);
  s.sendRetries = sendRetries_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace discv4
