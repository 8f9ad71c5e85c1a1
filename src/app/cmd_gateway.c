/* cmd_gateway — placeholder until its subsystem lands: says so and fails. */
#include <stdio.h>

#include "app/commands.h"

int cmd_gateway(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "ragd %s: not available in this build yet\n", argv[0]);
    return 1;
}
