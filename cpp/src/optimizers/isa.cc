// Runtime ISA selection for the optimizer kernels (see mxopt/optimizers/isa.h).
#include "mxopt/optimizers/isa.h"

#include <atomic>
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif
#include <cstdlib>
#include <cstring>

namespace mxopt::kernels {
namespace {

IsaLevel detect() noexcept {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  // Both vector levels also use F16C (float16 <-> float32 conversions).
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_F16C)) return IsaLevel::kBaseline;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
    return IsaLevel::kAVX512;
  if (__builtin_cpu_supports("avx2")) return IsaLevel::kAVX2;
#endif
  return IsaLevel::kBaseline;
}

IsaLevel clamp(IsaLevel want) noexcept {
  const IsaLevel best = isa_supported();
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

IsaLevel from_env() noexcept {
  const char* v = std::getenv("MXOPT_ISA");
  if (v == nullptr || *v == '\0') return isa_supported();
  if (std::strcmp(v, "baseline") == 0 || std::strcmp(v, "sse2") == 0)
    return IsaLevel::kBaseline;
  if (std::strcmp(v, "avx2") == 0) return clamp(IsaLevel::kAVX2);
  return clamp(IsaLevel::kAVX512);  // "avx512" or anything else: the best available
}

std::atomic<int>& current() noexcept {
  static std::atomic<int> level{static_cast<int>(from_env())};
  return level;
}

}  // namespace

IsaLevel isa_supported() noexcept {
  static const IsaLevel best = detect();
  return best;
}

IsaLevel isa_level() noexcept {
  return static_cast<IsaLevel>(current().load(std::memory_order_relaxed));
}

IsaLevel set_isa_level(IsaLevel level) noexcept {
  const IsaLevel l = clamp(level);
  current().store(static_cast<int>(l), std::memory_order_relaxed);
  return l;
}

const char* isa_name(IsaLevel level) noexcept {
  switch (level) {
    case IsaLevel::kAVX512:
      return "avx512";
    case IsaLevel::kAVX2:
      return "avx2";
    default:
      return "baseline";
  }
}

}  // namespace mxopt::kernels
