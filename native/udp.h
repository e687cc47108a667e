// Native UDP socket on Node's own libuv loop (udp.cc). Datagrams are read
// with recvmmsg into one reused slab and handed to JS once per kernel batch;
// src/transport/native-socket.ts is the only JS user.
//
// The numbers JS relies on are defined here: what send() returns, the
// per-datagram record JS reads, and the argument limits. Their TypeScript
// definitions are in src/crypto/native.ts (SendResult, RecordStatus,
// DatagramRecord, UdpLimit); the addon exports the values (addon.cc
// `contract`), src/crypto/native.ts checks them at load and
// test/native-contract.test.ts checks this header by name.
#pragma once

#include <napi.h>

#include <cstdint>

#include "core.h"

namespace discv4 {

// UdpSocket send() / sealSend() results; negative values are libuv errnos.
enum class SendResult : int32_t {
  kSent = 0,                 // sent, or handed to a worker / the batch's sendmmsg
  kQueued = 1,               // socket buffer full: copied into libuv's send queue
  kDropped = 2,              // a bounded queue was full: not sent
  kBadKey = Status::kBadKey, // sealSend() before setKey(), or setKey() with an invalid key
};

// One record per datagram of the receive batch, after the slab in the shared
// memory: JS reads it as int32 words and bytes at these offsets.
struct Meta {
  int32_t off;     // of the datagram in the slab
  int32_t len;
  int32_t family;  // 4 or 6 (IPv4-mapped IPv6 sources are unwrapped to 4)
  int32_t port;
  uint8_t ip[16];  // 4 bytes used for family 4
  // A RecordStatus below until openBatch(), then open()'s core.h Status.
  int32_t status;
  int32_t reserved[3];
  uint8_t id[kNodeIdSize];  // the sender's node id when status == kOk
};
static_assert(sizeof(Meta) == 112, "src/crypto/native.ts DatagramRecord.Size");

// Meta::status before the crypto.
enum RecordStatus : int32_t {
  kToOpen = -1,  // recorded: openBatch() opens it
  kSkip = -2,    // set by JS: rejected before the crypto, not opened
};

// Limits of the UdpSocket constructor's arguments.
enum UdpLimit : uint32_t {
  kMaxThreads = 256,       // `threads`: the JS thread plus up to 255 workers
  kMaxWorkQueue = 65536,   // `workQueue`: datagrams each worker holds
};

// Adds the `UdpSocket` class to `exports`.
void registerUdp(Napi::Env env, Napi::Object exports);

}  // namespace discv4
