/*
 * alloc_trace: records every allocation and free of a process into a binary file, for comparing
 * a real redis-server's allocation stream with the model's, and for taking a server's startup
 * thread cache from it (a development tool, not part of the build; the replay is the ignored
 * test `startup_trace::replay` in tests/it/startup_trace.rs).
 *
 * Two ways to put it in a server, chosen when it is compiled:
 *
 * 1. LD_PRELOAD (default), where the allocator is a shared library the program calls by the
 *    standard names (Debian's redis-server links the system libjemalloc): malloc, calloc,
 *    realloc, posix_memalign, aligned_alloc and free are intercepted.
 *
 *      gcc -O2 -shared -fPIC -o /tmp/alloc_trace.so tests/tools/alloc_trace.c -ldl -lpthread
 *      ALLOC_TRACE_OUT=/tmp/trace.bin LD_PRELOAD=/tmp/alloc_trace.so redis-server --port 7390 ...
 *
 * 2. -DALLOC_TRACE_WRAP, linked into a server built with its bundled jemalloc, whose functions
 *    carry the `je_` prefix (every upstream Redis and Valkey build: LD_PRELOAD cannot see
 *    them). GNU ld's --wrap sends the server's calls of je_X to __wrap_je_X here, which records
 *    and calls the real __real_je_X. Build a separate copy of the server tree:
 *
 *      gcc -O2 -c -DALLOC_TRACE_WRAP -o /tmp/alloc_trace_wrap.o tests/tools/alloc_trace.c
 *      W=-Wl,--wrap=je_malloc,--wrap=je_calloc,--wrap=je_realloc,--wrap=je_free
 *      W=$W,--wrap=je_mallocx,--wrap=je_rallocx,--wrap=je_dallocx,--wrap=je_sdallocx
 *      W=$W,--wrap=je_posix_memalign
 *      nice -n 19 make -j2 BUILD_TLS=no REDIS_LDFLAGS="$W /tmp/alloc_trace_wrap.o"
 *
 *    (Valkey's Makefile takes REDIS_LDFLAGS as SERVER_LDFLAGS.) Every function wrapped exists in
 *    jemalloc 5.2.1 and 5.3.0; a build that does not call one just never enters its wrapper.
 *    New link flags make the Makefile rebuild everything (`persist-settings`); in a copy of an
 *    already built tree, setting PREV_FINAL_LDFLAGS in src/.make-settings to the new
 *    FINAL_LDFLAGS and removing the server binary relinks it alone. Calls jemalloc makes
 *    inside itself are not wrapped (nor need to be); glibc's malloc (used by libc itself) is a
 *    different heap and not recorded.
 *
 * Then `ALLOC_TRACE_OUT=/tmp/trace.bin ./redis-server ...`; without the variable nothing is
 * recorded.
 *
 * Each record is 40 bytes, little-endian: op (u8: 1 malloc/calloc/mallocx, 2 free/dallocx/
 * sdallocx, 3 realloc/rallocx, 4 aligned: posix_memalign, aligned_alloc, mallocx with an
 * alignment), flags (u8: bit 0 the call bypassed the thread cache, MALLOCX_TCACHE_NONE; bit 1 it
 * named a thread cache of its own, MALLOCX_TCACHE(n); bit 2 it named an arena, MALLOCX_ARENA),
 * that cache's n and that arena's index (u8 each, their low 8 bits), thread id (u32), pointer, size (for free: the size sdallocx was given, else
 * 0), new pointer (realloc) or alignment (aligned), CLOCK_MONOTONIC ns (u64 each). The records
 * are buffered and written when the buffer fills and when the process exits normally (SIGTERM
 * makes redis-server exit normally; the destructor below runs from exit()).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifndef ALLOC_TRACE_WRAP
#include <dlfcn.h>
#endif

typedef struct {
    uint8_t op;
    uint8_t flags;
    uint8_t tcache; /* MALLOCX_TCACHE(n)'s n (low 8 bits) */
    uint8_t arena;  /* MALLOCX_ARENA(a)'s a (low 8 bits) */
    uint32_t tid;
    uint64_t ptr, size, ptr2, t;
} rec_t;

