#include <dnnl.h>
#include <dnnl_debug.h>
// Swift cannot import DNNL_MEMORY_ALLOCATE (a pointer-cast macro); OpenMP's setter lives in libgomp.
static inline void *cil_dnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }
void omp_set_num_threads(int num_threads);
int omp_get_max_threads(void);
#include <malloc.h>
// glibc's allocator tuning (mallopt), reached through this module because Glibc's Swift
// overlay does not export malloc.h.
static inline void cil_keep_freed_memory_mapped(void) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
}
