/* role — see role.h. */
#include "app/role.h"

#include <stdio.h>

#include "app/log_setup.h"
#include "app/stop_signals.h"
#include "app/version.h"
#include "obs/http_metrics.h"
#include "obs/log.h"
#include "obs/process_metrics.h"
#include "obs/ragd_metrics.h"

static void add_log_level(role *r) {
    options_add(&r->options, (option_spec){"log-level", "RAGD_LOG_LEVEL", OPT_STRING, &r->log_level,
                                           "debug, info, warn or error", 0, 0});
}

void role_init(role *r, const char *name, const char *args, const char *summary) {
    *r = (role){.info = {name, args, summary}, .options = OPTION_LIST_INIT, .log_level = "info"};
    add_log_level(r);
}

void role_init_server(role *r, const char *name, const char *summary, int default_port) {
    *r = (role){.info = {name, "", summary}, .options = OPTION_LIST_INIT, .serves = true,
                .log_level = "info"};
    server_opts_defaults(&r->server, default_port);
    server_opts_add(&r->options, &r->server);
    add_log_level(r);
}

static bool positional_count_ok(const role *r, char **argv) {
    if (r->npositional > r->max_positional) {
        fprintf(stderr, "ragd %s: unexpected argument '%s' (see 'ragd %s --help')\n", r->info.name,
                argv[1 + r->max_positional], r->info.name);
        return false;
    }
    if (r->npositional < r->min_positional) {
        fprintf(stderr, "ragd %s: missing %s (see 'ragd %s --help')\n", r->info.name, r->info.args,
                r->info.name);
        return false;
    }
    return true;
}

bool role_begin(role *r, int argc, char **argv) {
    options_result parsed = options_parse(&r->info, &r->options, argc, argv, &r->npositional);
    r->exit_status = parsed == OPTIONS_HELP ? 0 : 2;
    if (parsed != OPTIONS_OK || !positional_count_ok(r, argv)) return false;
    if (log_setup(r->info.name, r->log_level, r->serves ? r->server.loki_url : NULL, r->info.name) < 0)
        return false;
    if (r->serves) {
        /* Every serving role exports the same families from its first scrape on. */
        http_metrics_register();
        ragd_metrics_register();
        process_metrics_register(RAGD_VERSION);
        if (stop_signals_take() < 0) {
            fprintf(stderr, "ragd %s: cannot set up the stop signals\n", r->info.name);
            r->exit_status = 1;
            return false;
        }
    }
    r->exit_status = 0;
    return true;
}

http_server *role_listen(role *r, const route_list *routes) {
    http_config cfg = server_opts_http_config(&r->server, r->info.name);
    char err[256];
    http_server *s = http_server_start(&cfg, routes->items, routes->n, err, sizeof err);
    if (!s) {
        log_error("ragd %s: %s", r->info.name, err);
        return NULL;
    }
    const char *key = r->server.api_key;
    log_fields(LOG_INFO, "listening",
               (log_field[]){LOG_STR("role", r->info.name), LOG_STR("host", r->server.host),
                             LOG_INT("port", http_server_port(s)),
                             LOG_STR("auth", key && *key ? "api-key" : "none")},
               4);
    return s;
}

int role_serve(role *r, const route_list *routes) {
    http_server *s = role_listen(r, routes);
    if (!s) return 1;
    int sig = stop_signals_wait();
    log_info("stopping on signal %d", sig);
    http_server_stop(s);
    return 0;
}

int role_end(role *r, int status) {
    log_teardown();
    options_free(&r->options);
    return status;
}