enum { OP_ALLOC = 1, OP_FREE = 2, OP_REALLOC = 3, OP_ALIGNED = 4 };
enum { F_TCACHE_NONE = 1, F_TCACHE_OWN = 2, F_ARENA = 4 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static rec_t buf[65536];
static int nbuf;
static int out_fd = -1;
static int opened;
static __thread int in_hook;
static __thread uint32_t my_tid;

static void open_out(void) {
    if (opened) return;
    opened = 1;
    const char *path = getenv("ALLOC_TRACE_OUT");
    if (path) out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
}

static void flush_locked(void) {
    if (out_fd >= 0 && nbuf) {
        const char *p = (const char *)buf;
        size_t left = nbuf * sizeof(rec_t);
        while (left > 0) {
            ssize_t n = write(out_fd, p, left);
            if (n <= 0) break;
            p += n;
            left -= (size_t)n;
        }
    }
    nbuf = 0;
}

static void record_in(int op, int flags, unsigned tc, unsigned arena, void *p, size_t size, void *p2) {
    if (in_hook) return;
    if (!opened) open_out();
    if (out_fd < 0) return;
    in_hook = 1;
    if (!my_tid) my_tid = (uint32_t)syscall(SYS_gettid);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    pthread_mutex_lock(&lock);
    rec_t *r = &buf[nbuf++];
    memset(r, 0, sizeof *r);
    r->op = (uint8_t)op;
    r->flags = (uint8_t)flags;
    r->tcache = (uint8_t)tc;
    r->arena = (uint8_t)arena;
    r->tid = my_tid;
    r->ptr = (uint64_t)p;
    r->size = size;
    r->ptr2 = (uint64_t)p2;
    r->t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    if (nbuf == (int)(sizeof buf / sizeof buf[0])) flush_locked();
    pthread_mutex_unlock(&lock);
    in_hook = 0;
}

static void record(int op, void *p, size_t size, void *p2) { record_in(op, 0, 0, 0, p, size, p2); }

__attribute__((destructor)) static void finish(void) {
    pthread_mutex_lock(&lock);
    flush_locked();
    pthread_mutex_unlock(&lock);
}

#ifdef ALLOC_TRACE_WRAP

/* jemalloc's MALLOCX_* flags (jemalloc_macros.h): bits 0-5 lg(alignment), 8-19 the thread
 * cache (0: the thread's own, 1: none, n + 2: cache n), 20-31 the arena (n + 1). */
static int flag_bits(int flags) {
    unsigned tc = ((unsigned)flags >> 8) & 0xfff;
    return (tc == 1 ? F_TCACHE_NONE : 0) | (tc > 1 ? F_TCACHE_OWN : 0) |
           (((unsigned)flags >> 20) ? F_ARENA : 0);
}

/* A call with MALLOCX_* flags: the thread cache and arena it named. */
static void record_x(int op, int flags, void *p, size_t size, void *p2) {
    unsigned tc = ((unsigned)flags >> 8) & 0xfff, arena = (unsigned)flags >> 20;
    record_in(op, flag_bits(flags), tc > 1 ? tc - 2 : 0, arena ? arena - 1 : 0, p, size, p2);
}

static size_t flag_align(int flags) {
    unsigned lg = (unsigned)flags & 0x3f;
    return lg ? (size_t)1 << lg : 0;
}

void *__real_je_malloc(size_t);
void *__real_je_calloc(size_t, size_t);
void *__real_je_realloc(void *, size_t);
void __real_je_free(void *);
void *__real_je_mallocx(size_t, int);
void *__real_je_rallocx(void *, size_t, int);
void __real_je_dallocx(void *, int);
void __real_je_sdallocx(void *, size_t, int);
int __real_je_posix_memalign(void **, size_t, size_t);

void *__wrap_je_malloc(size_t n) {
    void *p = __real_je_malloc(n);
    if (p) record(OP_ALLOC, p, n, 0);
    return p;
}

void *__wrap_je_calloc(size_t a, size_t b) {
    void *p = __real_je_calloc(a, b);
    if (p) record(OP_ALLOC, p, a * b, 0);
    return p;
}

void *__wrap_je_realloc(void *p, size_t n) {
    void *q = __real_je_realloc(p, n);
    if (!p) {
        if (q) record(OP_ALLOC, q, n, 0);
    } else if (n == 0 && !q) {
        record(OP_FREE, p, 0, 0);
    } else if (q) {
        record(OP_REALLOC, p, n, q);
    }
    return q;
}

void __wrap_je_free(void *p) {
    if (p) record(OP_FREE, p, 0, 0);
    __real_je_free(p);
}

void *__wrap_je_mallocx(size_t n, int flags) {
    void *p = __real_je_mallocx(n, flags);
    size_t align = flag_align(flags);
    if (p) record_x(align ? OP_ALIGNED : OP_ALLOC, flags, p, n, (void *)align);
    return p;
}

void *__wrap_je_rallocx(void *p, size_t n, int flags) {
    void *q = __real_je_rallocx(p, n, flags);
    if (q) record_x(OP_REALLOC, flags, p, n, q);
    return q;
}

void __wrap_je_dallocx(void *p, int flags) {
    record_x(OP_FREE, flags, p, 0, 0);
    __real_je_dallocx(p, flags);
}

void __wrap_je_sdallocx(void *p, size_t n, int flags) {
    record_x(OP_FREE, flags, p, n, 0);
    __real_je_sdallocx(p, n, flags);
}

int __wrap_je_posix_memalign(void **out, size_t align, size_t n) {
    int r = __real_je_posix_memalign(out, align, n);
    if (!r) record(OP_ALIGNED, *out, n, (void *)align);
    return r;
}

#else /* LD_PRELOAD */

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);

