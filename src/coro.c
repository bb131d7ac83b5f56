/*
 * DESIGN
 * Who runs: a coroutine runs on whichever thread resumes it, on its own
 * stack, until it yields back. Nothing here starts a thread except
 * coro_measure_thread_switch_ns, which starts one partner thread, joins it
 * before returning and restores the caller's CPU affinity.
 *
 * Who owns what: a struct coro and its stack belong to the code that created
 * it; the resumer and the coroutine hand the `xfer` value to each other, and
 * only one of them runs at a time, so nothing needs to be atomic. The
 * measuring pair shares one futex word (seq_cst exchanges, see below).
 *
 * Locks: none.
 *
 * Shutdown: a coroutine ends when its body returns; coro_destroy unmaps the
 * stack. The measuring partner exits after its last round and is joined.
 */
#include "config.h"

#include "coro.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "futex.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define CORO_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(CORO_ASAN)
#define CORO_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(CORO_TSAN)
#define CORO_TSAN 1
#endif

#ifdef CORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#ifdef HAVE_VALGRIND_VALGRIND_H
/* Valgrind must be told where each stack is, or a switch looks like a huge frame. */
#include <valgrind/valgrind.h>
#define CORO_VALGRIND 1
#endif

#if defined(__x86_64__) && defined(__ELF__) && !defined(CONCTUI_CORO_UCONTEXT)
#define CORO_ASM 1
#else
#include <ucontext.h>
#endif

enum coro_state { CORO_FRESH, CORO_RUNNING, CORO_SUSPENDED, CORO_DONE };

/* A saved execution context: a stack pointer (asm) or a ucontext. */
struct coro_ctx {
#ifdef CORO_ASM
    void *sp;
#else
    ucontext_t uc;
#endif
};

struct coro {
    struct coro_ctx self, caller;
    coro_fn fn;
    void *arg;
    uintptr_t xfer; /* the value in flight between resumer and coroutine */
    enum coro_state state;
    char *map; /* guard page + stack */
    size_t map_len;
    char *stack_lo;
    size_t stack_len;
#ifdef CORO_ASAN
    void *asan_fake;          /* the coroutine's fake stack while suspended */
    const void *caller_stack; /* the resumer's stack, for switching back */
    size_t caller_stack_len;
#endif
#ifdef CORO_TSAN
    void *tsan_fiber, *tsan_caller;
#endif
#ifdef CORO_VALGRIND
    unsigned vg_stack;
#endif
};

#ifdef CORO_ASM
/*
 * coro__switch(save, to): push the callee-saved registers and the SSE/x87
 * control words on the current stack, store the stack pointer in *save, load
 * `to` and pop the same frame from there. coro__boot is where a fresh
 * coroutine's first switch returns to: r12 holds the coroutine, r13 the C
 * entry; rbp is 0 and the return address is undefined, so unwinders stop.
 */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl coro__switch\n"
        ".hidden coro__switch\n"
        ".type coro__switch,@function\n"
        "coro__switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq $8, %rsp\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size coro__switch,.-coro__switch\n"
        ".p2align 4\n"
        ".globl coro__boot\n"
        ".hidden coro__boot\n"
        ".type coro__boot,@function\n"
        "coro__boot:\n"
        "    .cfi_startproc\n"
        "    .cfi_undefined rip\n"
        "    movq %r12, %rdi\n"
        "    callq *%r13\n"
        "    ud2\n"
        "    .cfi_endproc\n"
        ".size coro__boot,.-coro__boot\n");

void coro__switch(void **save, void *to) __attribute__((visibility("hidden")));
void coro__boot(void) __attribute__((visibility("hidden")));
#endif

/* Save the running context in *from and continue *to. */
static inline void ctx_switch(struct coro_ctx *from, struct coro_ctx *to)
{
#ifdef CORO_ASM
    coro__switch(&from->sp, to->sp);
#else
    swapcontext(&from->uc, &to->uc);
#endif
}

/* Tell the sanitizers that this thread is about to continue co ... */
static inline void san_enter(struct coro *co, void **fake)
{
#ifdef CORO_TSAN
    co->tsan_caller = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(co->tsan_fiber, 0);
#endif
#ifdef CORO_ASAN
    __sanitizer_start_switch_fiber(fake, co->stack_lo, co->stack_len);
#else
    (void)co;
    (void)fake;
#endif
}

