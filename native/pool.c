/* alocc compiled kernels: thread pool and scratch (see kernels.h). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include "kernels.h"

/* ---- A small thread pool: the caller runs share 0, workers the others; each job pulls blocks from a counter. ---- */

static int pool_size = 1;      /* threads including the caller */
int active_threads = 1; /* how many of them take part in a job (the pool never shrinks) */
static pthread_t workers[MAX_THREADS];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER, pool_done = PTHREAD_COND_INITIALIZER;
static job_fn pool_job;
static void *pool_arg;
static long pool_generation;
static int pool_pending;

/* Waking a thread through a condition variable costs ~20 µs on the VMs measured (bench/NOTES.md), more than most
 * elementwise ops take, and a training step makes hundreds of calls in quick succession; so both sides spin this
 * many pauses (tens of µs) on the shared counters before sleeping, as OpenMP runtimes do. */
#define SPIN_PAUSES 4000
static inline void cpu_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void *worker_main(void *p) {
  int tid = (int)(intptr_t)p;
  long seen = 0;
  for (;;) {
    for (int spin = 0; spin < SPIN_PAUSES && __atomic_load_n(&pool_generation, __ATOMIC_ACQUIRE) == seen; spin++)
      cpu_pause();
    pthread_mutex_lock(&pool_lock);
    while (pool_generation == seen) pthread_cond_wait(&pool_wake, &pool_lock);
    seen = pool_generation;
    job_fn job = pool_job;
    void *arg = pool_arg;
    pthread_mutex_unlock(&pool_lock);
    if (tid < active_threads) job(arg, tid);
    pthread_mutex_lock(&pool_lock);
    if (__atomic_sub_fetch(&pool_pending, 1, __ATOMIC_RELEASE) == 0) pthread_cond_signal(&pool_done);
    pthread_mutex_unlock(&pool_lock);
  }
  return NULL;
}

int pool_start(int n) {
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  while (pool_size < n) {
    if (pthread_create(&workers[pool_size], NULL, worker_main, (void *)(intptr_t)pool_size) != 0) break;
    pthread_detach(workers[pool_size]);
    pool_size++;
  }
  return pool_size;
}

void parallel(job_fn job, void *arg) {
  if (active_threads <= 1) {
    job(arg, 0);
    return;
  }
  pthread_mutex_lock(&pool_lock);
  pool_job = job;
  pool_arg = arg;
  pool_pending = pool_size - 1;
  __atomic_store_n(&pool_generation, pool_generation + 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_lock);
  job(arg, 0);
  for (int spin = 0; spin < SPIN_PAUSES && __atomic_load_n(&pool_pending, __ATOMIC_ACQUIRE) > 0; spin++) cpu_pause();
  pthread_mutex_lock(&pool_lock);
  while (pool_pending > 0) pthread_cond_wait(&pool_done, &pool_lock);
  pthread_mutex_unlock(&pool_lock);
}

/* Per-thread scratch that only grows. */
static float *scratch[MAX_THREADS][2];
static size_t scratch_len[MAX_THREADS][2];
float *thread_scratch(int tid, int which, size_t floats) {
  if (scratch_len[tid][which] < floats) {
    free(scratch[tid][which]);
    scratch_len[tid][which] = 0;
    scratch[tid][which] = NULL;
    if (floats > SIZE_MAX / sizeof(float) - 64) return NULL;
    scratch[tid][which] = aligned_alloc(64, round_up(floats * sizeof(float), 64));
    if (scratch[tid][which]) scratch_len[tid][which] = floats;
  }
  return scratch[tid][which];
}

/* Every active thread's scratch `which`, grown on the calling thread (workers are idle between jobs). */
int reserve_scratch(int which, size_t floats) {
  for (int t = 0; t < active_threads; t++)
    if (!thread_scratch(t, which, floats)) return KERNEL_NO_MEMORY;
  return KERNEL_OK;
}
