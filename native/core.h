// discv4 native core: keccak256, secp256k1 and the in-place packet seal/open.
//
// Plain C++ with no Node dependency, so the N-API layer (addon.cc), the
// fuzz targets and any native worker threads share one implementation.
// Every function writes into caller-owned memory and returns a status code;
// nothing here allocates.
#pragma once

#include <cstddef>
#include <cstdint>

namespace discv4 {

// Packet layout (devp2p discv4.md):
//   hash(32) || signature(65: r || s || recid) || packet-type(1) || packet-data
constexpr size_t kHashSize = 32;
constexpr size_t kSignatureSize = 65;
constexpr size_t kHeadSize = kHashSize + kSignatureSize;  // 97: seal's headroom
constexpr size_t kMinPacketSize = kHeadSize + 1;          // 98: head + type byte
constexpr size_t kMaxPacketSize = 1280;                   // discv4.md: max datagram
constexpr size_t kNodeIdSize = 64;                        // uncompressed key sans 0x04

// What the functions below return. The TypeScript side is src/errors.ts
// NativeStatus (open()'s 0..4 are also DecodeStatus 0..4); the addon exports
// these values (addon.cc `contract`), src/crypto/native.ts checks them at load
// and test/native-contract.test.ts checks this header by name. The sizes
// above are checked against src/wire/types.ts the same way (kHashSize <->
// HASH_SIZE).
enum Status : int32_t {
  kOk = 0,
  kTooSmall = 1,      // open: datagram shorter than 98 bytes
  kTooLarge = 2,      // open: datagram longer than 1280 bytes
  kBadHash = 3,       // open: packet[0:32] != keccak256(packet[32:])
  kBadSignature = 4,  // open: recovery failed (r/s out of range, recid > 3, x not on curve)
  kBadKey = 5,        // sign/seal/publicKey: private key zero or >= n
  kRange = 6,         // an offset/length pointed outside the buffer
};

// Initialise the shared secp256k1 context (idempotent, thread-safe).
// Returns false if the context could not be created.
bool init();

void keccak256(const uint8_t* in, size_t len, uint8_t out[32]);

// out64 = X || Y of priv * G.
int32_t publicKey(const uint8_t priv[32], uint8_t out64[64]);

// RFC6979, low-S recoverable signature over a 32-byte hash.
// out65 = r || s || recid.
int32_t sign(const uint8_t hash[32], const uint8_t priv[32], uint8_t out65[65]);

// Recovers the 64-byte node id from r || s, the recovery id and the hash.
int32_t recover(const uint8_t sig64[64], uint32_t recid, const uint8_t hash[32],
                uint8_t out64[64]);

// seal: `pkt` holds 97 bytes of headroom followed by type || RLP, `len` bytes
// in all. Signs keccak256(pkt[97:]), writes the signature at pkt[32:97], then
// writes keccak256(pkt[32:]) at pkt[0:32].
int32_t seal(uint8_t* pkt, size_t len, const uint8_t priv[32]);

// open: checks size, then the outer hash, then recovers the sender's node id
// into outId. The order (cheap checks first) matches geth's v4wire.Decode.
int32_t open(const uint8_t* pkt, size_t len, uint8_t outId[64]);

}  // namespace discv4