/* ... and that it is about to go back to the resumer (last: for good). */
static inline void san_leave(struct coro *co, bool last)
{
#ifdef CORO_TSAN
    __tsan_switch_to_fiber(co->tsan_caller, 0);
#endif
#ifdef CORO_ASAN
    /* NULL on the last switch: the coroutine's fake stack can go. */
    __sanitizer_start_switch_fiber(last ? NULL : &co->asan_fake, co->caller_stack,
                                   co->caller_stack_len);
#else
    (void)co;
    (void)last;
#endif
}

/* Runs first on the coroutine's own stack; never returns. */
static void coro_main(struct coro *co)
{
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(NULL, &co->caller_stack, &co->caller_stack_len);
#endif
    co->xfer = co->fn(co, co->arg, co->xfer);
    co->state = CORO_DONE;
    san_leave(co, true);
    ctx_switch(&co->self, &co->caller);
    abort(); /* a finished coroutine is never resumed */
}

#ifndef CORO_ASM
/* makecontext passes ints: the coroutine pointer arrives in two halves. */
static void coro_uc_entry(unsigned hi, unsigned lo)
{
    coro_main((struct coro *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}
#endif

size_t coro_stack_bytes(size_t stack_size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (stack_size < CORO_STACK_MIN)
        stack_size = CORO_STACK_MIN;
    return (stack_size + page - 1) / page * page;
}

const char *coro_backend(void)
{
#ifdef CORO_ASM
    return "x86-64 asm";
#else
    return "ucontext";
#endif
}

/* Lay out a fresh stack so that the first switch into it lands in coro__boot. */
static int coro_ctx_init(struct coro *co)
{
#ifdef CORO_ASM
    uintptr_t top = ((uintptr_t)(co->stack_lo + co->stack_len) & ~(uintptr_t)15) - 16;
    uint64_t *sp = (uint64_t *)(top - 64);
    uint32_t mxcsr;
    uint16_t fpucw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    sp[0] = (uint64_t)mxcsr | (uint64_t)fpucw << 32;
    sp[1] = 0;                     /* r15 */
    sp[2] = 0;                     /* r14 */
    sp[3] = (uintptr_t)coro_main;  /* r13: the C entry */
    sp[4] = (uintptr_t)co;         /* r12: its argument */
    sp[5] = 0;                     /* rbx */
    sp[6] = 0;                     /* rbp: ends frame-pointer walks */
    sp[7] = (uintptr_t)coro__boot; /* where the first ret goes */
    co->self.sp = sp;
    return 0;
#else
    if (getcontext(&co->self.uc) != 0)
        return -errno;
    co->self.uc.uc_stack.ss_sp = co->stack_lo;
    co->self.uc.uc_stack.ss_size = co->stack_len;
    co->self.uc.uc_link = NULL;
    uintptr_t p = (uintptr_t)co;
    makecontext(&co->self.uc, (void (*)(void))coro_uc_entry, 2, (unsigned)(p >> 32), (unsigned)p);
    return 0;
#endif
}

struct coro *coro_create(coro_fn fn, void *arg, size_t stack_size)
{
    struct coro *co = calloc(1, sizeof *co);
    if (!co)
        return NULL;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    co->stack_len = coro_stack_bytes(stack_size);
    co->map_len = co->stack_len + page;
    /* Pages are only backed once touched: a coroutine costs what it uses. */
    void *m = mmap(NULL, co->map_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) {
        free(co);
        return NULL;
    }
    co->map = m;
    co->stack_lo = co->map + page;
    /* The guard page: running off the bottom faults instead of corrupting. */
    if (mprotect(co->map, page, PROT_NONE) != 0 || coro_ctx_init(co) != 0) {
        munmap(co->map, co->map_len);
        free(co);
        return NULL;
    }
    co->fn = fn;
    co->arg = arg;
    co->state = CORO_FRESH;
#ifdef CORO_TSAN
    co->tsan_fiber = __tsan_create_fiber(0);
#endif
#ifdef CORO_VALGRIND
    co->vg_stack = VALGRIND_STACK_REGISTER(co->stack_lo, co->stack_lo + co->stack_len);
#endif
    return co;
}

void coro_destroy(struct coro *co)
{
    if (!co)
        return;
    if (co->state == CORO_RUNNING)
        abort(); /* destroying the stack we may be standing on */
#ifdef CORO_TSAN
    __tsan_destroy_fiber(co->tsan_fiber);
#endif
#ifdef CORO_VALGRIND
    VALGRIND_STACK_DEREGISTER(co->vg_stack);
#endif
#ifdef CORO_ASAN
    /* Frames left on a dropped stack are poisoned; clear them before reuse. */
    __asan_unpoison_memory_region(co->stack_lo, co->stack_len);
#endif
    munmap(co->map, co->map_len);
    free(co);
}

uintptr_t coro_resume(struct coro *co, uintptr_t v)
{
    if (co->state != CORO_FRESH && co->state != CORO_SUSPENDED)
        abort(); /* running (re-entered) or finished */
    void *fake = NULL;
    co->xfer = v;
    co->state = CORO_RUNNING;
    san_enter(co, &fake);
    ctx_switch(&co->caller, &co->self);
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    return co->xfer;
}

uintptr_t coro_yield(struct coro *co, uintptr_t v)
{
    co->xfer = v;
    co->state = CORO_SUSPENDED;
    san_leave(co, false);
    ctx_switch(&co->self, &co->caller);
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(co->asan_fake, &co->caller_stack, &co->caller_stack_len);
#endif
    return co->xfer;
}

bool coro_done(const struct coro *co)
{
    return co->state == CORO_DONE;
}

/* The measuring coroutine: yields back whatever it is sent, forever. */
static uintptr_t echo_body(struct coro *co, void *arg, uintptr_t v)
{
    (void)arg;
    for (;;)
        v = coro_yield(co, v + 1);
    return v;
}

/* CLOCK_MONOTONIC in ns (this module stands apart from the trace clock). */
static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double coro_measure_switch_ns(unsigned rounds)
{
    struct coro *co = coro_create(echo_body, NULL, CORO_STACK_MIN);
    if (!co || rounds == 0) {
        coro_destroy(co);
        return 0;
    }
    uintptr_t v = coro_resume(co, 0); /* warm up: first entry and stack pages */
    uint64_t t0 = mono_ns();
    for (unsigned i = 0; i < rounds; i++)
        v = coro_resume(co, v);
    uint64_t t1 = mono_ns();
    coro_destroy(co); /* suspended in echo_body: nothing on its stack to free */
    return (double)(t1 - t0) / (2.0 * rounds);
}

struct pingpong {
    _Atomic uint32_t turn; /* 1: the partner's move, 0: the measurer's */
    unsigned rounds;
    cpu_set_t cpu;
    int pinned;
};

/* Block until *w != val (a futex wait that tolerates spurious wake-ups). */
static void wait_while(_Atomic uint32_t *w, uint32_t val)
{
    /* Acquire pairs with the other side's release store of the word. */
    while (atomic_load_explicit(w, memory_order_acquire) == val)
        futex_wait(w, val, 0);
}

/* The measuring partner: answers every turn handed to it. */
static void *pingpong_partner(void *p)
{
    struct pingpong *pp = p;
    if (pp->pinned)
        pthread_setaffinity_np(pthread_self(), sizeof pp->cpu, &pp->cpu);
    for (unsigned i = 0; i < pp->rounds; i++) {
        wait_while(&pp->turn, 0);
        /* Release pairs with the measurer's acquire in wait_while. */
        atomic_store_explicit(&pp->turn, 0, memory_order_release);
        futex_wake_all(&pp->turn);
    }
    return NULL;
}

double coro_measure_thread_switch_ns(unsigned rounds)
{
    struct pingpong pp = {.rounds = rounds + 1};
    cpu_set_t old;
    pthread_t self = pthread_self(), partner;
    int cpu = sched_getcpu();
    int have_old = pthread_getaffinity_np(self, sizeof old, &old) == 0;
    if (cpu >= 0 && have_old) {
        /* Both on one CPU: every hand-off is a real switch, not a cross-CPU wake-up. */
        CPU_ZERO(&pp.cpu);
        CPU_SET(cpu, &pp.cpu);
        pp.pinned = pthread_setaffinity_np(self, sizeof pp.cpu, &pp.cpu) == 0;
    }
    if (rounds == 0 || pthread_create(&partner, NULL, pingpong_partner, &pp) != 0) {
        if (pp.pinned)
            pthread_setaffinity_np(self, sizeof old, &old);
        return 0;
    }
    uint64_t t0 = 0;
    for (unsigned i = 0; i < pp.rounds; i++) {
        if (i == 1)
            t0 = mono_ns(); /* the first round warms both threads up */
        /* Release pairs with the partner's acquire in wait_while. */
        atomic_store_explicit(&pp.turn, 1, memory_order_release);
        futex_wake_all(&pp.turn);
        wait_while(&pp.turn, 1);
    }
    uint64_t t1 = mono_ns();
    pthread_join(partner, NULL);
    if (pp.pinned)
        pthread_setaffinity_np(self, sizeof old, &old);
    return (double)(t1 - t0) / (2.0 * rounds);
}
