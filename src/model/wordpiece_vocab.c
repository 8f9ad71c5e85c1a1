/* wordpiece_vocab — vocab.txt as an open-addressing hash table.
 *
 * Design: the file is read once into one arena; every '\n' becomes a NUL, so
 * the piece of id i is simply arena + offset[i] (no per-piece allocation).
 * The table holds (hash, id) slots, a power of two at least twice the
 * vocabulary, probed linearly; the 32-bit hash in the slot lets a probe skip
 * almost every string comparison, and a per-id key (offset, length, kind)
 * makes the remaining one a single memcmp. Continuation pieces ("##ing") are keyed by
 * the bytes after "##" with a different hash seed, so a lookup never has to
 * build the prefixed string.
 */
#include "model/wordpiece_vocab.h"

#include <string.h>

#include "util/util.h"

typedef struct {
    uint32_t hash; /* low bits of the 64-bit key hash; valid when id >= 0 */
    int32_t id;    /* -1: empty slot */
} vocab_slot;

/* Where an id's key lives: its bytes without "##", and its kind. */
typedef struct {
    uint32_t offset; /* key start in arena */
    uint16_t len;
    uint16_t continuation;
} vocab_key;

struct wordpiece_vocab {
    char *arena;      /* the file, lines NUL-terminated in place */
    uint32_t *offset; /* id -> piece start in arena */
    vocab_key *key;   /* id -> key, so a probe compares without strlen */
    int count;
    vocab_slot *slots;
    size_t mask; /* slot count - 1 */
    size_t max_len[2]; /* [continuation] longest key in bytes */
};

static const char CONTINUATION_PREFIX[] = "##";
enum { CONTINUATION_PREFIX_LEN = 2 };

/* FNV-1a, 64-bit, seeded by kind so "ing" and "##ing" hash apart. */
static uint64_t key_hash(const char *bytes, size_t len, bool continuation) {
    uint64_t h = continuation ? 0x84222325cbf29ce4ULL : 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)bytes[i];
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

static vocab_key key_of_piece(const char *arena, uint32_t offset) {
    const char *piece = arena + offset;
    size_t n = strlen(piece);
    bool continuation = n > CONTINUATION_PREFIX_LEN &&
                        memcmp(piece, CONTINUATION_PREFIX, CONTINUATION_PREFIX_LEN) == 0;
    size_t skip = continuation ? CONTINUATION_PREFIX_LEN : 0;
    return (vocab_key){.offset = offset + (uint32_t)skip,
                       .len = (uint16_t)(n - skip),
                       .continuation = continuation};
}

/* The slot holding this key, or the empty slot where it would go. */
static vocab_slot *slot_for(const wordpiece_vocab *v, const char *bytes, size_t len,
                            bool continuation) {
    uint64_t h = key_hash(bytes, len, continuation);
    uint32_t tag = (uint32_t)h;
    for (size_t i = (size_t)(h >> 32) & v->mask;; i = (i + 1) & v->mask) {
        vocab_slot *s = &v->slots[i];
        if (s->id < 0) return s;
        if (s->hash != tag) continue;
        const vocab_key *k = &v->key[s->id];
        if (k->continuation == continuation && k->len == len &&
            memcmp(v->arena + k->offset, bytes, len) == 0)
            return s;
    }
}

wordpiece_vocab *wordpiece_vocab_load(const char *path, char *err, size_t errlen) {
    size_t size = 0;
    char local_err[512];
    char *arena = read_file(path, &size, local_err, sizeof local_err);
    if (!arena) {
        seterr(err, errlen, "vocabulary: %s", local_err);
        return NULL;
    }
    if (size == 0) {
        free(arena);
        seterr(err, errlen, "vocabulary %s is empty", path);
        return NULL;
    }
    if (size > UINT32_MAX) {
        free(arena);
        seterr(err, errlen, "vocabulary %s is too large (%zu bytes)", path, size);
        return NULL;
    }

    size_t lines = 0;
    for (size_t i = 0; i < size; i++) lines += arena[i] == '\n';
    if (arena[size - 1] != '\n') lines++;

    wordpiece_vocab *v = xcalloc(1, sizeof *v);
    v->arena = arena;
    v->offset = xmalloc(lines * sizeof *v->offset);
    size_t start = 0;
    size_t longest = 0;
    for (size_t i = 0; i <= size && (size_t)v->count < lines; i++) {
        if (i < size && arena[i] != '\n') continue;
        size_t end = i;
        if (end - start > longest) longest = end - start;
        /* A vocabulary saved on Windows keeps its CR: it is not part of a piece. */
        if (end > start && arena[end - 1] == '\r') end--;
        arena[end] = '\0';
        v->offset[v->count++] = (uint32_t)start;
        start = i + 1;
    }
    if (longest > UINT16_MAX) {
        wordpiece_vocab_free(v);
        seterr(err, errlen, "vocabulary %s: a line of %zu bytes is not a word piece", path, longest);
        return NULL;
    }
    v->key = xmalloc((size_t)v->count * sizeof *v->key);
    for (int32_t id = 0; id < v->count; id++) v->key[id] = key_of_piece(arena, v->offset[id]);

    size_t slots = 1;
    while (slots < 2 * (size_t)v->count) slots <<= 1;
    v->slots = xmalloc(slots * sizeof *v->slots);
    for (size_t i = 0; i < slots; i++) v->slots[i].id = -1;
    v->mask = slots - 1;
    for (int32_t id = 0; id < v->count; id++) {
        const vocab_key *k = &v->key[id];
        const char *bytes = arena + k->offset;
        vocab_slot *s = slot_for(v, bytes, k->len, k->continuation);
        s->hash = (uint32_t)key_hash(bytes, k->len, k->continuation);
        s->id = id; /* a duplicate line takes over the earlier id */
        if (k->len > v->max_len[k->continuation]) v->max_len[k->continuation] = k->len;
    }
    return v;
}

void wordpiece_vocab_free(wordpiece_vocab *v) {
    if (!v) return;
    free(v->slots);
    free(v->key);
    free(v->offset);
    free(v->arena);
    free(v);
}

int32_t wordpiece_vocab_find(const wordpiece_vocab *v, const char *bytes, size_t len,
                             bool continuation) {
    if (len == 0 || len > v->max_len[continuation]) return -1;
    return slot_for(v, bytes, len, continuation)->id;
}

size_t wordpiece_vocab_max_len(const wordpiece_vocab *v, bool continuation) {
    return v->max_len[continuation];
}

int wordpiece_vocab_size(const wordpiece_vocab *v) { return v->count; }

const char *wordpiece_vocab_piece(const wordpiece_vocab *v, int32_t id) {
    if (id < 0 || id >= v->count) return NULL;
    return v->arena + v->offset[id];
}
