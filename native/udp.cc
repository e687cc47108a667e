// Native UDP socket: a uv_udp_t on Node's own event loop that reads with
// recvmmsg into one reused slab and calls into JS once per kernel batch.
//
// Why: Node's dgram allocates a Buffer and an rinfo object (with a string
// address) per datagram and makes one JS call per datagram. Here the only
// per-datagram work on the receive path is libuv's recvmmsg bookkeeping and a
// 112-byte metadata record (udp.h Meta); JS is entered once per batch with a
// count and walks the metadata (src/transport/native-socket.ts).
//
// Memory: one calloc'd block = the slab (kChunks x 64 KiB, what libuv's
// recvmmsg fills) followed by kChunks metadata records. JS sees it through
// ONE external ArrayBuffer created at construction. The block is reference
// counted between the native socket and that ArrayBuffer, so a JS view kept
// after close() (or a transferred ArrayBuffer) never points at freed memory,
// and the native side never writes into memory JS has released.
//
// Lifetime: the uv handle lives in a separate heap block (UdpHandle) that is
// freed only in uv_close's callback, because uv_close is asynchronous and the
// JS object may be finalized before that callback runs (env teardown). While
// the handle is open the JS object holds a strong reference to itself
// (ObjectWrap::Ref), so GC cannot finalize an open socket; an env cleanup
// hook closes handles the program forgot when the env (a worker, the main
// thread at exit) is torn down.
#include "udp.h"

#include "args.h"
#include "core.h"
#include "pool.h"

