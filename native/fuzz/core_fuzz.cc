// libFuzzer target for the native core (native/core.h): the packet entry
// points `open` and `seal`, and `recover`, `sign`, `publicKey`, `keccak256`
// under them. Built and run by scripts/fuzz-native.sh with
// -fsanitize=fuzzer,address,undefined; see docs/fuzzing.md.
//
// Per input:
//  1. open(input): any status 0..4, and the size checks come first
//     (TooSmall below 98 bytes, TooLarge above 1280, whatever the content).
//     Also at an odd address (the receive slab gives no alignment).
//  2. The input with its outer hash recomputed: open gets past the hash check
//     and runs recovery on whatever signature bytes the input holds; it must
//     end in Ok or BadSignature, never BadHash.
//  3. With at least 32 + 98 bytes: key = input[0:32], packet = a copy of
//     input[32:]. seal must fail with BadKey exactly when publicKey does;
//     otherwise it writes only the 97-byte head, the hash it writes is
//     keccak256(packet[32:]), and open of the sealed copy must verify (Ok,
//     or TooLarge above 1280 bytes) and recover exactly publicKey(key).
//  4. recover(input[0:64], input[64], input[65:97]): Ok or BadSignature;
//     and sign(input[65:97] as a hash, key) then recover gives publicKey(key)
//     for every hash, including hashes >= n (our reduced RFC6979 nonce).
//
// A broken expectation calls __builtin_trap() so libFuzzer saves the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core.h"

namespace {

using namespace discv4;

[[noreturn]] void fail() { __builtin_trap(); }

void check(bool ok) {
  if (!ok) fail();
}

bool validStatus(int32_t st) { return st >= kOk && st <= kBadSignature; }

/** open() with the size rules checked; returns its status. */
int32_t openChecked(const uint8_t* pkt, size_t len, uint8_t id[64]) {
  int32_t st = open(pkt, len, id);
  check(validStatus(st));
  if (len < kMinPacketSize) check(st == kTooSmall);
  else if (len > kMaxPacketSize) check(st == kTooLarge);
  else check(st != kTooSmall && st != kTooLarge);
  return st;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!init()) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint8_t id[64];
  uint8_t id2[64];

  // 1. The input as a datagram, as it is (an exact-size heap copy, so
  //    AddressSanitizer sees any read past its end), then at an odd address.
  int32_t st = openChecked(data, size, id);
  std::vector<uint8_t> odd(size + 1);
  if (size > 0) std::memcpy(odd.data() + 1, data, size);
  check(openChecked(odd.data() + 1, size, id2) == st);
  if (st == kOk) check(std::memcmp(id, id2, 64) == 0);

  // 2. The outer hash made right: recovery on the input's signature bytes.
  if (size >= kMinPacketSize && size <= kMaxPacketSize) {
    std::vector<uint8_t> rehashed(data, data + size);
    keccak256(rehashed.data() + kHashSize, size - kHashSize, rehashed.data());
    st = openChecked(rehashed.data(), size, id);
    check(st == kOk || st == kBadSignature);
  }

  if (size < 32) return 0;
  const uint8_t* key = data;
  uint8_t pub[64];
  int32_t pubSt = publicKey(key, pub);
  check(pubSt == kOk || pubSt == kBadKey);

  // 3. seal a copy of input[32:] with input[0:32], then open it.
  if (size - 32 >= kMinPacketSize) {
    size_t len = size - 32;
    std::vector<uint8_t> pkt(data + 32, data + size);
    st = seal(pkt.data(), len, key);
    if (pubSt == kBadKey) {
      check(st == kBadKey);
    } else {
      check(st == kOk);
      // Only the head is written: type || data is what was given.
      check(std::memcmp(pkt.data() + kHeadSize, data + 32 + kHeadSize, len - kHeadSize) == 0);
      uint8_t digest[32];
      keccak256(pkt.data() + kHashSize, len - kHashSize, digest);
      check(std::memcmp(digest, pkt.data(), 32) == 0);
      st = openChecked(pkt.data(), len, id);
      if (len <= kMaxPacketSize) {
        check(st == kOk);
        check(std::memcmp(id, pub, 64) == 0);
      }
    }
  } else if (size - 32 > 0) {
    std::vector<uint8_t> pkt(data + 32, data + size);
    check(seal(pkt.data(), pkt.size(), key) == kTooSmall);
  }

  // 4. recover on raw bytes; sign then recover on any 32-byte hash.
  if (size >= 97) {
    st = recover(data, data[64], data + 65, id);
    check(st == kOk || st == kBadSignature);
    if (data[64] > 3) check(st == kBadSignature);
    uint8_t sig[65];
    st = sign(data + 65, key, sig);
    check(st == pubSt);
    if (st == kOk) {
      check(sig[64] <= 3);
      check(recover(sig, sig[64], data + 65, id) == kOk);
      check(std::memcmp(id, pub, 64) == 0);
    }
  }
  return 0;
}
