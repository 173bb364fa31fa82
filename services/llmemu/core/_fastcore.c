/* The offline engine's loop in C, for one replica under continuous batching on one
 * processor (fastcore.py says which replicas qualify and builds the arguments).
 *
 * It is a transcription of the Python reference, decision for decision: simulate.run's
 * loop and _Arrivals, Engine.step (fused decode runs, _iterations_until, interpolation),
 * Scheduler.schedule_fast / schedule / _admit / _make_room / rebuild, DecodeSet, KVCache,
 * PricedByParts' attention parts, HostPlanPricer's host time, Recorder and BusySeries.
 * Every float is computed by the same operations in the same order as there, so a run's
 * numbers are the reference's (tests/core/test_fastcore.py compares the two on scenarios
 * that take every branch). The token-count and LM-head parts are priced by the Python
 * pricer itself (callbacks, memoised here): they recur, and that pricer knows every
 * device's efficiency curves.
 *
 * Requests live in slots reused after they finish, so memory follows the requests in
 * flight; a finished request leaves its eight numbers in the log columns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { WAITING = 0, RUNNING = 1, FINISHED = 2 };
#define NONE_F (-1.0) /* a timestamp not yet set (times are never negative) */
#define NIL (-1)

typedef struct {
    int64_t id, prompt, max_out, generated, computed, num_blocks, preemptions;
    int64_t admission_order, decode_offset, decode_entry;
    double arrival, first_sched, first_token, last_token, finish;
    int status, in_decode;
    int32_t prev, next;   /* running, in admission order */
    int32_t pprev, pnext; /* prefilling (running and not decoding in aggregate) */
} Req;

typedef struct { int64_t done_at, order, entry; int32_t slot; } FinishEntry;

typedef struct { double *v; Py_ssize_t n, cap; } DArr;
typedef struct { int64_t *v; Py_ssize_t n, cap; } IArr;

/* BusySeries: rows of bins over virtual time, coarsened by pairs as the run grows. */
typedef struct { int64_t nbins; int nrows; double bin_s; double *rows; } Series;

/* LoadSeries: a replica's batch size and KV usage, summed while steps stay in one bin. */
typedef struct { Series series; double lo, hi, batch_s, kv_s; } Load;

typedef struct {
    /* model and rates (PricedByParts, Pricer._time for attention) */
    double q_size, kv_size, kv_width, dtype_bytes, layers;
    double attention_flops, bytes_per_s, tp, request_tokens, overhead_s;
    /* host profile (HostPlanPricer); has_host 0: none */
    int has_host;
    double iteration_s, sequence_s, token_s, sampler_s;
    /* scheduler */
    int64_t block_size, num_blocks, max_num_seqs, max_batched, max_fused;
    double max_tokens; /* replica.memory.kv_tokens */
} Config;

typedef struct {
    Config c;
    /* slots */
    Req *reqs; int32_t nslots, capslots; int32_t *free_slots; int32_t nfree;
    /* waiting deque (ring of slots) */
    int32_t *wq; int64_t wcap, whead, wlen;
    /* running and prefilling lists */
    int32_t run_head, run_tail, nrunning, pre_head, pre_tail;
    int64_t admitted, next_id;
    /* kv */
    int64_t free_blocks, peak_used;
    /* decode set */
    int64_t iteration, dcount, context_base, entries;
    double last_end_s;
    int64_t *by_residue;
    FinishEntry *heap; Py_ssize_t nheap, capheap;
    /* pricing memo and weights */
    PyObject *token_price, *head_price;
    double *tok_dur, *head_dur, *tok_w, *head_w;
    int64_t memo_n; /* entries in each memo array: max_batched + 1 */
    int error;
    /* recorder */
    int64_t steps, iterations, preemptions;
    DArr itl_first, itl_slope; IArr itl_count, itl_weight;
    double attn_busy[2], attn_flops[2], attn_bytes[2], attn_write[2], attn_count[2];
    Series busy;
    int track_load; Load load;
    /* log */
    IArr log_id, log_prompt, log_generated, log_preempt;
    DArr log_arrival, log_sched, log_first, log_finish;
    /* per-step scratch */
    int32_t *chunk_slot; int64_t *chunk_n, *chunk_computed; int64_t nchunks, capchunks;
    int32_t *emit; int64_t nemit;
    int32_t *fin; int64_t nfin, capfin;
    int64_t step_preempted;
} Sim;

/* ---- small containers ------------------------------------------------------------- */
static int darr_push(DArr *a, double x) {
    if (a->n == a->cap) {
        Py_ssize_t cap = a->cap ? a->cap * 2 : 1024;
        double *v = realloc(a->v, cap * sizeof(double));
        if (!v) return -1;
        a->v = v; a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}
static int iarr_push(IArr *a, int64_t x) {
    if (a->n == a->cap) {
        Py_ssize_t cap = a->cap ? a->cap * 2 : 1024;
        int64_t *v = realloc(a->v, cap * sizeof(int64_t));
        if (!v) return -1;
        a->v = v; a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}
/* Python's -(-a // b) for b > 0: C's division truncates, which is the ceiling below 0. */
static int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b > 0); }
static int64_t pymod(int64_t a, int64_t b) { int64_t r = a % b; return r < 0 ? r + b : r; }

/* ---- slots, waiting, running ----------------------------------------------------- */
static int32_t slot_new(Sim *s) {
    if (s->nfree) return s->free_slots[--s->nfree];
    if (s->nslots == s->capslots) {
        int32_t cap = s->capslots ? s->capslots * 2 : 256;
        Req *r = realloc(s->reqs, cap * sizeof(Req));
        int32_t *f = realloc(s->free_slots, cap * sizeof(int32_t));
        if (!r || !f) { if (r) s->reqs = r; if (f) s->free_slots = f; return NIL; }
        s->reqs = r; s->free_slots = f; s->capslots = cap;
    }
    return s->nslots++;
}

