// Heap settings for processes that allocate and free tensors step after step:
// the programs and the micro-benchmarks that time them.
#pragma once

namespace fm {

// Keeps freed tensor memory in the process for the next step. By default
// glibc serves blocks above a (growing) threshold with mmap and gives the top
// of the heap back to the kernel whenever more than twice that is free, so a
// training step that allocates and frees a few MiB of activations page-faults
// them in anew every time (~900 faults per toy2d step, a fifth of its time).
// Blocks up to 32 MiB now come from the heap, and the heap is not trimmed; the
// peak resident size is unchanged, the resident size just does not shrink.
void keep_freed_memory();

}  // namespace fm
