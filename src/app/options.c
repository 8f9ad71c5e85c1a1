/* options — flag and environment parsing (see options.h). */
#include "app/options.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

static int set_value(const command_info *cmd, const option_spec *o, const char *value,
                     const char *source, bool from_env) {
    switch (o->type) {
    case OPT_STRING_LIST: {
        option_strings *l = o->target;
        if (l->provisional) l->n = 0;
        l->provisional = from_env;
        if (l->n == OPTION_LIST_MAX) {
            fprintf(stderr, "ragd %s: %s given more than %d times\n", cmd->name, source,
                    OPTION_LIST_MAX);
            return -1;
        }
        l->items[l->n++] = value;
        return 0;
    }
    case OPT_STRING:
        *(const char **)o->target = value;
        return 0;
    case OPT_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end) {
            fprintf(stderr, "ragd %s: %s expects a whole number, got '%s'\n", cmd->name, source,
                    value);
            return -1;
        }
        if ((o->min || o->max) && (v < o->min || v > o->max)) {
            fprintf(stderr, "ragd %s: %s must be between %ld and %ld, got %ld\n", cmd->name,
                    source, o->min, o->max, v);
            return -1;
        }
        *(int *)o->target = (int)v;
        return 0;
    }
    case OPT_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end) {
            fprintf(stderr, "ragd %s: %s expects a number, got '%s'\n", cmd->name, source, value);
            return -1;
        }
        *(double *)o->target = v;
        return 0;
    }
    case OPT_BOOL:
        if (!strcasecmp(value, "1") || !strcasecmp(value, "true") || !strcasecmp(value, "yes") ||
            !strcasecmp(value, "on")) {
            *(bool *)o->target = true;
        } else if (!strcasecmp(value, "0") || !strcasecmp(value, "false") ||
                   !strcasecmp(value, "no") || !strcasecmp(value, "off")) {
            *(bool *)o->target = false;
        } else {
            fprintf(stderr, "ragd %s: %s expects true or false, got '%s'\n", cmd->name, source,
                    value);
            return -1;
        }
        return 0;
    }
    return -1;
}

void options_add(option_list *l, option_spec spec) {
    assert(spec.name && spec.name[0] && spec.target && spec.help);
    for (int i = 0; i < l->n; i++) {
        if (!strcmp(l->items[i].name, spec.name)) {
            fprintf(stderr, "ragd: option --%s declared twice\n", spec.name);
            abort();
        }
    }
    l->items = xgrow(l->items, l->n, &l->cap, sizeof *l->items);
    l->items[l->n++] = spec;
    assert(l->n <= l->cap);
}

void options_add_all(option_list *l, const option_spec *specs, size_t n) {
    for (size_t i = 0; i < n; i++) options_add(l, specs[i]);
}

void options_free(option_list *l) {
    free(l->items);
    *l = (option_list)OPTION_LIST_INIT;
}

void options_print_help(const command_info *cmd, const option_list *opts) {
    const option_spec *specs = opts->items;
    int nspecs = opts->n;
    printf("Usage: ragd %s [options]%s%s\n\n%s\n\nOptions:\n", cmd->name,
           cmd->args && *cmd->args ? " " : "", cmd->args ? cmd->args : "", cmd->summary);
    for (int i = 0; i < nspecs; i++) {
        const option_spec *o = &specs[i];
        char flag[64];
        const char *meta = o->type == OPT_BOOL ? "" : o->type == OPT_STRING || o->type == OPT_STRING_LIST ? " S" : " N";
        /* a one-letter name is a short flag: -k */
        snprintf(flag, sizeof flag, "%s%s%s", o->name[1] ? "--" : "-", o->name, meta);
        char deflt[96] = "";
        switch (o->type) {
        case OPT_STRING: {
            const char *v = *(const char **)o->target;
            if (v) snprintf(deflt, sizeof deflt, " (default: %s)", v);
            break;
        }
        case OPT_INT: snprintf(deflt, sizeof deflt, " (default: %d)", *(int *)o->target); break;
        case OPT_DOUBLE: snprintf(deflt, sizeof deflt, " (default: %g)", *(double *)o->target); break;
        case OPT_BOOL: break;
        case OPT_STRING_LIST: {
            const option_strings *l = o->target;
            int used = snprintf(deflt, sizeof deflt, " (repeatable%s", l->n ? "; default: " : ")");
            for (int k = 0; k < l->n && used > 0 && (size_t)used < sizeof deflt; k++)
                used += snprintf(deflt + used, sizeof deflt - (size_t)used, "%s%s%s", k ? "," : "",
                                 l->items[k], k + 1 == l->n ? ")" : "");
            break;
        }
        }
        printf("  %-26s %s%s", flag, o->help, deflt);
        if (o->env) printf(" [env %s]", o->env);
        printf("\n");
    }
    printf("  %-26s %s\n", "--help", "show this help");
}

options_result options_parse(const command_info *cmd, const option_list *opts, int argc,
                             char **argv, int *npositional) {
    const option_spec *specs = opts->items;
    int nspecs = opts->n;
    for (int i = 0; i < nspecs; i++) {
        const char *v = specs[i].env ? getenv(specs[i].env) : NULL;
        if (v && *v && set_value(cmd, &specs[i], v, specs[i].env, true) < 0) return OPTIONS_ERROR;
    }
    int npos = 0;
    bool only_positional = false;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            argv[1 + npos++] = arg;
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_positional = true;
            continue;
        }
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            options_print_help(cmd, opts);
            return OPTIONS_HELP;
        }
        /* -k VALUE: a spec with a one-letter name */
        bool short_flag = arg[1] != '-' && arg[2] == '\0';
        if (arg[1] != '-' && !short_flag) {
            fprintf(stderr, "ragd %s: unknown option '%s' (see 'ragd %s --help')\n", cmd->name,
                    arg, cmd->name);
            return OPTIONS_ERROR;
        }
        const char *name = arg + (short_flag ? 1 : 2);
        const char *eq = strchr(name, '=');
        size_t namelen = eq ? (size_t)(eq - name) : strlen(name);
        const option_spec *o = NULL;
        for (int j = 0; j < nspecs; j++) {
            if (strlen(specs[j].name) == namelen && !strncmp(specs[j].name, name, namelen)) {
                o = &specs[j];
                break;
            }
        }
        bool negated = false;
        if (!o && namelen > 3 && !strncmp(name, "no-", 3)) {
            for (int j = 0; j < nspecs; j++) {
                if (specs[j].type == OPT_BOOL && strlen(specs[j].name) == namelen - 3 &&
                    !strncmp(specs[j].name, name + 3, namelen - 3)) {
                    o = &specs[j];
                    negated = true;
                    break;
                }
            }
        }
        if (!o) {
            fprintf(stderr, "ragd %s: unknown option '%s%.*s' (see 'ragd %s --help')\n", cmd->name,
                    short_flag ? "-" : "--", (int)namelen, name, cmd->name);
            return OPTIONS_ERROR;
        }
        char source[80];
        snprintf(source, sizeof source, "%s%s", o->name[1] ? "--" : "-", o->name);
        const char *value;
        if (o->type == OPT_BOOL && !eq) {
            value = negated ? "false" : "true";
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            fprintf(stderr, "ragd %s: %s needs a value\n", cmd->name, source);
            return OPTIONS_ERROR;
        }
        if (set_value(cmd, o, value, source, false) < 0) return OPTIONS_ERROR;
    }
    *npositional = npos;
    return OPTIONS_OK;
}
