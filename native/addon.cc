// N-API surface of the native core. Every call takes (buffer, offset) pairs
// so the JS side never has to allocate a view to hand a range over, writes
// into caller-owned memory and returns a status code (core.h). The typed
// wrapper in src/crypto turns codes into errors; here we only check what
// keeps memory safe: that arguments are typed arrays and ranges are in bounds.
#include <napi.h>

#include <cstddef>
#include <cstdint>

#include "args.h"
#include "core.h"
#include "udp.h"

namespace {

using discv4::kRange;

using discv4::Bytes;

inline bool bytesArg(const Napi::CallbackInfo& info, size_t i, Bytes* out) {
  return discv4::bytesArg(info.Env(), info[i], out);
}

inline bool u32Arg(const Napi::CallbackInfo& info, size_t i, uint32_t* out) {
  return discv4::u32Arg(info.Env(), info[i], out);
}

// A range [off, off+need) inside `b`. An empty typed array may have a null
// data pointer, so a zero-length range points at a static byte instead.
uint8_t emptyRange[1];
inline uint8_t* at(const Bytes& b, uint32_t off, size_t need) {
  if (size_t(off) > b.len || b.len - off < need) return nullptr;
  return b.data == nullptr ? emptyRange : b.data + off;
}

inline Napi::Value code(const Napi::CallbackInfo& info, int32_t c) {
  return Napi::Number::New(info.Env(), c);
}

// keccak256(src, srcOff, srcLen, dst, dstOff) -> status
Napi::Value Keccak256(const Napi::CallbackInfo& info) {
  Bytes src, dst;
  uint32_t srcOff, srcLen, dstOff;
  if (!bytesArg(info, 0, &src) || !u32Arg(info, 1, &srcOff) || !u32Arg(info, 2, &srcLen) ||
      !bytesArg(info, 3, &dst) || !u32Arg(info, 4, &dstOff)) {
    return code(info, kRange);
  }
  const uint8_t* in = at(src, srcOff, srcLen);
  uint8_t* out = at(dst, dstOff, 32);
  if (in == nullptr || out == nullptr) return code(info, kRange);
  discv4::keccak256(in, srcLen, out);
  return code(info, discv4::kOk);
}

// publicKey(priv, privOff, out, outOff) -> status
Napi::Value PublicKey(const Napi::CallbackInfo& info) {
  Bytes priv, out;
  uint32_t privOff, outOff;
  if (!bytesArg(info, 0, &priv) || !u32Arg(info, 1, &privOff) || !bytesArg(info, 2, &out) ||
      !u32Arg(info, 3, &outOff)) {
    return code(info, kRange);
  }
  const uint8_t* k = at(priv, privOff, 32);
  uint8_t* o = at(out, outOff, 64);
  if (k == nullptr || o == nullptr) return code(info, kRange);
  return code(info, discv4::publicKey(k, o));
}

// sign(hash, hashOff, priv, privOff, out, outOff) -> status; out = r||s||recid
Napi::Value Sign(const Napi::CallbackInfo& info) {
  Bytes hash, priv, out;
  uint32_t hashOff, privOff, outOff;
  if (!bytesArg(info, 0, &hash) || !u32Arg(info, 1, &hashOff) || !bytesArg(info, 2, &priv) ||
      !u32Arg(info, 3, &privOff) || !bytesArg(info, 4, &out) || !u32Arg(info, 5, &outOff)) {
    return code(info, kRange);
  }
  const uint8_t* h = at(hash, hashOff, 32);
  const uint8_t* k = at(priv, privOff, 32);
  uint8_t* o = at(out, outOff, 65);
  if (h == nullptr || k == nullptr || o == nullptr) return code(info, kRange);
  return code(info, discv4::sign(h, k, o));
}

// recover(sig, sigOff, recid, hash, hashOff, out, outOff) -> status; sig = r||s
Napi::Value Recover(const Napi::CallbackInfo& info) {
  Bytes sig, hash, out;
  uint32_t sigOff, hashOff, outOff;
  // The recovery id is read as a double: uint32 conversion would wrap
  // 2^32 + 1 into a valid id 1.
  double recidNum = -1;
  napi_get_value_double(info.Env(), info[2], &recidNum);
  uint32_t recid = (recidNum >= 0 && recidNum <= 3 && recidNum == double(uint32_t(recidNum))) ? uint32_t(recidNum) : 4;
  if (!bytesArg(info, 0, &sig) || !u32Arg(info, 1, &sigOff) ||
      !bytesArg(info, 3, &hash) || !u32Arg(info, 4, &hashOff) || !bytesArg(info, 5, &out) ||
      !u32Arg(info, 6, &outOff)) {
    return code(info, kRange);
  }
  const uint8_t* s = at(sig, sigOff, 64);
  const uint8_t* h = at(hash, hashOff, 32);
  uint8_t* o = at(out, outOff, 64);
  if (s == nullptr || h == nullptr || o == nullptr) return code(info, kRange);
  return code(info, discv4::recover(s, recid, h, o));
}

// seal(buf, off, len, priv, privOff) -> status
Napi::Value Seal(const Napi::CallbackInfo& info) {
  Bytes buf, priv;
  uint32_t off, len, privOff;
  if (!bytesArg(info, 0, &buf) || !u32Arg(info, 1, &off) || !u32Arg(info, 2, &len) ||
      !bytesArg(info, 3, &priv) || !u32Arg(info, 4, &privOff)) {
    return code(info, kRange);
  }
  uint8_t* p = at(buf, off, len);
  const uint8_t* k = at(priv, privOff, 32);
  if (p == nullptr || k == nullptr) return code(info, kRange);
  return code(info, discv4::seal(p, len, k));
}

// open(buf, off, len, outId, outIdOff) -> status
Napi::Value Open(const Napi::CallbackInfo& info) {
  Bytes buf, id;
  uint32_t off, len, idOff;
  if (!bytesArg(info, 0, &buf) || !u32Arg(info, 1, &off) || !u32Arg(info, 2, &len) ||
      !bytesArg(info, 3, &id) || !u32Arg(info, 4, &idOff)) {
    return code(info, kRange);
  }
  const uint8_t* p = at(buf, off, len);
  uint8_t* o = at(id, idOff, 64);
  if (p == nullptr || o == nullptr) return code(info, kRange);
  return code(info, discv4::open(p, len, o));
}

// `contract`: the numbers JS relies on, by name, as compiled. src/crypto/native.ts
// compares them with its TypeScript definitions once, when the addon loads,
// and test/native-contract.test.ts compares both with the headers. Keys are
// the enumerator / constant names without the leading `k`.
#define DISCV4_NAMED(obj, value) (obj).Set(&(#value)[1], Napi::Number::New(env, double(int64_t(value))))
Napi::Object Contract(Napi::Env env) {
  using namespace discv4;
  Napi::Object status = Napi::Object::New(env);  // core.h
  DISCV4_NAMED(status, kOk);
  DISCV4_NAMED(status, kTooSmall);
  DISCV4_NAMED(status, kTooLarge);
  DISCV4_NAMED(status, kBadHash);
  DISCV4_NAMED(status, kBadSignature);
  DISCV4_NAMED(status, kBadKey);
  DISCV4_NAMED(status, kRange);
  Napi::Object packet = Napi::Object::New(env);  // core.h
  DISCV4_NAMED(packet, kHashSize);
  DISCV4_NAMED(packet, kSignatureSize);
  DISCV4_NAMED(packet, kHeadSize);
  DISCV4_NAMED(packet, kMinPacketSize);
  DISCV4_NAMED(packet, kMaxPacketSize);
  DISCV4_NAMED(packet, kNodeIdSize);
  Napi::Object send = Napi::Object::New(env);  // udp.h
  send.Set("Sent", double(int32_t(SendResult::kSent)));
  send.Set("Queued", double(int32_t(SendResult::kQueued)));
  send.Set("Dropped", double(int32_t(SendResult::kDropped)));
  send.Set("BadKey", double(int32_t(SendResult::kBadKey)));
  Napi::Object record = Napi::Object::New(env);  // udp.h
  DISCV4_NAMED(record, kToOpen);
  DISCV4_NAMED(record, kSkip);
  Napi::Object limit = Napi::Object::New(env);  // udp.h
  DISCV4_NAMED(limit, kMaxThreads);
  DISCV4_NAMED(limit, kMaxWorkQueue);
  Napi::Object meta = Napi::Object::New(env);  // udp.h: byte offsets
  meta.Set("Size", double(sizeof(Meta)));
  meta.Set("Off", double(offsetof(Meta, off)));
  meta.Set("Len", double(offsetof(Meta, len)));
  meta.Set("Family", double(offsetof(Meta, family)));
  meta.Set("Port", double(offsetof(Meta, port)));
  meta.Set("Ip", double(offsetof(Meta, ip)));
  meta.Set("Status", double(offsetof(Meta, status)));
  meta.Set("Id", double(offsetof(Meta, id)));
  Napi::Object c = Napi::Object::New(env);
  c.Set("Status", status);
  c.Set("Packet", packet);
  c.Set("SendResult", send);
  c.Set("RecordStatus", record);
  c.Set("UdpLimit", limit);
  c.Set("Meta", meta);
  return c;
}
#undef DISCV4_NAMED

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (!discv4::init()) {
    Napi::Error::New(env, "discv4-native: secp256k1 context creation failed")
        .ThrowAsJavaScriptException();
    return exports;
  }
  exports.Set("keccak256", Napi::Function::New(env, Keccak256, "keccak256"));
  exports.Set("publicKey", Napi::Function::New(env, PublicKey, "publicKey"));
  exports.Set("sign", Napi::Function::New(env, Sign, "sign"));
  exports.Set("recover", Napi::Function::New(env, Recover, "recover"));
  exports.Set("seal", Napi::Function::New(env, Seal, "seal"));
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  discv4::registerUdp(env, exports);
  exports.Set("contract", Contract(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(discv4_native, Init)
