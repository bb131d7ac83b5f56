/*
 * coro: small stackful coroutines. A coroutine has its own stack (mmap'd,
 * with a guard page below it) and runs until it yields; resume and yield
 * each carry one value, so the same primitive serves a generator (yield
 * values out) and a coroutine that receives values (send them in).
 *
 * A coroutine runs on the thread that resumes it, and only one thread may
 * touch a coroutine at a time. Switching is a few instructions on x86-64
 * (callee-saved registers and the stack pointer, no system call); elsewhere
 * it falls back to ucontext. Under AddressSanitizer and ThreadSanitizer
 * every switch is announced to the sanitizer through its fiber interface.
 */
#ifndef CONCTUI_CORO_H
#define CONCTUI_CORO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CORO_STACK_MIN (16u * 1024u)

struct coro;

/*
 * A coroutine's body: arg is what coro_create was given, first the value of
 * the first coro_resume. What it returns is what that last resume returns.
 */
typedef uintptr_t (*coro_fn)(struct coro *co, void *arg, uintptr_t first);

/* Make a suspended coroutine with a stack of stack_size bytes (rounded up). */
struct coro *coro_create(coro_fn fn, void *arg, size_t stack_size);
/*
 * Free a coroutine that is not running. One that is suspended mid-body is
 * dropped without unwinding: nothing it holds on its stack is released.
 */
void coro_destroy(struct coro *co);
/* Run co until it yields or returns; v is what its coro_yield returns. */
uintptr_t coro_resume(struct coro *co, uintptr_t v);
/* Inside co: give control back to the resumer, handing it v. */
uintptr_t coro_yield(struct coro *co, uintptr_t v);
/* Whether co's body has returned. */
bool coro_done(const struct coro *co);
/* Bytes of stack a coroutine gets for a requested size (page-rounded). */
size_t coro_stack_bytes(size_t stack_size);
/* How coroutines switch in this build ("x86-64 asm" or "ucontext"). */
const char *coro_backend(void);

/* Measured cost of one coroutine switch (a resume or a yield), in ns. */
double coro_measure_switch_ns(unsigned rounds);
/*
 * For contrast: one switch between two OS threads pinned to one CPU that
 * hand a futex word back and forth, in ns (0 if it could not be measured).
 */
double coro_measure_thread_switch_ns(unsigned rounds);

#endif
