// Reading N-API arguments for the addon's functions: typed-array ranges
// and uint32s. Failing conversions return false, so a wrong call from JS
// becomes a status code instead of a crash.
#pragma once

#include <node_api.h>

#include <cstddef>
#include <cstdint>

namespace discv4 {

struct Bytes {
  uint8_t* data = nullptr;
  size_t len = 0;
};

// A Uint8Array (Buffer included); anything else gives false.
inline bool bytesArg(napi_env env, napi_value v, Bytes* out) {
  bool isTyped = false;
  if (napi_is_typedarray(env, v, &isTyped) != napi_ok || !isTyped) return false;
  napi_typedarray_type type;
  void* data = nullptr;
  size_t length = 0;
  napi_value ab;
  size_t byteOffset = 0;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &byteOffset) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  out->data = static_cast<uint8_t*>(data);
  out->len = length;
  return true;
}

inline bool u32Arg(napi_env env, napi_value v, uint32_t* out) {
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

}  // namespace discv4