static int wq_grow(Sim *s) {
    int64_t cap = s->wcap ? s->wcap * 2 : 256;
    int32_t *q = malloc(cap * sizeof(int32_t));
    if (!q) return -1;
    for (int64_t i = 0; i < s->wlen; i++) q[i] = s->wq[(s->whead + i) % s->wcap];
    free(s->wq);
    s->wq = q; s->wcap = cap; s->whead = 0;
    return 0;
}
static int wq_append(Sim *s, int32_t slot) {
    if (s->wlen == s->wcap && wq_grow(s)) return -1;
    s->wq[(s->whead + s->wlen) % s->wcap] = slot;
    s->wlen++;
    return 0;
}
static int wq_appendleft(Sim *s, int32_t slot) {
    if (s->wlen == s->wcap && wq_grow(s)) return -1;
    s->whead = (s->whead + s->wcap - 1) % s->wcap;
    s->wq[s->whead] = slot;
    s->wlen++;
    return 0;
}
static int32_t wq_front(Sim *s) { return s->wq[s->whead]; }
static void wq_popleft(Sim *s) { s->whead = (s->whead + 1) % s->wcap; s->wlen--; }

static void run_append(Sim *s, int32_t i) {
    Req *r = &s->reqs[i];
    r->prev = s->run_tail; r->next = NIL;
    if (s->run_tail != NIL) s->reqs[s->run_tail].next = i; else s->run_head = i;
    s->run_tail = i;
    s->nrunning++;
}
static void run_remove(Sim *s, int32_t i) {
    Req *r = &s->reqs[i];
    if (r->prev != NIL) s->reqs[r->prev].next = r->next; else s->run_head = r->next;
    if (r->next != NIL) s->reqs[r->next].prev = r->prev; else s->run_tail = r->prev;
    s->nrunning--;
}
static void pre_append(Sim *s, int32_t i) {
    Req *r = &s->reqs[i];
    r->pprev = s->pre_tail; r->pnext = NIL;
    if (s->pre_tail != NIL) s->reqs[s->pre_tail].pnext = i; else s->pre_head = i;
    s->pre_tail = i;
}
static void pre_remove(Sim *s, int32_t i) {
    Req *r = &s->reqs[i];
    if (r->pprev != NIL) s->reqs[r->pprev].pnext = r->pnext; else s->pre_head = r->pnext;
    if (r->pnext != NIL) s->reqs[r->pnext].pprev = r->pprev; else s->pre_tail = r->pprev;
}

/* ---- KV cache ---------------------------------------------------------------------- */
static void note_usage(Sim *s) {
    int64_t used = s->c.num_blocks - s->free_blocks;
    if (used > s->peak_used) s->peak_used = used;
}
static int try_grow(Sim *s, Req *r, int64_t tokens) {
    int64_t extra = ceil_div(tokens, s->c.block_size) - r->num_blocks;
    if (extra < 0) extra = 0;
    if (extra > s->free_blocks) return 0;
    s->free_blocks -= extra;
    r->num_blocks += extra;
    note_usage(s);
    return 1;
}
static void kv_free(Sim *s, Req *r) { s->free_blocks += r->num_blocks; r->num_blocks = 0; }

