// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A module's result as a subcommand's exit code (exit_codes.h). */
#include "lib/errors.h"
#include "cli/exit_codes.h"

enum exit_code exit_code_of(int err)
{
	switch (err_kind(err)) {
	case ERR_KIND_NONE:
		return EXIT_OK;
	case ERR_KIND_INPUT:
		return EXIT_USAGE;
	case ERR_KIND_ENVIRONMENT:
		return EXIT_NO_PRIVILEGE;
	case ERR_KIND_BUSY:
		return EXIT_BUSY;
	case ERR_KIND_RUNTIME:
		break;
	}
	return EXIT_RUNTIME;
}