/* dlsym may allocate before the real functions are known: served from here, never freed. */
static char boot[65536];
static size_t boot_used;
static int initing;

static void init(void) {
    if (real_malloc || initing) return;
    initing = 1;
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_free = dlsym(RTLD_NEXT, "free");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    open_out();
    initing = 0;
}

static int from_boot(void *p) { return (char *)p >= boot && (char *)p < boot + sizeof boot; }

static void *boot_alloc(size_t n) {
    void *p = boot + boot_used;
    boot_used += (n + 15) & ~(size_t)15;
    return p;
}

void *malloc(size_t n) {
    init();
    if (!real_malloc) return boot_alloc(n);
    void *p = real_malloc(n);
    record(OP_ALLOC, p, n, 0);
    return p;
}

void *calloc(size_t a, size_t b) {
    init();
    if (!real_calloc) {
        void *p = boot_alloc(a * b);
        memset(p, 0, a * b);
        return p;
    }
    void *p = real_calloc(a, b);
    record(OP_ALLOC, p, a * b, 0);
    return p;
}

void free(void *p) {
    if (!p || from_boot(p)) return;
    init();
    record(OP_FREE, p, 0, 0);
    real_free(p);
}

void *realloc(void *p, size_t n) {
    init();
    if (from_boot(p)) {
        void *q = malloc(n);
        memcpy(q, p, n);
        return q;
    }
    void *q = real_realloc(p, n);
    if (!p)
        record(OP_ALLOC, q, n, 0);
    else
        record(OP_REALLOC, p, n, q);
    return q;
}

int posix_memalign(void **out, size_t align, size_t n) {
    init();
    int r = real_posix_memalign(out, align, n);
    if (!r) record(OP_ALIGNED, *out, n, (void *)align);
    return r;
}

void *aligned_alloc(size_t align, size_t n) {
    init();
    void *p = real_aligned_alloc(align, n);
    record(OP_ALIGNED, p, n, (void *)align);
    return p;
}

#endif
