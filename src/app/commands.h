/* commands — the subcommands of the ragd binary. Each takes argv with
 * argv[0] = its own name and returns the process exit status. */
#ifndef RAGD_APP_COMMANDS_H
#define RAGD_APP_COMMANDS_H

int cmd_serve(int argc, char **argv);   /* all-in-one: gateway + model + store */
int cmd_gateway(int argc, char **argv); /* POST /ask, calls model services over HTTP */
int cmd_model(int argc, char **argv);   /* POST /encode, /llm_ask */
int cmd_ingest(int argc, char **argv);  /* CSV corpus → store */
int cmd_embed(int argc, char **argv);   /* texts → vectors on stdout */
int cmd_search(int argc, char **argv);  /* query → passages */
int cmd_eval(int argc, char **argv);    /* questions with known articles → retrieval metrics */
int cmd_ask(int argc, char **argv);     /* question → streamed answer, as an HTTP client */

#endif
