/* log_setup — see log_setup.h. */
#include "app/log_setup.h"

#include <stdio.h>

#include "obs/log.h"
#include "obs/loki.h"

static loki_client *loki;

int log_setup(const char *command, const char *level_name, const char *loki_url, const char *role) {
    log_level level;
    if (log_parse_level(level_name, &level) < 0) {
        fprintf(stderr, "ragd %s: --log-level must be debug, info, warn or error, got '%s'\n",
                command, level_name);
        return -1;
    }
    log_set_level(level);
    if (loki_url && *loki_url) {
        char err[256];
        loki = loki_start(loki_url, role, err, sizeof err);
        if (!loki) {
            fprintf(stderr, "ragd %s: %s\n", command, err);
            return -1;
        }
    }
    return 0;
}

void log_teardown(void) {
    loki_stop(loki);
    loki = NULL;
}