/* ---- the decode set (decoding.py) ------------------------------------------------- */
static int fe_less(const FinishEntry *a, const FinishEntry *b) {
    if (a->done_at != b->done_at) return a->done_at < b->done_at;
    if (a->order != b->order) return a->order < b->order;
    return a->entry < b->entry;
}
static int heap_push(Sim *s, FinishEntry e) {
    if (s->nheap == s->capheap) {
        Py_ssize_t cap = s->capheap ? s->capheap * 2 : 256;
        FinishEntry *h = realloc(s->heap, cap * sizeof(FinishEntry));
        if (!h) return -1;
        s->heap = h; s->capheap = cap;
    }
    Py_ssize_t i = s->nheap++;
    while (i > 0) {
        Py_ssize_t p = (i - 1) / 2;
        if (!fe_less(&e, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
    return 0;
}
static void heap_pop(Sim *s) {
    FinishEntry last = s->heap[--s->nheap];
    Py_ssize_t i = 0, n = s->nheap;
    for (;;) {
        Py_ssize_t l = 2 * i + 1, m = i;
        const FinishEntry *best = &last;
        if (l < n && fe_less(&s->heap[l], best)) { m = l; best = &s->heap[l]; }
        if (l + 1 < n && fe_less(&s->heap[l + 1], best)) { m = l + 1; }
        if (m == i) break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (n) s->heap[i] = last;
}
static int entry_current(Sim *s, const FinishEntry *e) {
    Req *r = &s->reqs[e->slot];
    return r->in_decode && r->decode_entry == e->entry;
}
static void dsync(Sim *s, Req *r) {
    if (!r->in_decode) return;
    int64_t computed = s->iteration + r->decode_offset;
    r->computed = computed;
    r->generated = computed + 1 - r->prompt;
    r->num_blocks = ceil_div(computed, s->c.block_size);
    r->last_token = s->last_end_s;
}
static int denter(Sim *s, int32_t slot) {
    Req *r = &s->reqs[slot];
    int64_t offset = r->computed - s->iteration;
    r->decode_offset = offset; r->in_decode = 1;
    s->dcount++;
    s->context_base += offset + 1;
    s->by_residue[pymod(offset, s->c.block_size)]++;
    int64_t done_at = r->max_out + r->prompt - 1 - offset;
    r->decode_entry = ++s->entries;
    FinishEntry e = {done_at, r->admission_order, s->entries, slot};
    return heap_push(s, e);
}
static void dleave(Sim *s, Req *r) {
    if (!r->in_decode) return;
    dsync(s, r);
    s->dcount--;
    s->context_base -= r->decode_offset + 1;
    s->by_residue[pymod(r->decode_offset, s->c.block_size)]--;
    r->in_decode = 0;
}
static int64_t dcontext(Sim *s) { return s->dcount * s->iteration + s->context_base; }
static int64_t blocks_needed(Sim *s, int64_t first, int64_t k) {
    int64_t size = s->c.block_size, full = k / size, part = k % size;
    int64_t total = full * s->dcount;
    for (int64_t j = 0; j < part; j++) total += s->by_residue[pymod(-(first + j), size)];
    return total;
}
static int64_t dremaining(Sim *s) { /* -1: no member */
    while (s->nheap && !entry_current(s, &s->heap[0])) heap_pop(s);
    return s->nheap ? s->heap[0].done_at - s->iteration : -1;
}

/* ---- scheduler -------------------------------------------------------------------- */
static void sched_remove(Sim *s, int32_t slot) {
    Req *r = &s->reqs[slot];
    if (r->in_decode) dleave(s, r); else pre_remove(s, slot);
    run_remove(s, slot);
}
static int log_finished(Sim *s, Req *r) {
    int bad = iarr_push(&s->log_id, r->id) | darr_push(&s->log_arrival, r->arrival)
        | darr_push(&s->log_sched, r->first_sched < 0 ? 0.0 : r->first_sched)
        | darr_push(&s->log_first, r->first_token < 0 ? 0.0 : r->first_token)
        | darr_push(&s->log_finish, r->finish < 0 ? 0.0 : r->finish)
        | iarr_push(&s->log_prompt, r->prompt) | iarr_push(&s->log_generated, r->generated)
        | iarr_push(&s->log_preempt, r->preemptions);
    return bad ? -1 : 0;
}
static int fin_push(Sim *s, int32_t slot) {
    if (s->nfin == s->capfin) {
        int64_t cap = s->capfin ? s->capfin * 2 : 256;
        int32_t *f = realloc(s->fin, cap * sizeof(int32_t));
        if (!f) return -1;
        s->fin = f; s->capfin = cap;
    }
    s->fin[s->nfin++] = slot;
    return 0;
}
/* The scheduler's finish; the slot is logged and freed by the loop after the step. */
static int sched_finish(Sim *s, int32_t slot) {
    sched_remove(s, slot);
    kv_free(s, &s->reqs[slot]);
    s->reqs[slot].status = FINISHED;
    return fin_push(s, slot);
}
static int start_decoding(Sim *s, int32_t slot) { pre_remove(s, slot); return denter(s, slot); }

static int chunk_push(Sim *s, int32_t slot, int64_t n) {
    if (s->nchunks == s->capchunks) {
        int64_t cap = s->capchunks ? s->capchunks * 2 : 256;
        int32_t *a = realloc(s->chunk_slot, cap * sizeof(int32_t));
        if (a) s->chunk_slot = a;
        int64_t *b = realloc(s->chunk_n, cap * sizeof(int64_t));
        if (b) s->chunk_n = b;
        int64_t *c = realloc(s->chunk_computed, cap * sizeof(int64_t));
        if (c) s->chunk_computed = c;
        int32_t *e = realloc(s->emit, cap * sizeof(int32_t));
        if (e) s->emit = e;
        if (!a || !b || !c || !e) return -1;
        s->capchunks = cap;
    }
    s->chunk_slot[s->nchunks] = slot;
    s->chunk_n[s->nchunks] = n;
    s->nchunks++;
    return 0;
}

static int admit(Sim *s, int64_t budget) {
    while (s->wlen && budget > 0 && s->nrunning < s->c.max_num_seqs) {
        int32_t slot = wq_front(s);
        Req *r = &s->reqs[slot];
        int64_t pending = r->prompt + r->generated - r->computed;
        int64_t n = pending < budget ? pending : budget;
        if (!try_grow(s, r, r->computed + n)) break;
        wq_popleft(s);
        r->status = RUNNING;
        r->admission_order = ++s->admitted;
        run_append(s, slot);
        pre_append(s, slot);
        if (chunk_push(s, slot, n)) return -1;
        budget -= n;
    }
    return 0;
}

/* Scheduler.schedule_fast: 1 scheduled, 0 cannot decide (use schedule), -1 error. */
static int schedule_fast(Sim *s) {
    int64_t budget = s->c.max_batched - s->dcount, bs = s->c.block_size;
    int64_t growth = blocks_needed(s, s->iteration, 1);
    s->nchunks = 0;
    for (int32_t i = s->pre_head; i != NIL; i = s->reqs[i].pnext) {
        Req *r = &s->reqs[i];
        int64_t n = r->prompt + r->generated - r->computed;
        budget -= n;
        growth += ceil_div(r->computed + n, bs) - r->num_blocks;
        if (chunk_push(s, i, n)) return -1;
    }
    if (budget < 0 || growth > s->free_blocks) { s->nchunks = 0; return 0; }
    s->free_blocks -= growth;
    for (int64_t j = 0; j < s->nchunks; j++) {
        Req *r = &s->reqs[s->chunk_slot[j]];
        r->num_blocks = ceil_div(r->computed + s->chunk_n[j], bs);
    }
    note_usage(s);
    if (budget > 0 && admit(s, budget)) return -1;
    return 1;
}

static int preempt(Sim *s, int32_t slot) {
    Req *r = &s->reqs[slot];
    sched_remove(s, slot);
    kv_free(s, r);
    r->computed = 0;
    r->preemptions++;
    r->status = WAITING;
    s->step_preempted++;
    return wq_appendleft(s, slot);
}

/* Scheduler.schedule: chunks hold every entry in running order; step() then classifies
 * them (_classified), marking a decoder's chunk_n -1 (a prompt chunk may have 0 tokens). */
static int schedule_ref(Sim *s) {
    int64_t bs = s->c.block_size, budget = s->c.max_batched;
    for (int32_t i = s->run_head; i != NIL; i = s->reqs[i].next) dleave(s, &s->reqs[i]);
    s->pre_head = s->pre_tail = NIL;
    for (int32_t i = s->run_head; i != NIL; i = s->reqs[i].next) pre_append(s, i);
    s->nchunks = 0;
    /* a snapshot of the running order: preemption removes from the back */
    int64_t nsnap = s->nrunning, k = 0;
    int32_t *snap = malloc((nsnap ? nsnap : 1) * sizeof(int32_t));
    if (!snap) return -1;
    for (int32_t i = s->run_head; i != NIL; i = s->reqs[i].next) snap[k++] = i;
    for (k = 0; k < nsnap; k++) {
        if (budget <= 0) break;
        int32_t slot = snap[k];
        Req *r = &s->reqs[slot];
        if (r->status != RUNNING) continue;
        int64_t pending = r->prompt + r->generated - r->computed;
        int64_t n = pending < budget ? pending : budget;
        int64_t extra = ceil_div(r->computed + n, bs) - r->num_blocks;
        if (extra > 0) {
            if (extra <= s->free_blocks) {
                s->free_blocks -= extra;
                r->num_blocks += extra;
            } else {
                while (!try_grow(s, r, r->computed + n)) {
                    int32_t victim = s->run_tail;
                    if (preempt(s, victim)) { free(snap); return -1; }
                    if (victim == slot) { n = 0; break; }
                }
            }
        }
        if (n) {
            if (chunk_push(s, slot, n)) { free(snap); return -1; }
            budget -= n;
        }
    }
    free(snap);
    note_usage(s);
    return admit(s, budget);
}

/* ---- pricing ---------------------------------------------------------------------- */
static double memo_price(Sim *s, double *memo, PyObject *fn, int64_t key) {
    if (s->error) return 0.0; /* an exception is pending: call nothing more */
    if (key < 0 || key >= s->memo_n) {
        PyErr_Format(PyExc_RuntimeError, "fastcore: token count %lld outside the memo", (long long)key);
        s->error = 1;
        return 0.0;
    }
    if (memo[key] >= 0) return memo[key];
    PyObject *v = PyObject_CallFunction(fn, "L", (long long)key);
    if (!v) { s->error = 1; return 0.0; }
    double d = PyFloat_AsDouble(v);
    Py_DECREF(v);
    if (d == -1.0 && PyErr_Occurred()) { s->error = 1; return 0.0; }
    memo[key] = d;
    return d;
}

/* One attention op's time in all its layers (Pricer._time of an ATTENTION op x layers). */
static double attn_time(const Config *c, double flops, double bytes, int64_t tokens, int64_t context) {
    double compute = flops / c->attention_flops / c->tp;
    double memory = bytes / (c->bytes_per_s * c->tp);
    double seconds = compute > memory ? compute : memory;
    if (c->request_tokens && context)
        seconds *= 1.0 + c->request_tokens * (double)tokens / (double)context;
    return (seconds + c->overhead_s) * c->layers;
}

typedef struct {
    double duration;       /* the iteration (host time included) */
    int64_t m, logits;
    double tok_busy, head_busy;
    int nattn;
    int kind[2];           /* 0 attn_prefill, 1 attn_decode */
    double busy[2], flops[2], bytes[2], write[2];
} Price;

static void price(Sim *s, int64_t num_decode, int64_t context, int64_t logits, int with_chunks, Price *p) {
    const Config *c = &s->c;
    int64_t m = num_decode, seqs = num_decode;
    double pairs = 0.0; int64_t kv_tokens = 0, new_tokens = 0, prefills = 0;
    if (with_chunks) {
        for (int64_t j = 0; j < s->nchunks; j++) {
            if (s->chunk_n[j] < 0) continue; /* a decoder of a reference step */
            int64_t n = s->chunk_n[j], pre = s->chunk_computed[j];
            pairs += (double)(n * pre) + (double)(n * (n + 1)) / 2;
            kv_tokens += n + pre;
            new_tokens += n;
            prefills++;
            seqs++;
        }
        m += new_tokens;
    }
    p->m = m; p->logits = logits;
    p->tok_busy = memo_price(s, s->tok_dur, s->token_price, m);
    p->head_busy = memo_price(s, s->head_dur, s->head_price, logits);
    double duration = p->tok_busy + p->head_busy;
    p->nattn = 0;
    if (prefills) { /* attention_ops: a prompt chunk, even of no tokens, is a prefill */
        double flops = 4.0 * c->q_size * pairs;
        double moved = 2.0 * c->kv_size * c->kv_width * (double)kv_tokens + 2.0 * c->q_size * c->dtype_bytes * (double)new_tokens;
        double written = (double)((int64_t)c->q_size * (int64_t)c->dtype_bytes * new_tokens);
        double busy = attn_time(c, flops, moved, new_tokens, 0);
        int a = p->nattn++;
        p->kind[a] = 0; p->busy[a] = busy; p->flops[a] = flops * c->layers;
        p->bytes[a] = moved * c->layers; p->write[a] = written * c->layers;
        duration += busy;
    }
    if (num_decode) {
        double flops = 4.0 * c->q_size * (double)context;
        double kv = 2.0 * c->kv_size * c->kv_width * (double)context;
        double q_and_out = 2.0 * c->q_size * c->dtype_bytes * (double)num_decode;
        double busy = attn_time(c, flops, kv + q_and_out, num_decode, context);
        int a = p->nattn++;
        p->kind[a] = 1; p->busy[a] = busy; p->flops[a] = flops * c->layers;
        p->bytes[a] = (kv + q_and_out) * c->layers; p->write[a] = q_and_out / 2 * c->layers;
        duration += busy;
    }
    if (c->has_host) {
        double host = c->iteration_s + c->sequence_s * (double)seqs + c->token_s * (double)m;
        double extra = host + (double)logits * c->sampler_s;
        duration = duration + extra;
    }
    p->duration = duration;
}

/* Recorder.add_cost of one priced iteration with a weight; adds to the step's busy. */
static double record_price(Sim *s, const Price *p, double weight, double busy) {
    s->tok_w[p->m] += weight;
    s->head_w[p->logits] += weight;
    busy = busy + p->tok_busy * weight;
    busy = busy + p->head_busy * weight;
    for (int a = 0; a < p->nattn; a++) {
        int k = p->kind[a];
        s->attn_busy[k] += p->busy[a] * weight;
        s->attn_flops[k] += p->flops[a] * weight;
        s->attn_bytes[k] += p->bytes[a] * weight;
        s->attn_write[k] += p->write[a] * weight;
        s->attn_count[k] += s->c.layers * weight;
        busy = busy + p->busy[a] * weight;
    }
    return busy;
}

/* BusySeries.add: values[r] seconds of row r done between start and end. */
static void series_add(Series *se, double start, double end, const double *values) {
    int64_t nb = se->nbins;
    while (end > se->bin_s * (double)nb) {
        se->bin_s *= 2;
        for (int r = 0; r < se->nrows; r++) {
            double *row = se->rows + r * nb;
            for (int64_t i = 0; i < nb / 2; i++) row[i] = row[2 * i] + row[2 * i + 1];
            for (int64_t i = nb / 2; i < nb; i++) row[i] = 0.0;
        }
    }
    int64_t first = (int64_t)(start / se->bin_s), last = (int64_t)(end / se->bin_s);
    if (first == last && last < nb) {
        for (int r = 0; r < se->nrows; r++) se->rows[r * nb + first] += values[r];
        return;
    }
    if (first > nb - 1) first = nb - 1;
    if (last > nb - 1) last = nb - 1;
    double duration = end - start;
    for (int r = 0; r < se->nrows; r++) {
        double *row = se->rows + r * nb;
        if (first == last || duration <= 0) { row[first] += values[r]; continue; }
        for (int64_t k = first; k <= last; k++) {
            double hi = end < (double)(k + 1) * se->bin_s ? end : (double)(k + 1) * se->bin_s;
            double lo = start > (double)k * se->bin_s ? start : (double)k * se->bin_s;
            double overlap = hi - lo;
            row[k] += values[r] * (overlap > 0.0 ? overlap : 0.0) / duration;
        }
    }
}

static void load_flush(Load *l) {
    if (l->hi > l->lo) {
        double mid = (l->lo + l->hi) / 2, v[2] = {l->batch_s, l->kv_s};
        series_add(&l->series, mid, mid, v);
        l->lo = l->hi = 0.0;
    }
}

/* LoadSeries.add */
static void load_add(Load *l, double start, double end, int64_t batch, double kv_usage) {
    double d = end - start;
    if (l->lo <= start && end <= l->hi) {
        l->batch_s += (double)batch * d;
        l->kv_s += kv_usage * d;
        return;
    }
    load_flush(l);
    Series *se = &l->series;
    int64_t k = (int64_t)(start / se->bin_s);
    double lo = (double)k * se->bin_s, hi = (double)(k + 1) * se->bin_s;
    if (lo <= start && end <= hi && k < se->nbins - 1 && d > 0) {
        l->lo = lo; l->hi = hi;
        l->batch_s = (double)batch * d; l->kv_s = kv_usage * d;
    } else {
        double v[2] = {(double)batch * d, kv_usage * d};
        series_add(se, start, end, v);
    }
}

/* ---- the engine step -------------------------------------------------------------- */
static int64_t iterations_until(double span, double t0, double slope, int64_t limit) {
    double lim = (double)limit;
    if (isinf(span) || t0 * lim + slope * lim * (lim - 1) / 2 <= span) return limit;
    int64_t k;
    if (slope <= 0) {
        k = (int64_t)ceil(span / t0);
    } else {
        double a = slope / 2, b = t0 - slope / 2;
        k = (int64_t)ceil((-b + sqrt(b * b + 4 * a * span)) / (2 * a));
    }
    if (k > limit) k = limit;
    return k < 1 ? 1 : k;
}

static int64_t fusable(Sim *s) {
    int64_t remaining = dremaining(s);
    if (s->c.max_fused <= 1 || remaining < 0 || remaining <= 1) return 1;
    if (s->wlen && s->nrunning < s->c.max_num_seqs) return 1;
    int64_t per_request = s->c.block_size * (s->free_blocks / s->dcount);
    int64_t k = remaining < per_request ? remaining : per_request;
    if (s->c.max_fused < k) k = s->c.max_fused;
    return k < 1 ? 1 : k;
}

/* _compute: the entry's request computes n tokens in [now, end]; 1 if it sampled. */
static int compute(Sim *s, int32_t slot, int64_t n, double now, double end, int64_t *itl) {
    Req *r = &s->reqs[slot];
    if (r->first_sched < 0) r->first_sched = now;
    r->computed += n;
    if (r->computed < r->prompt + r->generated) return 0;
    r->generated++;
    if (r->first_token < 0) r->first_token = end; else (*itl)++;
    r->last_token = end;
    if (r->generated >= r->max_out) {
        r->finish = end;
        if (sched_finish(s, slot)) return -1;
    }
    return 1;
}

typedef struct { double duration, first, slope; int64_t k, itl; int empty; } StepOut;

static int step(Sim *s, double now, double horizon, StepOut *out) {
    s->step_preempted = 0;
    int fast = schedule_fast(s);
    if (fast < 0) return -1;
    int reference = !fast;
    int64_t num_decode, context;
    if (reference) {
        if (schedule_ref(s)) return -1;
        num_decode = context = 0;
        for (int64_t j = 0; j < s->nchunks; j++) { /* _classified */
            Req *r = &s->reqs[s->chunk_slot[j]];
            int64_t known = r->prompt + r->generated;
            if (s->chunk_n[j] == 1 && r->computed == known - 1 && r->generated) {
                num_decode++;
                context += known;
                s->chunk_n[j] = -1; /* a decoder: priced in aggregate */
            }
        }
    } else {
        num_decode = s->dcount;
        context = dcontext(s);
    }
    int64_t nsched = 0, logits = num_decode;
    for (int64_t j = 0; j < s->nchunks; j++) {
        Req *r = &s->reqs[s->chunk_slot[j]];
        s->chunk_computed[j] = r->computed;
        if (s->chunk_n[j] >= 0) {
            nsched++;
            if (r->computed + s->chunk_n[j] == r->prompt + r->generated) logits++;
        }
    }
    if (!nsched && !num_decode) { out->empty = 1; return 0; }
    out->empty = 0;
    Price first, last;
    price(s, num_decode, context, logits, 1, &first);
    if (s->error) return -1;
    int64_t k = 1, limit = (reference || nsched) ? 1 : fusable(s);
    double slope = 0.0;
    if (limit > 1 && first.duration < horizon - now) {
        int64_t last_context = context + num_decode * (limit - 1);
        int64_t saved = s->nchunks;
        s->nchunks = 0;
        price(s, num_decode, last_context, logits, 0, &last);
        s->nchunks = saved;
        if (s->error) return -1;
        slope = (last.duration - first.duration) / (double)(limit - 1);
        k = iterations_until(horizon - now, first.duration, slope, limit);
    }
    double kd = (double)k;
    double duration = kd * first.duration + slope * kd * (kd - 1) / 2;
    out->duration = duration; out->first = first.duration; out->slope = slope; out->k = k;
    double busy;
    if (k > 1) {
        double wl = kd * (kd - 1) / 2 / (double)(limit - 1);
        double wf = kd - wl;
        busy = record_price(s, &first, wf, 0.0);
        busy = record_price(s, &last, wl, busy);
    } else {
        busy = record_price(s, &first, 1.0, 0.0);
    }
    double end = now + duration;
    int64_t itl = 0;
    if (reference) {
        for (int64_t j = 0; j < s->nchunks; j++) {
            int64_t n = s->chunk_n[j] < 0 ? 1 : s->chunk_n[j]; /* a decoder computes one */
            if (compute(s, s->chunk_slot[j], n, now, end, &itl) < 0) return -1;
        }
        note_usage(s);
        s->iteration += 1; /* decode.advance(1): the set is empty */
        s->last_end_s = end;
        for (int32_t i = s->pre_head; i != NIL;) { /* rebuild */
            Req *r = &s->reqs[i];
            int32_t next = r->pnext;
            if (r->generated && r->computed == r->prompt + r->generated - 1)
                if (start_decoding(s, i)) return -1;
            i = next;
        }
    } else {
        itl = num_decode;
        if (k > 1) {
            s->free_blocks -= blocks_needed(s, s->iteration + 1, k - 1);
            note_usage(s);
        }
        s->nemit = 0;
        for (int64_t j = 0; j < s->nchunks; j++) {
            int c = compute(s, s->chunk_slot[j], s->chunk_n[j], now, end, &itl);
            if (c < 0) return -1;
            if (c) s->emit[s->nemit++] = s->chunk_slot[j];
        }
        s->iteration += k; /* decode.advance(k, end) */
        s->last_end_s = end;
        int64_t ndone_start = s->nfin;
        while (s->nheap && s->heap[0].done_at <= s->iteration) {
            FinishEntry e = s->heap[0];
            heap_pop(s);
            if (entry_current(s, &e)) {
                dsync(s, &s->reqs[e.slot]);
                if (fin_push(s, e.slot)) return -1; /* parked; finished below */
            }
        }
        int64_t ndone_end = s->nfin;
        for (int64_t j = 0; j < s->nemit; j++)
            if (s->reqs[s->emit[j]].status == RUNNING && start_decoding(s, s->emit[j])) return -1;
        s->nfin = ndone_start; /* sched_finish pushes each done member back */
        for (int64_t j = ndone_start; j < ndone_end; j++) {
            int32_t slot = s->fin[j];
            s->reqs[slot].finish = end;
            if (sched_finish(s, slot)) return -1;
        }
        note_usage(s);
    }
    out->itl = itl;
    s->steps++;
    s->iterations += k;
    s->preemptions += s->step_preempted;
    if (itl) {
        if (darr_push(&s->itl_first, first.duration) || darr_push(&s->itl_slope, slope)
            || iarr_push(&s->itl_count, k) || iarr_push(&s->itl_weight, itl)) return -1;
    }
    series_add(&s->busy, now, end, &busy);
    if (s->track_load) {
        double usage = s->c.num_blocks ? (double)(s->c.num_blocks - s->free_blocks) / (double)s->c.num_blocks : 0.0;
        load_add(&s->load, now, end, num_decode + nsched, usage);
    }
    return 0;
}

/* ---- arrivals (simulate._Arrivals) ------------------------------------------------ */
typedef struct {
    const int64_t *inputs, *outputs; const double *times; /* times NULL: closed loop */
    int64_t total, issued;
    double *heap; int64_t nheap;
} Arrivals;

static void fheap_push(double *h, int64_t *n, double x) {
    int64_t i = (*n)++;
    while (i > 0) { int64_t p = (i - 1) / 2; if (!(x < h[p])) break; h[i] = h[p]; i = p; }
    h[i] = x;
}
static double fheap_pop(double *h, int64_t *n) {
    double top = h[0], last = h[--(*n)];
    int64_t i = 0, m = *n;
    for (;;) {
        int64_t l = 2 * i + 1, b = i; double bv = last;
        if (l < m && h[l] < bv) { b = l; bv = h[l]; }
        if (l + 1 < m && h[l + 1] < bv) { b = l + 1; }
        if (b == i) break;
        h[i] = h[b]; i = b;
    }
    if (m) h[i] = last;
    return top;
}
static double next_time(Arrivals *a) {
    if (a->issued >= a->total) return INFINITY;
    if (a->times) return a->times[a->issued];
    return a->nheap ? a->heap[0] : INFINITY;
}
static void completed(Arrivals *a, double at) {
    if (!a->times && a->issued + a->nheap < a->total) fheap_push(a->heap, &a->nheap, at);
}

static int release_finished(Sim *s, Arrivals *a, double now) {
    for (int64_t j = 0; j < s->nfin; j++) {
        int32_t slot = s->fin[j];
        if (log_finished(s, &s->reqs[slot])) return -1;
        completed(a, now);
        s->free_slots[s->nfree++] = slot;
    }
    s->nfin = 0;
    return 0;
}

/* simulate.run's loop. */
static int simulate(Sim *s, Arrivals *a, IArr *rejected, PyObject *progress, double *now_out) {
    double now = 0.0;
    int64_t done = 0, reported = 0, turns = 0;
    for (;;) {
        if ((++turns & 4095) == 0 && PyErr_CheckSignals()) return -1; /* Ctrl-C */
        while (next_time(a) <= now) {
            int64_t i = a->issued++;
            double t = a->times ? a->times[i] : fheap_pop(a->heap, &a->nheap);
            int64_t n_in = a->inputs[i], n_out = a->outputs[i];
            if ((double)(n_in + n_out) > s->c.max_tokens) {
                if (iarr_push(rejected, i)) return -1;
                completed(a, t);
                continue;
            }
            int32_t slot = slot_new(s);
            if (slot == NIL) return -1;
            Req *r = &s->reqs[slot];
            memset(r, 0, sizeof(Req));
            r->id = s->next_id++;
            r->arrival = t; r->prompt = n_in; r->max_out = n_out; r->status = WAITING;
            r->first_sched = r->first_token = r->last_token = r->finish = NONE_F;
            r->prev = r->next = r->pprev = r->pnext = NIL;
            if (wq_append(s, slot)) return -1;
        }
        double horizon = next_time(a);
        StepOut out = {0};
        out.empty = 1;
        if (s->nrunning || s->wlen) {
            if (step(s, now, horizon, &out)) return -1;
        }
        if (out.empty) {
            if (isinf(horizon)) break;
            if (horizon > now) now = horizon;
            continue;
        }
        now += out.duration;
        done += s->nfin;
        if (release_finished(s, a, now)) return -1;
        if (progress != Py_None && done - reported >= 4096) {
            reported = done;
            PyObject *r = PyObject_CallFunction(progress, "LL", (long long)done, (long long)a->total);
            if (!r) return -1;
            Py_DECREF(r);
        }
    }
    if (s->nrunning || s->wlen) {
        PyErr_SetString(PyExc_RuntimeError, "fastcore: simulation ended with unfinished requests");
        return -1;
    }
    *now_out = now;
    return 0;
}

/* ---- the module ------------------------------------------------------------------- */
static void sim_free(Sim *s) {
    free(s->reqs); free(s->free_slots); free(s->wq); free(s->by_residue); free(s->heap);
    free(s->tok_w); free(s->head_w);
    free(s->busy.rows); free(s->load.series.rows);
    free(s->itl_first.v); free(s->itl_slope.v); free(s->itl_count.v); free(s->itl_weight.v);
    free(s->log_id.v); free(s->log_prompt.v); free(s->log_generated.v); free(s->log_preempt.v);
    free(s->log_arrival.v); free(s->log_sched.v); free(s->log_first.v); free(s->log_finish.v);
    free(s->chunk_slot); free(s->chunk_n); free(s->chunk_computed); free(s->emit); free(s->fin);
}

static PyObject *bytes_of(const void *v, Py_ssize_t n, size_t item) {
    return PyBytes_FromStringAndSize(v ? (const char *)v : "", (Py_ssize_t)(n * item));
}

static PyObject *weights_of(const double *w, int64_t n) {
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    for (int64_t i = 0; i < n; i++) {
        if (w[i] == 0.0) continue;
        PyObject *k = PyLong_FromLongLong(i), *v = PyFloat_FromDouble(w[i]);
        if (!k || !v || PyDict_SetItem(d, k, v)) { Py_XDECREF(k); Py_XDECREF(v); Py_DECREF(d); return NULL; }
        Py_DECREF(k); Py_DECREF(v);
    }
    return d;
}

static PyObject *attention_of(Sim *s) {
    static const char *names[2] = {"attn_prefill", "attn_decode"};
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    for (int k = 0; k < 2; k++) {
        if (s->attn_count[k] == 0.0) continue;
        PyObject *t = Py_BuildValue("(ddddd)", s->attn_busy[k], s->attn_flops[k], s->attn_bytes[k],
                                    s->attn_write[k], s->attn_count[k]);
        if (!t || PyDict_SetItemString(d, names[k], t)) { Py_XDECREF(t); Py_DECREF(d); return NULL; }
        Py_DECREF(t);
    }
    return d;
}

static PyObject *rows_of(const Series *se) {
    PyObject *rows = PyList_New(se->nrows);
    if (!rows) return NULL;
    for (int r = 0; r < se->nrows; r++) {
        PyObject *row = PyList_New(se->nbins);
        if (!row) { Py_DECREF(rows); return NULL; }
        for (int64_t i = 0; i < se->nbins; i++) {
            PyObject *v = PyFloat_FromDouble(se->rows[r * se->nbins + i]);
            if (!v) { Py_DECREF(row); Py_DECREF(rows); return NULL; }
            PyList_SET_ITEM(row, i, v);
        }
        PyList_SET_ITEM(rows, r, row);
    }
    return rows;
}

static PyObject *load_of(Sim *s) {
    if (!s->track_load) Py_RETURN_NONE;
    Load *l = &s->load;
    return Py_BuildValue("{s:N,s:d,s:d,s:d,s:d,s:d}", "rows", rows_of(&l->series),
                         "bin_s", l->series.bin_s, "lo", l->lo, "hi", l->hi,
                         "batch_s", l->batch_s, "kv_s", l->kv_s);
}

static PyObject *result_of(Sim *s, IArr *rejected, double now) {
    PyObject *rows = rows_of(&s->busy);
    if (!rows) return NULL;
    PyObject *bins = PyList_GetItem(rows, 0);
    Py_INCREF(bins);
    Py_DECREF(rows);
    return Py_BuildValue(
        "{s:d,s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:d,s:L,s:N,s:N,s:N,s:N,s:N,s:d,s:N,s:N,s:N,s:N,"
        "s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N}",
        "simulated_s", now, "steps", (long long)s->steps, "iterations", (long long)s->iterations,
        "preemptions", (long long)s->preemptions, "peak_used_blocks", (long long)s->peak_used,
        "accepted", (long long)s->next_id, "admitted", (long long)s->admitted,
        "iteration", (long long)s->iteration, "last_end_s", s->last_end_s,
        "entries", (long long)s->entries,
        "itl_first", bytes_of(s->itl_first.v, s->itl_first.n, 8),
        "itl_slope", bytes_of(s->itl_slope.v, s->itl_slope.n, 8),
        "itl_count", bytes_of(s->itl_count.v, s->itl_count.n, 8),
        "itl_weight", bytes_of(s->itl_weight.v, s->itl_weight.n, 8),
        "bins", bins, "bin_s", s->busy.bin_s, "load", load_of(s),
        "token_weights", weights_of(s->tok_w, s->memo_n),
        "head_weights", weights_of(s->head_w, s->memo_n),
        "attention", attention_of(s),
        "rejected", bytes_of(rejected->v, rejected->n, 8),
        "id", bytes_of(s->log_id.v, s->log_id.n, 8),
        "arrival_s", bytes_of(s->log_arrival.v, s->log_arrival.n, 8),
        "first_scheduled_s", bytes_of(s->log_sched.v, s->log_sched.n, 8),
        "first_token_s", bytes_of(s->log_first.v, s->log_first.n, 8),
        "finish_s", bytes_of(s->log_finish.v, s->log_finish.n, 8),
        "prompt_tokens", bytes_of(s->log_prompt.v, s->log_prompt.n, 8),
        "generated", bytes_of(s->log_generated.v, s->log_generated.n, 8),
        "num_preemptions", bytes_of(s->log_preempt.v, s->log_preempt.n, 8));
}

static int get_buffer(PyObject *o, Py_buffer *b, Py_ssize_t n, const char *what) {
    if (PyObject_GetBuffer(o, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)) return -1;
    if (b->itemsize != 8 || b->len != n * 8) {
        PyErr_Format(PyExc_ValueError, "fastcore: %s must hold %zd 8-byte numbers", what, n);
        PyBuffer_Release(b);
        return -1;
    }
    return 0;
}

/* A price memo the caller keeps between runs (replicas that share a pricer share it):
 * memo_n float64 slots, -1 where not priced yet. */
static int get_memo(PyObject *o, Py_buffer *b, int64_t n) {
    if (PyObject_GetBuffer(o, b, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE | PyBUF_FORMAT)) return -1;
    if (b->itemsize != 8 || b->len != n * 8) {
        PyErr_Format(PyExc_ValueError, "fastcore: a price memo must hold %lld float64 slots", (long long)n);
        PyBuffer_Release(b);
        b->obj = NULL;
        return -1;
    }
    return 0;
}

static PyObject *fastcore_simulate(PyObject *self, PyObject *args) {
    (void)self;
    Sim s; memset(&s, 0, sizeof s);
    Config *c = &s.c;
    PyObject *inputs, *outputs, *times, *progress, *tok_memo, *head_memo;
    long long concurrency, nbins;
    double bin_s;
    if (!PyArg_ParseTuple(args, "(ddddddddddiddddLLLLLd)OOOLOOOOOLdp",
            &c->q_size, &c->kv_size, &c->kv_width, &c->dtype_bytes, &c->layers,
            &c->attention_flops, &c->bytes_per_s, &c->tp, &c->request_tokens, &c->overhead_s,
            &c->has_host, &c->iteration_s, &c->sequence_s, &c->token_s, &c->sampler_s,
            &c->block_size, &c->num_blocks, &c->max_num_seqs, &c->max_batched, &c->max_fused,
            &c->max_tokens,
            &inputs, &outputs, &times, &concurrency, &s.token_price, &s.head_price, &tok_memo,
            &head_memo, &progress,
            &nbins, &bin_s, &s.track_load))
        return NULL;
    if (c->block_size < 1 || c->max_batched < 1 || nbins < 2 || nbins % 2) {
        PyErr_SetString(PyExc_ValueError, "fastcore: block_size, max_num_batched_tokens and bins out of range");
        return NULL;
    }
    Py_ssize_t total = PyObject_Length(inputs);
    if (total < 0) return NULL;
    Py_buffer bin = {0}, bout = {0}, btimes = {0}, btok = {0}, bhead = {0};
    int have_times = times != Py_None;
    if (get_buffer(inputs, &bin, total, "inputs")) return NULL;
    if (get_buffer(outputs, &bout, total, "outputs")) { PyBuffer_Release(&bin); return NULL; }
    if (have_times && get_buffer(times, &btimes, total, "arrivals")) {
        PyBuffer_Release(&bin); PyBuffer_Release(&bout); return NULL;
    }
    s.memo_n = c->max_batched + 1;
    if (get_memo(tok_memo, &btok, s.memo_n) || get_memo(head_memo, &bhead, s.memo_n)) {
        PyBuffer_Release(&bin); PyBuffer_Release(&bout);
        if (have_times) PyBuffer_Release(&btimes);
        if (btok.obj) PyBuffer_Release(&btok);
        return NULL;
    }
    s.tok_dur = btok.buf;
    s.head_dur = bhead.buf;
    Arrivals a = {bin.buf, bout.buf, have_times ? btimes.buf : NULL, total, 0, NULL, 0};
    IArr rejected = {0};
    PyObject *result = NULL;
    double now = 0.0;
    s.busy = (Series){nbins, 1, bin_s, calloc(nbins, sizeof(double))};
    s.load.series = (Series){nbins, 2, bin_s, s.track_load ? calloc(2 * nbins, sizeof(double)) : NULL};
    s.run_head = s.run_tail = s.pre_head = s.pre_tail = NIL;
    s.free_blocks = c->num_blocks;
    s.by_residue = calloc(c->block_size, sizeof(int64_t));
    s.tok_w = calloc(s.memo_n, sizeof(double)); s.head_w = calloc(s.memo_n, sizeof(double));
    if (!have_times) {
        a.heap = malloc((total ? total : 1) * sizeof(double));
        int64_t start = concurrency < total ? concurrency : total;
        if (a.heap) for (int64_t i = 0; i < start; i++) fheap_push(a.heap, &a.nheap, 0.0);
    }
    if (!s.by_residue || !s.tok_w || !s.head_w || !s.busy.rows || (s.track_load && !s.load.series.rows)
        || (!have_times && !a.heap)) {
        PyErr_NoMemory();
        goto done;
    }
    if (simulate(&s, &a, &rejected, progress, &now)) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    result = result_of(&s, &rejected, now);
done:
    PyBuffer_Release(&bin); PyBuffer_Release(&bout);
    if (have_times) PyBuffer_Release(&btimes);
    PyBuffer_Release(&btok); PyBuffer_Release(&bhead);
    free(a.heap); free(rejected.v);
    sim_free(&s);
    return result;
}

static PyMethodDef methods[] = {
    {"simulate", fastcore_simulate, METH_VARARGS,
     "simulate(config, inputs, outputs, arrivals, concurrency, token_price, head_price, "
     "token_memo, head_memo, "
     "progress, num_bins, bin_s, track_load) -> dict: one replica's run (see fastcore.py)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastcore",
    "The offline engine's loop in C for one replica (fastcore.py).", -1, methods,
    NULL, NULL, NULL, NULL};

/* Bumped whenever simulate's arguments or results change: fastcore.py refuses a module built
 * from an older source (an in-place build left behind by `pip install -e .`). */
#define FASTCORE_ABI 3

PyMODINIT_FUNC PyInit__fastcore(void) {
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddIntConstant(m, "ABI", FASTCORE_ABI)) { Py_DECREF(m); return NULL; }
    return m;
}
