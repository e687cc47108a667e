#include "core.h"

#include <cstdint>
#include <cstring>
#include <mutex>

extern "C" {
#include "KeccakSpongeWidth1600.h"
#include "secp256k1.h"
#include "secp256k1_recovery.h"
}

namespace discv4 {
namespace {

// One context for the process: signing and recovery only read it, so all
// threads (the JS thread, worker threads, native workers) can share it.
secp256k1_context* ctx = nullptr;
std::once_flag ctxOnce;

// libsecp256k1's default callbacks abort(). Inputs reaching it from the
// network must never take the process down, so both callbacks only record
// the event and the API call returns 0, which we map to a status code.
void quietCallback(const char*, void*) {}

// The curve order n, big-endian.
constexpr uint8_t kOrder[32] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
    0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

// RFC6979 (section 2.4, bits2octets) derives the nonce from the message
// reduced mod n. The libsecp256k1 revision shipped in the `secp256k1` npm
// package feeds the unreduced 32 bytes instead, so for a hash >= n its
// signatures differ from current libsecp256k1, geth and noble (both valid).
// We reduce first and then call the stock RFC6979 function, which makes our
// output byte-identical to current implementations for every hash.
int nonceReduced(unsigned char* nonce32, const unsigned char* msg32, const unsigned char* key32,
                 const unsigned char* algo16, void* data, unsigned int attempt) {
  int cmp = std::memcmp(msg32, kOrder, 32);
  if (cmp < 0) {
    return secp256k1_nonce_function_rfc6979(nonce32, msg32, key32, algo16, data, attempt);
  }
  // msg < 2^256 < 2n, so one subtraction is a full reduction.
  unsigned char reduced[32];
  int borrow = 0;
  for (int i = 31; i >= 0; i--) {
    int d = int(msg32[i]) - int(kOrder[i]) - borrow;
    borrow = d < 0;
    reduced[i] = uint8_t(d + (borrow << 8));
  }
  return secp256k1_nonce_function_rfc6979(nonce32, reduced, key32, algo16, data, attempt);
}

inline void pubkeyToId(const secp256k1_pubkey* pub, uint8_t out64[64]) {
  uint8_t full[65];
  size_t outLen = sizeof(full);
  secp256k1_ec_pubkey_serialize(ctx, full, &outLen, pub, SECP256K1_EC_UNCOMPRESSED);
  std::memcpy(out64, full + 1, 64);
}

}  // namespace

bool init() {
  std::call_once(ctxOnce, [] {
    ctx = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    if (ctx != nullptr) {
      secp256k1_context_set_illegal_callback(ctx, quietCallback, nullptr);
      secp256k1_context_set_error_callback(ctx, quietCallback, nullptr);
    }
  });
  return ctx != nullptr;
}

void keccak256(const uint8_t* in, size_t len, uint8_t out[32]) {
  // Keccak-256 as Ethereum uses it: rate 1088, capacity 512, pad byte 0x01
  // (the pre-standard padding, not SHA3's 0x06).
  //
  // The Keccak code reads its input 8 bytes at a time. Packet ranges are
  // never 8-byte aligned (pkt + 97, and datagrams at odd offsets), which is
  // undefined behaviour in C even where the CPU allows it (found by the
  // libFuzzer target with UBSan: native/fuzz). So misaligned input is
  // hashed from an aligned copy: a packet fits in one; longer input goes
  // through the sponge in whole blocks (multiples of the 136-byte rate and
  // of 8), each copied to the aligned buffer.
  if ((reinterpret_cast<uintptr_t>(in) & 7) == 0) {
    KeccakWidth1600_Sponge(1088, 512, in, len, 0x01, out, 32);
    return;
  }
  constexpr size_t kChunk = 136 * 12;  // 1632: a multiple of the rate and of 8, holds any packet
  alignas(8) uint8_t buf[kChunk];
  if (len <= kChunk) {
    memcpy(buf, in, len);
    KeccakWidth1600_Sponge(1088, 512, buf, len, 0x01, out, 32);
    return;
  }
  KeccakWidth1600_SpongeInstance s;
  KeccakWidth1600_SpongeInitialize(&s, 1088, 512);
  for (size_t off = 0; off < len; off += kChunk) {
    const size_t n = len - off < kChunk ? len - off : kChunk;
    memcpy(buf, in + off, n);
    KeccakWidth1600_SpongeAbsorb(&s, buf, n);
  }
  KeccakWidth1600_SpongeAbsorbLastFewBits(&s, 0x01);
  KeccakWidth1600_SpongeSqueeze(&s, out, 32);
}

int32_t publicKey(const uint8_t priv[32], uint8_t out64[64]) {
  secp256k1_pubkey pub;
  if (!secp256k1_ec_pubkey_create(ctx, &pub, priv)) return kBadKey;
  pubkeyToId(&pub, out64);
  return kOk;
}

int32_t sign(const uint8_t hash[32], const uint8_t priv[32], uint8_t out65[65]) {
  secp256k1_ecdsa_recoverable_signature sig;
  if (!secp256k1_ecdsa_sign_recoverable(ctx, &sig, hash, priv, nonceReduced, nullptr)) {
    return kBadKey;
  }
  int recid = 0;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, out65, &recid, &sig);
  out65[64] = uint8_t(recid);
  return kOk;
}

int32_t recover(const uint8_t sig64[64], uint32_t recid, const uint8_t hash[32],
                uint8_t out64[64]) {
  // parse_compact treats recid > 3 as an API misuse (illegal callback), so
  // reject it here: on the wire it is just a bad signature.
  if (recid > 3) return kBadSignature;
  secp256k1_ecdsa_recoverable_signature sig;
  if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &sig, sig64, int(recid))) {
    return kBadSignature;
  }
  secp256k1_pubkey pub;
  if (!secp256k1_ecdsa_recover(ctx, &pub, &sig, hash)) return kBadSignature;
  pubkeyToId(&pub, out64);
  return kOk;
}

int32_t seal(uint8_t* pkt, size_t len, const uint8_t priv[32]) {
  if (len < kMinPacketSize) return kTooSmall;
  uint8_t sigHash[32];
  keccak256(pkt + kHeadSize, len - kHeadSize, sigHash);
  int32_t st = sign(sigHash, priv, pkt + kHashSize);
  if (st != kOk) return st;
  keccak256(pkt + kHashSize, len - kHashSize, pkt);
  return kOk;
}

int32_t open(const uint8_t* pkt, size_t len, uint8_t outId[64]) {
  if (len < kMinPacketSize) return kTooSmall;
  if (len > kMaxPacketSize) return kTooLarge;
  uint8_t digest[32];
  keccak256(pkt + kHashSize, len - kHashSize, digest);
  if (std::memcmp(digest, pkt, kHashSize) != 0) return kBadHash;
  keccak256(pkt + kHeadSize, len - kHeadSize, digest);
  return recover(pkt + kHashSize, pkt[kHashSize + 64], digest, outId);
}

}  // namespace discv4
