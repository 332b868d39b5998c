// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The configuration file as option words (see config_file.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <ini.h>
#include "cli/config_file.h"
#include "lib/log.h"

/* Options whose values add up: the command line's replace the file's. */
static const char *const adding_up[][3] = {
	{ "collector", NULL, NULL },
	{ "interface", NULL, NULL },
	{ "local", "local-file", NULL },
};

struct reader {
	const struct option *longopts;
	int cli_argc;
	char **cli_argv;
	char **words;
	int n, cap;
	char bad[160]; /* why the handler refused a line */
};

static bool push(struct reader *r, const char *w)
{
	if (r->n + 1 >= r->cap) {
		int cap = r->cap ? r->cap * 2 : 32;
		char **grown = realloc(r->words, cap * sizeof(*grown));

		if (!grown)
			return false;
		r->words = grown;
		r->cap = cap;
	}
	r->words[r->n] = strdup(w);
	return r->words[r->n++] != NULL;
}

static const struct option *find_option(const struct option *o, const char *name)
{
	for (; o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

/* The command line gives this option (long or short form). */
static bool on_command_line(const struct reader *r, const char *name, int short_opt)
{
	size_t n = strlen(name);

	for (int i = 1; i < r->cli_argc; i++) {
		const char *a = r->cli_argv[i];

		if (!strcmp(a, "--"))
			break;
		if (!strncmp(a, "--", 2) && !strncmp(a + 2, name, n) &&
		    (a[2 + n] == '\0' || a[2 + n] == '='))
			return true;
		if (short_opt && a[0] == '-' && a[1] == short_opt)
			return true;
	}
	return false;
}

/* The file's value is dropped: the command line gives this option or
 * one of its kind. */
static bool overridden(const struct reader *r, const char *name)
{
	for (size_t i = 0; i < sizeof(adding_up) / sizeof(adding_up[0]); i++) {
		bool member = false, given = false;

		for (int k = 0; k < 3 && adding_up[i][k]; k++)
			member |= !strcmp(adding_up[i][k], name);
		if (!member)
			continue;
		for (int k = 0; k < 3 && adding_up[i][k]; k++) {
			const struct option *o = find_option(r->longopts, adding_up[i][k]);

			if (o)
				given |= on_command_line(r, o->name, o->val < 0x100 ? o->val : 0);
		}
		return given;
	}
	return false;
}

static int parse_bool(const char *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i]))
			return 1;
		if (!strcasecmp(v, no[i]))
			return 0;
	}
	return -1;
}

static int on_line(void *user, const char *section, const char *name, const char *value)
{
	struct reader *r = user;
	const struct option *o = find_option(r->longopts, name);
	char word[128];

	if (section[0] && strcmp(section, "run")) {
		snprintf(r->bad, sizeof(r->bad),
			 "section [%s]: only [run] (or none) "
			 "is read",
			 section);
		return 0;
	}
	if (!o || !strcmp(name, "config") || !strcmp(name, "no-config") || !strcmp(name, "help")) {
		snprintf(r->bad, sizeof(r->bad),
			 "'%s' is not an option of "
			 "'flowprobe run' (see --help; names without the dashes)",
			 name);
		return 0;
	}
	if (overridden(r, name))
		return 1;
	snprintf(word, sizeof(word), "--%s", name);
	if (o->has_arg == no_argument) {
		int b = parse_bool(value);

		if (b < 0) {
			snprintf(r->bad, sizeof(r->bad), "'%s' takes yes or no, not '%s'", name,
				 value);
			return 0;
		}
		return b ? push(r, word) : 1;
	}
	if (!value[0]) {
		snprintf(r->bad, sizeof(r->bad), "'%s' needs a value", name);
		return 0;
	}
	return push(r, word) && push(r, value);
}

/* --config FILE / --no-config on the command line. */
static const char *config_path(int argc, char **argv, const char *default_path, bool *explicit)
{
	const char *path = default_path;

	*explicit = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--no-config")) {
			path = NULL;
		} else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			path = argv[++i];
			*explicit = true;
		} else if (!strncmp(argv[i], "--config=", 9)) {
			path = argv[i] + 9;
			*explicit = true;
		}
	}
	return path;
}

int config_args_build(struct config_args *out, int argc, char **argv, const struct option *longopts,
		      const char *default_path)
{
	struct reader r = { .longopts = longopts, .cli_argc = argc, .cli_argv = argv };
	bool explicit;
	const char *path = config_path(argc, argv, default_path, &explicit);
	int line = 0;

	*out = (struct config_args){ 0 };
	if (!push(&r, argv[0]))
		goto nomem;
	if (path && (explicit || access(path, F_OK) == 0)) {
		line = ini_parse(path, on_line, &r);
		if (line == -1) {
			log_error("--config %s: cannot open: %s", path, strerror(errno));
			goto invalid;
		}
		if (line == -2)
			goto nomem;
		if (line > 0) {
			log_error("%s:%d: %s", path, line,
				  r.bad[0] ? r.bad : "not a 'name = value' line");
			goto invalid;
		}
	}
	for (int i = 1; i < argc; i++)
		if (!push(&r, argv[i]))
			goto nomem;
	r.words[r.n] = NULL;
	out->argc = r.n;
	out->argv = r.words;
	return 0;
nomem:
	log_error("out of memory reading the configuration");
invalid:
	out->argc = r.n;
	out->argv = r.words;
	config_args_free(out);
	return -EINVAL;
}

void config_args_free(struct config_args *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->argv[i]);
	free(a->argv);
	*a = (struct config_args){ 0 };
}
