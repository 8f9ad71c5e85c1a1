/* main — the ragd binary: dispatch to a subcommand (commands.h).
 *
 * One binary plays every role (docs/architecture.md) so that a deployment is a single
 * file; the role is chosen by the first argument. */
#include <stdio.h>
#include <string.h>

#include "app/commands.h"
#include "app/version.h"
#include "util/util.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"serve", cmd_serve, "all-in-one server: gateway, model and store in one process (:8000)"},
    {"gateway", cmd_gateway, "gateway role: POST /ask, calling model services over HTTP (:8000)"},
    {"model", cmd_model, "model service role: POST /encode, GET|POST /llm_ask (:8080)"},
    {"ingest", cmd_ingest, "read the CSV corpus, encode it and load the store"},
    {"embed", cmd_embed, "print one JSON vector per text (arguments or stdin lines)"},
    {"search", cmd_search, "print the passages that best match a query"},
    {"eval", cmd_eval, "measure retrieval (R@k, MRR, nDCG) on questions with known articles"},
    {"ask", cmd_ask, "ask a running ragd a question and stream the answer"},
};

static void usage(FILE *out) {
    fprintf(out,
            "ragd %s — question answering with grounding over a news corpus\n\n"
            "Usage: ragd <command> [options]\n\nCommands:\n",
            RAGD_VERSION);
    for (size_t i = 0; i < ARRAY_LEN(commands); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'ragd <command> --help' lists a command's options and environment variables.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("ragd %s\n", RAGD_VERSION);
        return 0;
    }
    for (size_t i = 0; i < ARRAY_LEN(commands); i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ragd: unknown command '%s' (see 'ragd --help')\n", argv[1]);
    return 2;
}
