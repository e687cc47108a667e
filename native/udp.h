// Native UDP socket on Node's own libuv loop (udp.cc). Datagrams are read
// with recvmmsg into one reused slab and handed to JS once per kernel batch;
// src/transport/native-socket.ts is the only JS user.
#pragma once

#include <napi.h>

namespace discv4 {

// Adds the `UdpSocket` class to `exports`.
void registerUdp(Napi::Env env, Napi::Object exports);

}  // namespace discv4
