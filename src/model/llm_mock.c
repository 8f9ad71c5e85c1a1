/* llm_mock — the Python system's mock LLM, reproducible and without its
 * artificial CPU burn.
 *
 * The algorithm (the Python model service's LLMModel.ask, faithfully in C):
 *
 *   For every prompt, walk its context articles in order; for article a with
 *   n characters (Unicode code points — Python slices characters, not bytes):
 *       start = randint(0, max(n - 1, 0))          both ends inclusive
 *       stop  = randint(start + 1, start + 128)    both ends inclusive
 *       piece = article[start:stop]                clipped at the end, as a slice is
 *   and emit piece as one event (prompt index, article index a). So a prompt
 *   gets exactly one event per article, each 1..128 characters of that article
 *   (0 only when the article is empty). A batch is answered round-robin: round
 *   r emits the r-th article's piece of every prompt that still has one, which
 *   is the order the Python generator yielded its per-round lists in.
 *
 * Deliberate differences, and why:
 *   - Python seeded one global `random` per process, so an answer depended on
 *     every request served before it. Here each prompt has its own generator:
 *     xoshiro256** seeded through splitmix64 from the prompt's seed (or the
 *     call's seed), so an answer is a pure function of (context, seed) and is
 *     reproducible whatever else shares the batch or the process. Seed 0 asks
 *     for a random seed from getrandom(2), different for every prompt.
 *   - Python added a greeting event ('Answer for question "…" is:') before the
 *     articles; the contract here is one event per article, and the caller
 *     (the model service) writes any framing it wants.
 *   - Python burned 10^5–10^7 floating-point iterations per piece to imitate a
 *     slow model; ragd's mock measures the service, not a simulated GPU.
 *   - Python stopped a batch early when a whole round's pieces were empty
 *     (`if not any(response)`), losing later articles after empty ones; here
 *     every article gets its event.
 *
 * Characters are counted as bytes that are not UTF-8 continuation bytes
 * (10xxxxxx), so on valid UTF-8 every cut falls on a code-point boundary and on
 * invalid input no valid sequence is ever split.
 */
#include <assert.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "model/llm_impl.h"
#include "util/util.h"

/* The longest piece, in characters (Python's `start + 128`). */
#define MOCK_MAX_PIECE 128

typedef struct mock_llm {
    llm base; /* first: an llm* is a mock_llm* */
    int delay_ms;
} mock_llm;

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256** (Blackman & Vigna). */
static uint64_t rng_next(rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [lo, hi], both inclusive (Python's randint), without modulo bias. */
static uint64_t rng_randint(rng *r, uint64_t lo, uint64_t hi) {
    uint64_t span = hi - lo + 1;
    if (span == 0) return lo + rng_next(r); /* the whole 64-bit range */
    uint64_t reject_below = (0 - span) % span;
    uint64_t x;
    do x = rng_next(r);
    while (x < reject_below);
    return lo + x % span;
}

static uint64_t random_seed(void) {
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
        /* No entropy yet (early boot): the clock and a stack address still
         * make concurrent calls differ, which is all a mock needs. */
        uint64_t local = now_ns() ^ (uint64_t)(uintptr_t)&s;
        s = splitmix64(&local);
    }
    return s ? s : 1;
}

static bool is_char_start(unsigned char c) { return (c & 0xC0) != 0x80; }

static size_t count_chars(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += is_char_start((unsigned char)s[i]);
    return n;
}

/* Byte offset of character index k (k <= number of characters). */
static size_t char_offset(const char *s, size_t len, size_t k) {
    size_t seen = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_char_start((unsigned char)s[i])) {
            if (seen == k) return i;
            seen++;
        }
    }
    return len;
}

/* The piece of one article: byte range [*from, *to) of text. */
static void mock_piece(rng *r, const char *text, size_t *from, size_t *to) {
    size_t len = strlen(text);
    size_t nchars = count_chars(text, len);
    uint64_t start = rng_randint(r, 0, nchars ? nchars - 1 : 0);
    uint64_t stop = rng_randint(r, start + 1, start + MOCK_MAX_PIECE);
    if (stop > nchars) stop = nchars;
    if (start > stop) start = stop; /* only for an empty article */
    *from = char_offset(text, len, start);
    *to = *from + char_offset(text + *from, len - *from, stop - start);
}

/* The pace knob: a pause between pieces. It only delays; the pieces are the
 * same, and a client that leaves is noticed at the next piece. */
static void pause_ms(int ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static int mock_generate(llm *m, const llm_prompt *prompts, int nprompts, uint64_t seed,
                         llm_emit_fn emit, void *ctx, char *err, size_t errlen) {
    const mock_llm *mock = (const mock_llm *)m;
    rng *rngs = xmalloc(sizeof(rng) * (size_t)nprompts);
    int rounds = 0;
    for (int p = 0; p < nprompts; p++) {
        uint64_t s = prompts[p].seed ? prompts[p].seed : seed ? seed : random_seed();
        rng_seed(&rngs[p], s);
        if (prompts[p].ncontext > rounds) rounds = prompts[p].ncontext;
    }
    int rc = 0;
    for (int a = 0; a < rounds && rc == 0; a++) {
        for (int p = 0; p < nprompts; p++) {
            if (a >= prompts[p].ncontext) continue;
            const char *text = prompts[p].context[a];
            size_t from, to;
            mock_piece(&rngs[p], text, &from, &to);
            if (mock->delay_ms && (a || p)) pause_ms(mock->delay_ms);
            if (emit(p, a, text + from, to - from, ctx)) {
                rc = 1;
                break;
            }
        }
    }
    free(rngs);
    return rc;
}

static void mock_destroy(llm *m) { free(m); }

llm *llm_mock_new_paced(int delay_ms) {
    assert(delay_ms >= 0 && delay_ms <= LLM_MOCK_MAX_DELAY_MS);
    mock_llm *m = xcalloc(1, sizeof *m);
    m->base.name = "mock";
    m->base.generate = mock_generate;
    m->base.destroy = mock_destroy;
    m->delay_ms = delay_ms;
    return &m->base;
}

llm *llm_mock_new(void) { return llm_mock_new_paced(0); }
