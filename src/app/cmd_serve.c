/* cmd_serve — `ragd serve`, the embedded default: gateway, model and store in
 * one process, no network hop between them. */
#include <stdio.h>

#include "app/commands.h"
#include "app/server_opts.h"
#include "app/web.h"

int cmd_serve(int argc, char **argv) {
    server_opts so;
    server_opts_defaults(&so, 8000);
    option_spec specs[SERVER_OPTS_COUNT];
    server_opts_specs(&so, specs);
    command_info info = {"serve", "", "Run the all-in-one server: gateway, model and store in one process."};
    int npos = 0;
    int rc = options_parse(&info, specs, SERVER_OPTS_COUNT, argc, argv, &npos);
    if (rc != OPTIONS_OK) return rc == OPTIONS_HELP ? 0 : 2;
    if (npos) {
        fprintf(stderr, "ragd serve: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    if (server_opts_apply_logging(&so, "serve") < 0) return 2;
    web_role role = {.role = "serve"};
    route_list routes = {0};
    web_add_routes(&routes, &role);
    return server_run(&so, "serve", &routes);
}
