/*
 * alloc_trace.so: records every malloc, calloc, realloc, posix_memalign, aligned_alloc and free
 * of a process into a binary file, for comparing a real redis-server's allocation stream with
 * the model's (a development tool, not part of the build or the tests).
 *
 *   gcc -O2 -shared -fPIC -o /tmp/alloc_trace.so tests/tools/alloc_trace.c -ldl -lpthread
 *   ALLOC_TRACE_OUT=/tmp/trace.bin LD_PRELOAD=/tmp/alloc_trace.so redis-server --port 7390 ...
 *
 * It works where the allocator is a shared library the program calls by the standard names
 * (Debian's redis-server links the system libjemalloc). Each record is 40 bytes, little-endian:
 * op (u8: 1 malloc/calloc, 2 free, 3 realloc, 4 aligned), 3 padding bytes, thread id (u32),
 * pointer, size, new pointer (realloc) or alignment, CLOCK_MONOTONIC ns (u64 each). The
 * records are buffered and written when the buffer fills and when the process exits normally
 * (SIGTERM makes redis-server exit normally).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    uint8_t op;
    uint8_t pad[3];
    uint32_t tid;
    uint64_t ptr, size, ptr2, t;
} rec_t;

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static rec_t buf[65536];
static int nbuf;
static int out_fd = -1;
static __thread int in_hook;
static __thread uint32_t my_tid;
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
    const char *path = getenv("ALLOC_TRACE_OUT");
    if (path) out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    initing = 0;
}

static void flush_locked(void) {
    if (out_fd >= 0 && nbuf) {
        ssize_t n = write(out_fd, buf, nbuf * sizeof(rec_t));
        (void)n;
    }
    nbuf = 0;
}

static void record(int op, void *p, size_t size, void *p2) {
    if (out_fd < 0 || in_hook) return;
    in_hook = 1;
    if (!my_tid) my_tid = (uint32_t)syscall(SYS_gettid);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    pthread_mutex_lock(&lock);
    rec_t *r = &buf[nbuf++];
    r->op = (uint8_t)op;
    r->tid = my_tid;
    r->ptr = (uint64_t)p;
    r->size = size;
    r->ptr2 = (uint64_t)p2;
    r->t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    if (nbuf == (int)(sizeof buf / sizeof buf[0])) flush_locked();
    pthread_mutex_unlock(&lock);
    in_hook = 0;
}

__attribute__((destructor)) static void finish(void) {
    pthread_mutex_lock(&lock);
    flush_locked();
    pthread_mutex_unlock(&lock);
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
    record(1, p, n, 0);
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
    record(1, p, a * b, 0);
    return p;
}

void free(void *p) {
    if (!p || from_boot(p)) return;
    init();
    record(2, p, 0, 0);
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
        record(1, q, n, 0);
    else
        record(3, p, n, q);
    return q;
}

int posix_memalign(void **out, size_t align, size_t n) {
    init();
    int r = real_posix_memalign(out, align, n);
    if (!r) record(4, *out, n, (void *)align);
    return r;
}

void *aligned_alloc(size_t align, size_t n) {
    init();
    void *p = real_aligned_alloc(align, n);
    record(4, p, n, (void *)align);
    return p;
}
