// A debugging allocator for CI, loaded with LD_PRELOAD in front of the kernel suites: it
// catches the memory errors that neither the Swift compiler's checks nor AddressSanitizer
// see, those made by uninstrumented code (oneDNN's JIT kernels, OpenBLAS, libgomp).
//
// - Every block ends flush against an inaccessible page, so a write (or read) past its end
//   faults at the offending instruction. The few bytes of alignment slack between the
//   block's end and that page are filled with a pattern checked at free.
// - New blocks (except calloc's) are filled with 0xA5, so code that uses memory it never
//   wrote gets a poison value, not whatever an earlier block left there.
// - A freed block is made inaccessible and kept so for the next QUARANTINE frees, so a
//   write into freed memory faults too; a double free faults on the block's header.
//
// Debian's electric-fence does the first and third but not malloc_usable_size, which the
// Swift runtime calls on every growing array; hence this file. Debugging only: every
// allocation is an mmap, about 5x slower than glibc on the kernel suites.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL
#define QUARANTINE 400000
#define MAGIC 0x6775617264UL
#define SLACK_BYTE 0xA5

struct header { size_t size; size_t mapSize; void *base; size_t magic; };

static pthread_mutex_t quarantineLock = PTHREAD_MUTEX_INITIALIZER;
static void *quarantineBase[QUARANTINE];
static size_t quarantineSize[QUARANTINE];
static size_t quarantineNext;

static void fail(const char *message) {
    write(2, message, strlen(message));
    abort();
}

static void *allocate(size_t n, size_t alignment) {
    if (alignment < 16) alignment = 16;
    size_t body = (n + sizeof(struct header) + alignment + PAGE - 1) & ~(PAGE - 1);
    size_t mapSize = body + PAGE;
    char *base = mmap(NULL, mapSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return NULL;
    if (mprotect(base + body, PAGE, PROT_NONE) != 0) { munmap(base, mapSize); return NULL; }
    uintptr_t end = (uintptr_t)(base + body);
    uintptr_t block = (end - n) & ~(uintptr_t)(alignment - 1);
    struct header *h = (struct header *)(block - sizeof(struct header));
    *h = (struct header){ .size = n, .mapSize = mapSize, .base = base, .magic = MAGIC };
    memset((void *)(block + n), SLACK_BYTE, end - (block + n));
    return (void *)block;
}

static void *poisoned(void *block, size_t n) {
    if (block) memset(block, 0xA5, n);
    return block;
}

static struct header *headerOf(void *block) {
    return (struct header *)((char *)block - sizeof(struct header));
}

void *malloc(size_t n) { return poisoned(allocate(n, 16), n); }

void *calloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) { errno = ENOMEM; return NULL; }
    return allocate(count * size, 16);  // fresh mmap pages are zero
}

size_t malloc_usable_size(void *block) { return block ? headerOf(block)->size : 0; }

void free(void *block) {
    if (!block) return;
    struct header *h = headerOf(block);
    if (h->magic != MAGIC) fail("guard-malloc: free of a block with a damaged header\n");
    unsigned char *slack = (unsigned char *)block + h->size;
    unsigned char *end = (unsigned char *)h->base + h->mapSize - PAGE;
    for (unsigned char *c = slack; c < end; c++)
        if (*c != SLACK_BYTE) fail("guard-malloc: a block's alignment slack was written past its end\n");
    void *base = h->base;
    size_t mapSize = h->mapSize;
    madvise(base, mapSize, MADV_DONTNEED);
    mprotect(base, mapSize, PROT_NONE);
    pthread_mutex_lock(&quarantineLock);
    if (quarantineBase[quarantineNext]) munmap(quarantineBase[quarantineNext], quarantineSize[quarantineNext]);
    quarantineBase[quarantineNext] = base;
    quarantineSize[quarantineNext] = mapSize;
    quarantineNext = (quarantineNext + 1) % QUARANTINE;
    pthread_mutex_unlock(&quarantineLock);
}

void *realloc(void *block, size_t n) {
    if (!block) return malloc(n);
    size_t old = headerOf(block)->size;
    void *moved = malloc(n);
    if (!moved) return NULL;
    memcpy(moved, block, old < n ? old : n);
    free(block);
    return moved;
}

int posix_memalign(void **out, size_t alignment, size_t n) {
    void *block = poisoned(allocate(n, alignment), n);
    if (!block) return ENOMEM;
    *out = block;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t n) { return poisoned(allocate(n, alignment), n); }
void *memalign(size_t alignment, size_t n) { return poisoned(allocate(n, alignment), n); }
void *valloc(size_t n) { return poisoned(allocate(n, PAGE), n); }
void *pvalloc(size_t n) { return valloc((n + PAGE - 1) & ~(PAGE - 1)); }
