/* test_views — one pinned view per open store for the tests of stores that
 * nobody writes to while they are searched: test_view(s) acquires it on the
 * first call, test_close(s) releases it and closes the store. Tests of live
 * writes take their views themselves (store_acquire / store_release). */
#ifndef RAGD_TESTS_STORE_VIEWS_H
#define RAGD_TESTS_STORE_VIEWS_H

#include <assert.h>
#include <stddef.h>

#include "store/documents.h"

#define TEST_MAX_PINNED 16

static struct {
    store *s;
    const store_view *v;
} test_pinned[TEST_MAX_PINNED];

static inline const store_view *test_view(store *s) {
    for (int i = 0; i < TEST_MAX_PINNED; i++)
        if (test_pinned[i].s == s) return test_pinned[i].v;
    for (int i = 0; i < TEST_MAX_PINNED; i++)
        if (test_pinned[i].s == NULL) {
            test_pinned[i].s = s;
            test_pinned[i].v = store_acquire(s);
            return test_pinned[i].v;
        }
    assert(!"more than TEST_MAX_PINNED stores open in one test");
    return NULL;
}

static inline void test_close(store *s) {
    if (s == NULL) return;
    for (int i = 0; i < TEST_MAX_PINNED; i++)
        if (test_pinned[i].s == s) {
            store_release(test_pinned[i].v);
            test_pinned[i].s = NULL;
            test_pinned[i].v = NULL;
        }
    store_close(s);
}

#endif
