// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `flowprobe dashboard --store clickhouse://...`: the dashboard over a
 * whole fleet (docs/fleet.md), served from the probes' rows in ClickHouse.
 * No XDP, no BPF, no root: any user who can read the ClickHouse database
 * runs it, on any machine.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli/commands.h"
#include "lib/log.h"
#include "store/clickhouse_url.h"
#include "store/fleet.h"
#include "web/fleet_view.h"
#include "web/http_server.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: flowprobe dashboard --store clickhouse://[USER@]HOST:PORT/DB [options]\n"
		"\n"
		"The dashboard over every probe that writes to this ClickHouse (flowprobe\n"
		"run --store ...): top hosts of the last 10 minutes with their routers, a\n"
		"router filter, each customer's page over the last hour, the alarms on\n"
		"merged evidence, per-router utilisation curves. Needs no XDP and no root.\n"
		"\n"
		"      --store URL                  the fleet's ClickHouse (HTTP port, 8123)\n"
		"      --store-password-file FILE   first line: the ClickHouse user's password\n"
		"      --http ADDR:PORT             where to serve (default %s); an address\n"
		"                                   other than loopback needs a token:\n"
		"      --http-token-file FILE       first line: the token (16+ characters)\n"
		"      --web-dir DIR                the dashboard's files\n"
		"  -h, --help\n",
		HTTP_DEFAULT_ADDR);
}

int cmd_dashboard(int argc, char **argv)
{
	enum {
		O_STORE = 0x500,
		O_PW,
		O_HTTP,
		O_TOKEN,
		O_WEB
	};
	static const struct option opts[] = {
		{ "store", required_argument, NULL, O_STORE },
		{ "store-password-file", required_argument, NULL, O_PW },
		{ "http", required_argument, NULL, O_HTTP },
		{ "http-token-file", required_argument, NULL, O_TOKEN },
		{ "web-dir", required_argument, NULL, O_WEB },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct http_config hc = { .listen = HTTP_DEFAULT_ADDR };
	struct fleet_config fc = {};
	struct clickhouse_url url;
	struct http_server *srv = NULL;
	struct fleet_view *view;
	char password[256] = "";
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_STORE:
			fc.url = optarg;
			break;
		case O_PW:
			fc.password_file = optarg;
			break;
		case O_HTTP:
			hc.listen = optarg;
			break;
		case O_TOKEN:
			hc.token_file = optarg;
			break;
		case O_WEB:
			hc.web_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc || !fc.url) {
		log_error(!fc.url ? "dashboard: --store clickhouse://HOST:PORT/DB is "
				    "required (the fleet's ClickHouse)" :
				    "dashboard: unexpected argument '%s'",
			  argv[optind]);
		return EXIT_USAGE;
	}
	if (fleet_check(&fc) || http_config_check(&hc))
		return EXIT_USAGE;
	clickhouse_url_parse(fc.url, &url);
	if (fc.password_file) {
		FILE *f = fopen(fc.password_file, "r");

		if (!f || !fgets(password, sizeof(password), f)) {
			if (f)
				fclose(f);
			log_error("--store-password-file %s: cannot read it", fc.password_file);
			return EXIT_USAGE;
		}
		fclose(f);
		password[strcspn(password, "\r\n")] = 0;
	}
	view = fleet_view_new(&url, fc.password_file ? password : NULL);
	if (!view) {
		log_error("out of memory");
		return EXIT_RUNTIME;
	}
	hc.fleet = view;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rc = http_server_start(&srv, &hc, NULL);
	if (rc) {
		fleet_view_free(view);
		return exit_code_of(rc);
	}
	log_info("fleet dashboard at http://%s/ over ClickHouse %s:%u/%s", hc.listen, url.host,
		 url.port, url.db);
	while (!stop)
		pause();
	http_server_stop(srv);
	fleet_view_free(view);
	return EXIT_OK;
}
