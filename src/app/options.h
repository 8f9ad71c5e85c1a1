/* options — command-line flags with environment-variable equivalents.
 *
 * Each subcommand gathers its options in an option_list (a growable array:
 * the shared groups — serving, encoder, LLM — append theirs, the command
 * its own, and nobody counts them by hand); options_parse() fills the
 * targets first from defaults (already in the targets), then from the
 * environment (RAGD_PORT, …), then from the command line, so a flag always
 * wins over the environment. Unknown flags and bad values are errors with a
 * message that names the flag, never silently ignored. `--help` prints the
 * table, generated from the same declarations, so help can't go stale.
 */
#ifndef RAGD_APP_OPTIONS_H
#define RAGD_APP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { OPT_STRING, OPT_INT, OPT_DOUBLE, OPT_BOOL, OPT_STRING_LIST } option_type;

/* The target of an OPT_STRING_LIST option: a repeatable flag. Every
 * occurrence on the command line appends its value; the default and then the
 * environment's value are the list until a later source replaces them.
 * Values point into argv or the environment (nothing is copied); splitting a
 * value on commas is the command's business. */
#define OPTION_LIST_MAX 32
typedef struct option_strings {
    const char *items[OPTION_LIST_MAX];
    int n;
    bool provisional;  /* items are the default's or the environment's: replace, don't append */
} option_strings;

typedef struct option_spec {
    const char *name;     /* "port" for --port */
    const char *env;      /* "RAGD_PORT", or NULL */
    option_type type;
    void *target;         /* const char **, int *, double *, bool *, option_strings * */
    const char *help;
    long min, max;        /* OPT_INT range (both 0: unchecked) */
} option_spec;

typedef struct command_info {
    const char *name;     /* "serve" */
    const char *args;     /* positional arguments for the usage line, or "" */
    const char *summary;  /* one sentence */
} command_info;

/* The options of one command, in help order. Owns its array (not the
 * targets, which the command owns). */
typedef struct option_list {
    option_spec *items;
    int n, cap;
} option_list;

#define OPTION_LIST_INIT {NULL, 0, 0}

/* Append one option (aborts on a second option of the same name: a
 * programming error that would make one of them unreachable). */
void options_add(option_list *l, option_spec spec);
/* Append a whole static table: options_add_all(l, specs, ARRAY_LEN(specs)). */
void options_add_all(option_list *l, const option_spec *specs, size_t n);
void options_free(option_list *l);

typedef enum options_result { OPTIONS_OK = 0, OPTIONS_HELP = 1, OPTIONS_ERROR = 2 } options_result;

/* Parse argv (argv[0] is the subcommand name). Positional arguments are moved
 * to the front of argv[1..]; *npositional receives their count. Returns
 * OPTIONS_OK, OPTIONS_HELP (help was printed: exit 0) or OPTIONS_ERROR (a
 * message was printed: exit 2). */
options_result options_parse(const command_info *cmd, const option_list *opts, int argc,
                             char **argv, int *npositional);

void options_print_help(const command_info *cmd, const option_list *opts);

#endif
