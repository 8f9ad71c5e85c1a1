/* model_dirs — see model_dirs.h. */
#include "model/model_dirs.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "model/encoder.h"
#include "util/util.h"

int model_candidate_dirs(const char *name, char **out, int max) {
    int n = 0;
    char path[PATH_MAX];
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n < max && snprintf(path, sizeof path, __VA_ARGS__) < (int)sizeof path)                \
            out[n++] = xstrdup(path);                                                              \
    } while (0)
    ADD("models/%s", name);
    ADD("../shared/models/%s", name);
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        for (int up = 0; up < MODEL_DIR_ANCESTORS; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash || slash == exe) break;
            *slash = '\0'; /* exe is now the folder (then its parent, …) */
            ADD("%s/models/%s", exe, name);
            ADD("%s/../shared/models/%s", exe, name);
        }
    }
    const char *shared = getenv("RAGD_SHARED_DIR");
    if (shared && *shared) ADD("%s/models/%s", shared, name);
#undef ADD
    assert(n <= max);
    return n;
}

/* dir/file, malloc'd, if that file exists. */
static char *existing_file(const char *dir, const char *file) {
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, file);
    return n > 0 && (size_t)n < sizeof path && file_exists(path) ? xstrdup(path) : NULL;
}

char *model_find_file(const char *dir_flag, const char *file) {
    if (dir_flag && *dir_flag) return existing_file(dir_flag, file);
    static const char *const names[] = {ENCODER_MODEL_NAME, ENCODER_TWIN_NAME};
    char *found = NULL;
    for (size_t k = 0; k < ARRAY_LEN(names) && !found; k++) {
        char *dirs[MODEL_DIR_CANDIDATES];
        int n = model_candidate_dirs(names[k], dirs, (int)ARRAY_LEN(dirs));
        for (int i = 0; i < n; i++) {
            if (!found) found = existing_file(dirs[i], file);
            free(dirs[i]);
        }
    }
    return found;
}