#include <uv.h>
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace discv4 {
namespace {

// libuv's UV__UDP_DGRAM_MAXSIZE (private to libuv): with UV_UDP_RECVMMSG the
// buffer from alloc_cb is cut into chunks of this size, one datagram each.
// 64 KiB holds any UDP payload over IPv4/IPv6 (no jumbograms), so the kernel
// never truncates.
constexpr size_t kChunkSize = 64 * 1024;
// libuv reads at most 20 datagrams per recvmmsg call (`peers[20]` in
// uv__udp_recvmmsg, libuv 1.x); more chunks would never be filled.
constexpr uint32_t kChunks = 20;
constexpr size_t kSlabSize = kChunkSize * kChunks;

// The metadata records (udp.h Meta) follow the slab.
static_assert(kSlabSize % alignof(Meta) == 0, "metadata follows the slab");
// The prefix of an IPv4-mapped IPv6 address (::ffff:a.b.c.d).
constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

constexpr size_t kMemSize = kSlabSize + kChunks * sizeof(Meta);
// Datagrams each worker holds for sending (~1.3 KiB each) by default; at most
// kMaxWorkQueue (udp.h).
constexpr uint32_t kWorkQueue = 2048;
// The pool's job size: discv4's maximum packet.
constexpr uint32_t kMaxPooledDatagram = kMaxPacketSize;
// Replies held during one receive batch for one sendmmsg (a batch of 20
// pings makes 20 pongs; ping-backs and neighbors add some).
constexpr uint32_t kOutMax = 64;

struct OutBatch {
  uint8_t data[kOutMax][kMaxPooledDatagram];
  uint32_t len[kOutMax];
  sockaddr_storage addr[kOutMax];
  socklen_t addrLen[kOutMax];
  uint32_t count = 0;
};

#ifdef __linux__
// Linux reports SO_RCVBUF/SO_SNDBUF as twice the requested size (the extra
// half is its bookkeeping); we report sizes in the units that were asked for.
constexpr int kKernelBufferFactor = 2;
#else
constexpr int kKernelBufferFactor = 1;
#endif

// The slab + metadata block, owned jointly by the native socket and the JS
// ArrayBuffer over it; whichever lets go last frees it. Atomic because a
// transferred ArrayBuffer may be released on another thread.
struct SharedMem {
  std::atomic<int> refs{2};
  uint8_t* data = nullptr;
};

void releaseMem(SharedMem* m) {
  if (m->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    free(m->data);
    delete m;
  }
}

void finalizeMem(napi_env, void*, void* hint) { releaseMem(static_cast<SharedMem*>(hint)); }

class UdpSocket;

// The part libuv points at (udp.data == this). Freed in the close callback.
struct UdpHandle {
  uv_udp_t udp;
  UdpSocket* owner = nullptr;  // null once the JS object or the env is gone
  napi_env env = nullptr;
  bool cleanupHook = false;  // registered with napi_add_env_cleanup_hook
};

// A queued send: the request and a copy of the datagram in one malloc, so
// the caller's buffer is free as soon as send() returns. Slow path only.
struct SendReq {
  uv_udp_send_t req;
  uint8_t data[1];
};

class UdpSocket : public Napi::ObjectWrap<UdpSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UdpSocket",
                       {
                           InstanceMethod<&UdpSocket::Bind>("bind"),
                           InstanceMethod<&UdpSocket::SetBufferSizes>("setBufferSizes"),
                           InstanceMethod<&UdpSocket::RecvStart>("recvStart"),
                           InstanceMethod<&UdpSocket::StartDelivery>("startDelivery"),
                           InstanceMethod<&UdpSocket::Send>("send"),
                           InstanceMethod<&UdpSocket::SetKey>("setKey"),
                           InstanceMethod<&UdpSocket::OpenBatch>("openBatch"),
                           InstanceMethod<&UdpSocket::SealSend>("sealSend"),
                           InstanceMethod<&UdpSocket::Address>("address"),
                           InstanceMethod<&UdpSocket::Close>("close"),
                           InstanceMethod<&UdpSocket::RefHandle>("ref"),
                           InstanceMethod<&UdpSocket::UnrefHandle>("unref"),
                           InstanceMethod<&UdpSocket::Stats>("stats"),
                       });
  }

  // new UdpSocket(family: 4|6, onBatch(count), onError(err)|undefined,
  //               maxSendQueue, trySend, threads, workQueue?)
  explicit UdpSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpSocket>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 6 || !info[0].IsNumber() || !info[1].IsFunction() || !info[3].IsNumber() ||
        !info[4].IsBoolean() || !info[5].IsNumber()) {
      Napi::TypeError::New(env, "UdpSocket(family, onBatch, onError, maxSendQueue, trySend, threads)")
          .ThrowAsJavaScriptException();
      return;
    }
    uint32_t threads = info[5].As<Napi::Number>().Uint32Value();
    if (threads < 1 || threads > kMaxThreads) {
      Napi::RangeError::New(env, "UdpSocket: threads must be 1.." + std::to_string(kMaxThreads))
          .ThrowAsJavaScriptException();
      return;
    }
    family_ = info[0].As<Napi::Number>().Int32Value();
    if (family_ != 4 && family_ != 6) {
      Napi::TypeError::New(env, "UdpSocket: family must be 4 or 6").ThrowAsJavaScriptException();
      return;
    }
    onBatch_ = Napi::Persistent(info[1].As<Napi::Function>());
    if (info[2].IsFunction()) onError_ = Napi::Persistent(info[2].As<Napi::Function>());
    maxSendQueue_ = info[3].As<Napi::Number>().Uint32Value();
    trySend_ = info[4].As<Napi::Boolean>().Value();
    threads_ = threads;
    // The caller's thread is one of the `threads`: threads - 1 workers.
    uint32_t workQueue = kWorkQueue;
    if (info.Length() > 6 && info[6].IsNumber()) workQueue = info[6].As<Napi::Number>().Uint32Value();
    if (workQueue < 1 || workQueue > kMaxWorkQueue) {
      Napi::RangeError::New(env, "UdpSocket: workQueue must be 1.." + std::to_string(kMaxWorkQueue))
          .ThrowAsJavaScriptException();
      return;
    }
    if (threads > 1) pool_ = std::make_unique<CryptoPool>(threads - 1, workQueue);

    // The slab and metadata, allocated once for the socket's whole life.
    // calloc: JS can see the whole slab, so never hand it stale heap bytes.
    auto* data = static_cast<uint8_t*>(calloc(1, kMemSize));
    if (data == nullptr) {
      Napi::Error::New(env, "UdpSocket: out of memory").ThrowAsJavaScriptException();
      return;
    }
    auto* mem = new SharedMem();
    mem->data = data;
    napi_value ab;
    if (napi_create_external_arraybuffer(env, data, kMemSize, finalizeMem, mem, &ab) != napi_ok) {
      free(data);
      delete mem;
      Napi::Error::New(env, "UdpSocket: cannot create the receive buffer").ThrowAsJavaScriptException();
      return;
    }
    mem_ = mem;
    slab_ = data;
    meta_ = reinterpret_cast<Meta*>(data + kSlabSize);
    Napi::Object self = info.This().As<Napi::Object>();
    self.Set("memory", Napi::Value(env, ab));
    self.Set("slabSize", Napi::Number::New(env, double(kSlabSize)));
    self.Set("metaCount", Napi::Number::New(env, kChunks));
    self.Set("metaSize", Napi::Number::New(env, double(sizeof(Meta))));

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      Napi::Error::New(env, "UdpSocket: no event loop").ThrowAsJavaScriptException();
      return;
    }
    auto* h = new UdpHandle();
    // UV_UDP_RECVMMSG: read up to 20 datagrams per syscall where the
    // platform has recvmmsg (Linux, FreeBSD); elsewhere libuv falls back to
    // one recvmsg per datagram and we deliver each on its own.
    int r = uv_udp_init_ex(loop, &h->udp, (family_ == 6 ? AF_INET6 : AF_INET) | UV_UDP_RECVMMSG);
    if (r != 0) {
      delete h;  // never initialised, nothing for libuv to close
      Napi::Error::New(env, std::string("UdpSocket: ") + uv_err_name(r) + ": " + uv_strerror(r))
          .ThrowAsJavaScriptException();
      return;
    }
    h->udp.data = h;
    h->owner = this;
    h->env = env;
    h->cleanupHook = napi_add_env_cleanup_hook(env, OnEnvCleanup, h) == napi_ok;
    h_ = h;
    // A context for MakeCallback, so async_hooks / AsyncLocalStorage and the
    // nextTick + microtask drain after each batch work as for dgram.
    async_ = std::make_unique<Napi::AsyncContext>(env, "discv4:UdpSocket");
    // An open socket keeps its JS object (and so this) alive, like dgram.
    Ref();
  }

  ~UdpSocket() override {
    // Workers send on the socket's fd: they stop before it closes.
    if (pool_) pool_->stop();
    if (h_ != nullptr) {
      // Reached only at env teardown without the cleanup hook having run
      // (an open socket holds a strong reference to its JS object). Detach
      // so the close callback does not touch this, then close the handle:
      // the loop still exists while the env is being torn down.
      UdpHandle* h = h_;
      h_ = nullptr;
      h->owner = nullptr;
      if (h->cleanupHook) {
        napi_remove_env_cleanup_hook(h->env, OnEnvCleanup, h);
        h->cleanupHook = false;
      }
      if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&h->udp))) {
        uv_close(reinterpret_cast<uv_handle_t*>(&h->udp), OnClose);
      }
    }
    if (mem_ != nullptr) releaseMem(mem_);
  }

 private:
  bool isOpen() const { return h_ != nullptr && !closing_; }

  static Napi::Value Int(const Napi::CallbackInfo& info, int32_t v) { return Napi::Number::New(info.Env(), v); }
  static Napi::Value Int(const Napi::CallbackInfo& info, SendResult v) { return Int(info, int32_t(v)); }

  // bind(ip: string, port) -> 0 or a negative libuv errno.
  Napi::Value Bind(const Napi::CallbackInfo& info) {
    if (!isOpen()) return Int(info, UV_EBADF);
    uint32_t port = 0;
    if (info.Length() < 2 || !info[0].IsString() || !u32Arg(info.Env(), info[1], &port) || port > 65535) {
      return Int(info, UV_EINVAL);
    }
    std::string ip = info[0].As<Napi::String>().Utf8Value();
    sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int r = family_ == 4 ? uv_ip4_addr(ip.c_str(), int(port), reinterpret_cast<sockaddr_in*>(&ss))
                         : uv_ip6_addr(ip.c_str(), int(port), reinterpret_cast<sockaddr_in6*>(&ss));
    if (r != 0) return Int(info, r);
    // No UV_UDP_IPV6ONLY: an IPv6 socket on '::' is dual-stack, as with dgram.
    return Int(info, uv_udp_bind(&h_->udp, reinterpret_cast<const sockaddr*>(&ss), 0));
  }

  // Sets SO_RCVBUF / SO_SNDBUF to `want` bytes and returns what the kernel
  // granted in the same units. Linux caps requests at net.core.[rw]mem_max;
  // with CAP_NET_ADMIN (root) SO_*BUFFORCE goes past the cap, otherwise it
  // fails with EPERM and the capped size stays.
  int ApplyBufferSize(bool recv, int want) {
    auto* handle = reinterpret_cast<uv_handle_t*>(&h_->udp);
    auto size = recv ? uv_recv_buffer_size : uv_send_buffer_size;
    if (want > 0) {
      int v = want;
      size(handle, &v);
    }
    int got = 0;  // 0 = get
    if (size(handle, &got) != 0) return 0;
    got /= kKernelBufferFactor;
#if defined(SO_RCVBUFFORCE) && defined(SO_SNDBUFFORCE)
    if (want > 0 && got < want) {
      uv_os_fd_t fd;
      if (uv_fileno(handle, &fd) == 0 &&
          setsockopt(fd, SOL_SOCKET, recv ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, &want, sizeof want) == 0) {
        got = 0;
        if (size(handle, &got) != 0) return 0;
        got /= kKernelBufferFactor;
      }
    }
#endif
    return got;
  }

  // setBufferSizes(recv, send): 0 leaves a size as it is.
  Napi::Value SetBufferSizes(const Napi::CallbackInfo& info) {
    if (!isOpen()) return Int(info, UV_EBADF);
    uint32_t recv = 0, send = 0;
    if (!u32Arg(info.Env(), info[0], &recv) || !u32Arg(info.Env(), info[1], &send)) return Int(info, UV_EINVAL);
    recvBufferSize_ = ApplyBufferSize(true, int(recv > INT32_MAX ? INT32_MAX : recv));
    sendBufferSize_ = ApplyBufferSize(false, int(send > INT32_MAX ? INT32_MAX : send));
    return Int(info, 0);
  }

  // recvStart() -> 0 or errno. Started at bind time (an open socket keeps
  // the loop alive, like dgram); datagrams are dropped and counted as
  // `unhandled` until startDelivery().
  Napi::Value RecvStart(const Napi::CallbackInfo& info) {
    if (!isOpen()) return Int(info, UV_EBADF);
    int r = uv_udp_recv_start(&h_->udp, OnAlloc, OnRecv);
    recvmmsg_ = uv_udp_using_recvmmsg(&h_->udp);
    return Int(info, r);
  }

  // startDelivery(): the JS side has its handler; datagrams go to it from now on.
  Napi::Value StartDelivery(const Napi::CallbackInfo& info) {
    delivering_ = true;
    return info.Env().Undefined();
  }

  // send(buf, off, len, ip(4|16 bytes), port) -> a udp.h SendResult: kSent,
  // kQueued (copied into the send queue), kDropped (queue full), or a
  // negative libuv errno (nothing sent, nothing kept). With worker threads
  // the datagram is copied into the queue of the worker that owns its
  // destination (kSent).
  Napi::Value Send(const Napi::CallbackInfo& info) { return SendImpl(info, false); }

  // sealSend(buf, off, len, ip, port): seals buf[off, off+len) (97 bytes of
  // headroom, then type || RLP) with the key from setKey() and sends it;
  // same results as send(). Inline, the buffer is sealed in place; with
  // workers, a copy is sealed on the destination's worker.
  Napi::Value SealSend(const Napi::CallbackInfo& info) { return SendImpl(info, true); }

  Napi::Value SendImpl(const Napi::CallbackInfo& info, bool seal) {
    napi_env env = info.Env();
    if (!isOpen()) return Int(info, UV_EBADF);
    Bytes buf, ip;
    uint32_t off = 0, len = 0, port = 0;
    if (info.Length() < 5 || !bytesArg(env, info[0], &buf) || !u32Arg(env, info[1], &off) ||
        !u32Arg(env, info[2], &len) || !bytesArg(env, info[3], &ip) || !u32Arg(env, info[4], &port)) {
      return Int(info, UV_EINVAL);
    }
    if (size_t(off) > buf.len || buf.len - off < len || port == 0 || port > 65535) return Int(info, UV_EINVAL);
    if (seal && !hasKey_) return Int(info, SendResult::kBadKey);

    sockaddr_storage ss;
    socklen_t ssLen = 0;
    int r = makeDest(ip, port, &ss, &ssLen);
    if (r != 0) return Int(info, r);
    const auto* sa = reinterpret_cast<const sockaddr*>(&ss);
    static uint8_t empty[1];
    uint8_t* data = len > 0 ? buf.data + off : empty;

    // Workers send once the pipeline is on (setKey): then every datagram to
    // a destination goes through its worker's queue, in order. Before that,
    // and for datagrams no discv4 packet reaches (> 1280 bytes), inline.
    if (pool_ && hasKey_ && len <= kMaxPooledDatagram) {
      if (fd_ < 0) {
        uv_os_fd_t fd;
        if (uv_fileno(reinterpret_cast<uv_handle_t*>(&h_->udp), &fd) != 0) return Int(info, UV_EBADF);
        fd_ = int(fd);
      }
      if (!pool_->submit(fd_, data, len, sa, ssLen, seal)) {
        sendDropped_++;
        return Int(info, SendResult::kDropped);
      }
      return Int(info, SendResult::kSent);
    }
    if (seal) {
      int32_t st = discv4::seal(data, len, key_);
      if (st != kOk) return st == kBadKey ? Int(info, SendResult::kBadKey) : Int(info, UV_EINVAL);
      sealed_++;
    }
#ifdef __linux__
    // Inside a receive batch, replies wait and leave together in one
    // sendmmsg when the batch is done (OutFlush): one syscall, and the
    // receiver is woken once per batch rather than per datagram.
    if (inCallback_ && trySend_ && len <= kMaxPooledDatagram) {
      if (out_ == nullptr) out_ = std::make_unique<OutBatch>();
      if (out_->count == kOutMax) OutFlush();
      const uint32_t k = out_->count++;
      memcpy(out_->data[k], data, len);
      out_->len[k] = len;
      memcpy(&out_->addr[k], &ss, ssLen);
      out_->addrLen[k] = ssLen;
      return Int(info, SendResult::kSent);
    }
#endif
    return SendNow(data, len, sa);
  }

  // Sends one datagram now: a synchronous try first, then libuv's bounded queue.
  Napi::Value SendNow(uint8_t* data, uint32_t len, const sockaddr* sa) {
    Napi::Env env = Env();
    const int32_t r = SendNowRaw(data, len, sa);
    return Napi::Number::New(env, r);
  }

  int32_t SendNowRaw(uint8_t* data, uint32_t len, const sockaddr* sa) {
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(data), len);

    if (trySend_) {
      // Synchronous sendmsg, no request. libuv answers EAGAIN itself while
      // earlier datagrams wait in the queue, so order is kept.
      int tr = uv_udp_try_send(&h_->udp, &b, 1, sa);
      if (tr >= 0) {
        sendTry_++;
        return int32_t(SendResult::kSent);
      }
      if (tr != UV_EAGAIN && tr != UV_ENOBUFS) {
        sendErrors_++;
        return tr;
      }
    }
    return Enqueue(data, len, sa);
  }

  // Socket buffer full: copy into the bounded queue libuv drains when the
  // socket is writable. send_queue_count includes finished sends whose
  // callbacks have not run yet, so the bound is conservative.
  int32_t Enqueue(const uint8_t* data, uint32_t len, const sockaddr* sa) {
    if (h_->udp.send_queue_count >= maxSendQueue_) {
      sendDropped_++;
      return int32_t(SendResult::kDropped);
    }
    auto* req = static_cast<SendReq*>(malloc(offsetof(SendReq, data) + (len > 0 ? len : 1)));
    if (req == nullptr) {
      sendDropped_++;
      return int32_t(SendResult::kDropped);
    }
    if (len > 0) memcpy(req->data, data, len);
    uv_buf_t qb = uv_buf_init(reinterpret_cast<char*>(req->data), len);
    int r = uv_udp_send(&req->req, &h_->udp, &qb, 1, sa, OnSend);
    if (r != 0) {
      free(req);
      sendErrors_++;
      return r;
    }
    sendQueued_++;
    return int32_t(SendResult::kQueued);
  }

  // Sends the replies held during a receive batch: sendmmsg, in order; what
  // the socket buffer cannot take goes to libuv's queue (also in order).
  void OutFlush() {
#ifdef __linux__
    if (out_ == nullptr || out_->count == 0 || h_ == nullptr) return;
    OutBatch& o = *out_;
    const uint32_t n = o.count;
    o.count = 0;
    uint32_t i = 0;
    uv_os_fd_t fd;
    // Datagrams already waiting in libuv's queue go first: never overtake them.
    if (h_->udp.send_queue_count == 0 && uv_fileno(reinterpret_cast<uv_handle_t*>(&h_->udp), &fd) == 0) {
      mmsghdr msgs[kOutMax];
      iovec iov[kOutMax];
      for (uint32_t k = 0; k < n; k++) {
        iov[k].iov_base = o.data[k];
        iov[k].iov_len = o.len[k];
        memset(&msgs[k], 0, sizeof msgs[k]);
        msgs[k].msg_hdr.msg_name = &o.addr[k];
        msgs[k].msg_hdr.msg_namelen = o.addrLen[k];
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
      }
      while (i < n) {
        int r = sendmmsg(int(fd), msgs + i, n - i, 0);
        if (r > 0) {
          sendTry_ += uint64_t(r);
          i += uint32_t(r);
          continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
          // This datagram failed (unreachable family...): count it, go on.
          sendErrors_++;
          i++;
          continue;
        }
        break;  // buffer full: the rest queue below
      }
    }
    for (; i < n; i++) Enqueue(o.data[i], o.len[i], reinterpret_cast<const sockaddr*>(&o.addr[i]));
#endif
  }

  // The socket address for ip (4 or 16 bytes) and port on this socket's
  // family: 0, or a negative libuv errno.
  int makeDest(const Bytes& ip, uint32_t port, sockaddr_storage* ss, socklen_t* len) const {
    memset(ss, 0, sizeof *ss);
    if (ip.len == 4 && family_ == 4) {
      auto* a = reinterpret_cast<sockaddr_in*>(ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(uint16_t(port));
      memcpy(&a->sin_addr, ip.data, 4);
      *len = sizeof(sockaddr_in);
    } else if (ip.len == 4 || (ip.len == 16 && family_ == 6)) {
      // An IPv6 socket reaches IPv4 peers through ::ffff:a.b.c.d.
      auto* a = reinterpret_cast<sockaddr_in6*>(ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(uint16_t(port));
      uint8_t* dst = reinterpret_cast<uint8_t*>(&a->sin6_addr);
      if (ip.len == 4) {
        dst[10] = 0xff;
        dst[11] = 0xff;
        memcpy(dst + 12, ip.data, 4);
      } else {
        memcpy(dst, ip.data, 16);
      }
      *len = sizeof(sockaddr_in6);
    } else if (ip.len == 16) {
      // IPv4 socket: only an IPv4-mapped IPv6 destination is reachable.
      if (memcmp(ip.data, kMapped, 12) != 0) return UV_EAFNOSUPPORT;
      auto* a = reinterpret_cast<sockaddr_in*>(ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(uint16_t(port));
      memcpy(&a->sin_addr, ip.data + 12, 4);
      *len = sizeof(sockaddr_in);
    } else {
      return UV_EINVAL;
    }
    return 0;
  }

  // setKey(priv: 32 bytes) -> 0, or SendResult::kBadKey for an invalid key.
  // The key sealSend() signs with.
  Napi::Value SetKey(const Napi::CallbackInfo& info) {
    Bytes priv;
    if (info.Length() < 1 || !bytesArg(info.Env(), info[0], &priv) || priv.len != 32) return Int(info, UV_EINVAL);
    uint8_t id[64];
    if (discv4::publicKey(priv.data, id) != kOk) return Int(info, SendResult::kBadKey);
    memcpy(key_, priv.data, 32);
    hasKey_ = true;
    if (pool_) pool_->setKey(key_);
    return Int(info, 0);
  }

  // openBatch(count): verifies the first `count` datagrams of the batch
  // being delivered whose status is still kToOpen (JS marks rejects kSkip),
  // on all threads, writing status and sender id into their records.
  Napi::Value OpenBatch(const Napi::CallbackInfo& info) {
    uint32_t n = 0;
    if (!inCallback_ || meta_ == nullptr || info.Length() < 1 || !u32Arg(info.Env(), info[0], &n) || n > kChunks) {
      return Int(info, UV_EINVAL);
    }
    OpenJob jobs[kChunks];
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
      Meta& m = meta_[i];
      if (m.status != kToOpen) continue;
      jobs[k++] = OpenJob{slab_ + m.off, uint32_t(m.len), &m.status, m.id};
    }
    if (pool_) {
      pool_->open(jobs, k);
    } else {
      for (uint32_t i = 0; i < k; i++) *jobs[i].status = discv4::open(jobs[i].pkt, jobs[i].len, jobs[i].outId);
    }
    opened_ += k;
    return Int(info, int32_t(k));
  }

  // address() -> { address, port, family } or a negative errno.
  Napi::Value Address(const Napi::CallbackInfo& info) {
    if (!isOpen()) return Int(info, UV_EBADF);
    sockaddr_storage ss;
    int len = sizeof ss;
    int r = uv_udp_getsockname(&h_->udp, reinterpret_cast<sockaddr*>(&ss), &len);
    if (r != 0) return Int(info, r);
    char name[64] = {0};
    int port = 0, family = 4;
    if (ss.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      uv_ip6_name(a, name, sizeof name);
      port = ntohs(a->sin6_port);
      family = 6;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      uv_ip4_name(a, name, sizeof name);
      port = ntohs(a->sin_port);
    }
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("address", name);
    out.Set("port", port);
    out.Set("family", family);
    return out;
  }

  // close(cb) -> true if closing started; cb runs after uv_close's callback.
  // Queued sends are cancelled by libuv (their copies freed in OnSend).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!isOpen()) return Napi::Boolean::New(info.Env(), false);
    OutFlush();  // replies of the batch being handled still leave
    closing_ = true;
    delivering_ = false;
    if (info.Length() > 0 && info[0].IsFunction()) onClose_ = Napi::Persistent(info[0].As<Napi::Function>());
    pending_ = 0;
    // recv_stop clears libuv's recv_cb, which ends its read loop at once
    // even when close() is called from inside a batch.
    uv_udp_recv_stop(&h_->udp);
    // Workers send on the fd: join them (at most one job each) before it closes.
    if (pool_) pool_->stop();
    uv_close(reinterpret_cast<uv_handle_t*>(&h_->udp), OnClose);
    return Napi::Boolean::New(info.Env(), true);
  }

  Napi::Value RefHandle(const Napi::CallbackInfo& info) {
    if (isOpen()) uv_ref(reinterpret_cast<uv_handle_t*>(&h_->udp));
    return info.Env().Undefined();
  }

  Napi::Value UnrefHandle(const Napi::CallbackInfo& info) {
    if (isOpen()) uv_unref(reinterpret_cast<uv_handle_t*>(&h_->udp));
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("datagrams", double(datagrams_));
    o.Set("batches", double(batches_));
    o.Set("maxBatch", double(maxBatch_));
    o.Set("truncated", double(truncated_));
    o.Set("unhandled", double(unhandled_));
    o.Set("sendTry", double(sendTry_));
    o.Set("sendQueued", double(sendQueued_));
    o.Set("sendDropped", double(sendDropped_));
    o.Set("sendErrors", double(sendErrors_));
    o.Set("recvErrors", double(recvErrors_));
    o.Set("callbackErrors", double(callbackErrors_));
    o.Set("allocRefused", double(allocRefused_));
    o.Set("sendQueueLength", h_ != nullptr ? double(h_->udp.send_queue_count) : 0.0);
    o.Set("recvBufferSize", recvBufferSize_);
    o.Set("sendBufferSize", sendBufferSize_);
    o.Set("recvmmsg", recvmmsg_);
    o.Set("slabSize", double(kSlabSize));
    o.Set("threads", double(threads_));
    o.Set("opened", double(opened_));
    if (pool_) {
      PoolStats p = pool_->stats();
      o.Set("sealed", double(sealed_ + p.sealed));
      o.Set("workerSent", double(p.sent));
      o.Set("workQueueDrops", double(p.queueDrops));
      o.Set("workerSendErrors", double(p.sendErrors));
      o.Set("workerSendRetries", double(p.sendRetries));
      o.Set("sealErrors", double(p.sealErrors));
      o.Set("discarded", double(p.discarded));
    } else {
      o.Set("sealed", double(sealed_));
      o.Set("workQueueDrops", 0.0);
    }
    return o;
  }

  // ---- libuv callbacks (loop thread; no JS on the stack) ----

  static UdpSocket* ownerOf(const void* handle) {
    return static_cast<const UdpHandle*>(static_cast<const uv_handle_t*>(handle)->data)->owner;
  }

  // Always the same slab: libuv delivers every datagram of one recvmmsg (and
  // then MMSG_FREE) before it asks for a buffer again, and we hand the batch
  // to JS before returning from MMSG_FREE, so the slab is free again here.
  static void OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    UdpSocket* s = ownerOf(handle);
    // Defensive: a batch libuv did not end with MMSG_FREE goes out first.
    if (s != nullptr && !s->inCallback_ && s->pending_ > 0) s->Flush();
    // Re-entrancy guard: never hand out the slab while JS is reading it.
    // libuv answers a null buffer with UV_ENOBUFS and tries again on the
    // next loop iteration (the fd is still readable).
    if (s == nullptr || s->inCallback_ || s->closing_ || s->slab_ == nullptr) {
      *buf = uv_buf_init(nullptr, 0);
      return;
    }
    *buf = uv_buf_init(reinterpret_cast<char*>(s->slab_), kSlabSize);
  }

  // With recvmmsg: once per datagram (UV_UDP_MMSG_CHUNK), then once with
  // UV_UDP_MMSG_FREE (nread 0, addr NULL) at the end of the batch. Without:
  // once per datagram, flags 0. nread 0 with addr NULL and no flag means
  // "nothing (more) to read" (EAGAIN); a datagram of length 0 has an addr.
  static void OnRecv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                     unsigned flags) {
    UdpSocket* s = ownerOf(handle);
    if (s == nullptr) return;
    if (flags & UV_UDP_MMSG_FREE) {
      s->Flush();
      return;
    }
    if (nread < 0) {
      if (buf == nullptr || buf->base == nullptr) {
        s->allocRefused_++;
      } else {
        s->recvErrors_++;
      }
      s->Flush();
      return;
    }
    if (addr == nullptr) {
      s->Flush();
      return;
    }
    s->Record(nread, buf, addr, flags);
    if (!(flags & UV_UDP_MMSG_CHUNK)) s->Flush();
  }

  // Notes one datagram of the current batch. No allocation: a fixed slot.
  void Record(ssize_t nread, const uv_buf_t* buf, const sockaddr* addr, unsigned flags) {
    if (closing_ || slab_ == nullptr) return;
    const uintptr_t base = reinterpret_cast<uintptr_t>(buf->base);
    const uintptr_t lo = reinterpret_cast<uintptr_t>(slab_);
    if (base < lo || base - lo > kSlabSize || kSlabSize - (base - lo) < size_t(nread)) {
      recvErrors_++;  // not our memory: cannot happen with libuv's contract
      return;
    }
    // At most kChunks datagrams per recvmmsg, so this never triggers; it
    // only keeps the metadata bounded whatever libuv does.
    if (pending_ == kChunks) Flush();
    if (pending_ == kChunks) {
      recvErrors_++;
      return;
    }
    Meta& m = meta_[pending_];
    if (addr->sa_family == AF_INET) {
      auto* a = reinterpret_cast<const sockaddr_in*>(addr);
      m.family = 4;
      m.port = ntohs(a->sin_port);
      memcpy(m.ip, &a->sin_addr, 4);
    } else if (addr->sa_family == AF_INET6) {
      auto* a = reinterpret_cast<const sockaddr_in6*>(addr);
      const uint8_t* ip = reinterpret_cast<const uint8_t*>(&a->sin6_addr);
      m.port = ntohs(a->sin6_port);
      if (memcmp(ip, kMapped, 12) == 0) {
        // A dual-stack socket sees IPv4 peers as ::ffff:a.b.c.d; report
        // them as IPv4 so replies and table entries use the 4-byte form.
        m.family = 4;
        memcpy(m.ip, ip + 12, 4);
      } else {
        m.family = 6;
        memcpy(m.ip, ip, 16);
      }
    } else {
      recvErrors_++;
      return;
    }
    m.status = kToOpen;
    m.off = int32_t(base - lo);
    // MSG_TRUNC cannot happen with 64 KiB chunks; if it ever does, the
    // datagram is still delivered with the bytes received (>= 64 KiB, so
    // > 1280 and rejected as too large by the transport) and counted.
    m.len = int32_t(nread);
    if (flags & UV_UDP_PARTIAL) truncated_++;
    pending_++;
  }

  // Hands the current batch to JS: ONE MakeCallback with the count.
  void Flush() {
    const uint32_t n = pending_;
    if (n == 0 || inCallback_) return;
    // Safe to clear before the call: nothing is recorded while JS runs
    // (OnAlloc refuses the slab during the callback).
    pending_ = 0;
    datagrams_ += n;
    if (!delivering_ || closing_) {
      unhandled_ += n;
      return;
    }
    batches_++;
    if (n > maxBatch_) maxBatch_ = n;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    inCallback_ = true;
    // MakeCallback (not Call): we are called from the event loop, so this
    // sets up the async context and drains nextTicks/microtasks afterwards,
    // exactly like dgram's 'message' events.
    onBatch_.MakeCallback(Value(), {Napi::Number::New(env, n)}, *async_);
    inCallback_ = false;
    if (!closing_) OutFlush();
    CatchPending(env);
  }

  // A JS exception escaping a callback must not stay pending in Node-API
  // (every later napi call would fail) nor kill the process: count it and
  // pass it to onError. The TS side catches per datagram, so this is only a
  // safety net.
  void CatchPending(Napi::Env env) {
    if (!env.IsExceptionPending()) return;
    Napi::Error err = env.GetAndClearPendingException();
    callbackErrors_++;
    if (!onError_.IsEmpty()) {
      onError_.MakeCallback(Value(), {err.Value()}, *async_);
      if (env.IsExceptionPending()) {
        env.GetAndClearPendingException();
        callbackErrors_++;
      }
    }
  }

  static void OnSend(uv_udp_send_t* req, int status) {
    UdpSocket* s = ownerOf(req->handle);
    // ECANCELED: the socket closed with the datagram still queued.
    if (s != nullptr && status < 0 && status != UV_ECANCELED) s->sendErrors_++;
    free(reinterpret_cast<SendReq*>(req));  // req is SendReq's first member
  }

  static void OnClose(uv_handle_t* handle) {
    auto* h = static_cast<UdpHandle*>(handle->data);
    UdpSocket* s = h->owner;
    if (h->cleanupHook) napi_remove_env_cleanup_hook(h->env, OnEnvCleanup, h);
    delete h;
    if (s != nullptr) {
      s->h_ = nullptr;
      s->Closed();
    }
  }

  // After uv_close's callback: release the slab, tell JS, let GC have us.
  void Closed() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (mem_ != nullptr) {
      releaseMem(mem_);
      mem_ = nullptr;
      slab_ = nullptr;
      meta_ = nullptr;
    }
    Napi::FunctionReference cb = std::move(onClose_);
    onBatch_.Reset();
    onError_.Reset();
    if (!cb.IsEmpty()) {
      cb.MakeCallback(Value(), {}, *async_);
      if (env.IsExceptionPending()) env.GetAndClearPendingException();
    }
    async_.reset();
    Unref();  // drop the self-reference taken in the constructor
  }

  // The env is going away (worker exit, main thread teardown) with the
  // socket still open: close the handle without calling JS. Runs before
  // Node-API finalizes wrapped objects (hooks run in reverse order of
  // registration and the addon's env registered its hook first).
  static void OnEnvCleanup(void* arg) {
    auto* h = static_cast<UdpHandle*>(arg);
    h->cleanupHook = false;  // a hook runs once; never remove it afterwards
    if (h->owner != nullptr) {
      if (h->owner->pool_) h->owner->pool_->stop();
      h->owner->h_ = nullptr;
      h->owner = nullptr;
    }
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&h->udp))) {
      uv_udp_recv_stop(&h->udp);
      uv_close(reinterpret_cast<uv_handle_t*>(&h->udp), OnClose);
    }
  }

  UdpHandle* h_ = nullptr;
  SharedMem* mem_ = nullptr;
  uint8_t* slab_ = nullptr;
  Meta* meta_ = nullptr;
  uint32_t pending_ = 0;  // datagrams recorded in the current batch

  Napi::FunctionReference onBatch_;
  Napi::FunctionReference onError_;
  Napi::FunctionReference onClose_;
  std::unique_ptr<Napi::AsyncContext> async_;

  int family_ = 4;
  uint32_t threads_ = 1;
  std::unique_ptr<CryptoPool> pool_;
  std::unique_ptr<OutBatch> out_;  // replies held during a receive batch (inline mode)
  int fd_ = -1;  // the socket's fd, for the workers' sendto
  uint8_t key_[32] = {0};
  bool hasKey_ = false;
  uint64_t opened_ = 0;
  uint64_t sealed_ = 0;
  uint32_t maxSendQueue_ = 4096;
  bool trySend_ = true;
  bool delivering_ = false;
  bool closing_ = false;
  bool inCallback_ = false;
  int recvmmsg_ = 0;  // 1 if libuv reads with recvmmsg (Linux, FreeBSD)
  int recvBufferSize_ = 0;
  int sendBufferSize_ = 0;

  uint64_t datagrams_ = 0;
  uint64_t batches_ = 0;
  uint32_t maxBatch_ = 0;
  uint64_t truncated_ = 0;
  uint64_t unhandled_ = 0;
  uint64_t sendTry_ = 0;
  uint64_t sendQueued_ = 0;
  uint64_t sendDropped_ = 0;
  uint64_t sendErrors_ = 0;
  uint64_t recvErrors_ = 0;
  uint64_t allocRefused_ = 0;
  uint64_t callbackErrors_ = 0;
};

}  // namespace

void registerUdp(Napi::Env env, Napi::Object exports) {
  exports.Set("UdpSocket", UdpSocket::Define(env));
}

}  // namespace discv4
