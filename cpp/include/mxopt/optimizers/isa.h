// Runtime ISA dispatch of the optimizer kernels: the element loops exist for a portable baseline
// (SSE2 on x86-64), AVX2 and AVX-512; the best level the CPU supports is used unless the
// environment variable MXOPT_ISA=baseline|avx2|avx512 (read once) asks for a lower one.
// Every level gives bit-identical results (no FMA contraction, same operation order).
#pragma once

namespace mxopt::kernels {

enum class IsaLevel : int { kBaseline = 0, kAVX2 = 1, kAVX512 = 2 };

// The level in use (first call: cpuid + MXOPT_ISA).
IsaLevel isa_level() noexcept;
// The best level this CPU (and build) supports.
IsaLevel isa_supported() noexcept;
// Use `level` from now on, clamped to isa_supported(); returns the level actually set.
IsaLevel set_isa_level(IsaLevel level) noexcept;
// "baseline", "avx2" or "avx512".
const char* isa_name(IsaLevel level) noexcept;

}  // namespace mxopt::kernels
