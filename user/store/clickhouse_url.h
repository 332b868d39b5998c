/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * --store clickhouse://[USER@]HOST:PORT/DB: where the fleet's ClickHouse
 * listens (its HTTP interface, 8123 by default) and which database holds
 * the probes' tables. The password never appears here: it comes from
 * --store-password-file.
 */
#ifndef CLICKHOUSE_URL_H
#define CLICKHOUSE_URL_H

#define CH_HOST_MAX 256
#define CH_NAME_MAX 64

struct clickhouse_url {
	char host[CH_HOST_MAX]; /* name, IPv4, or IPv6 without brackets */
	unsigned int port;
	char db[CH_NAME_MAX]; /* [A-Za-z0-9_]+: safe inside SQL */
	char user[CH_NAME_MAX]; /* "default" when not given */
};

/* 0, or -EINVAL after one log line saying what is wrong and the form. */
int clickhouse_url_parse(const char *url, struct clickhouse_url *out);

#endif /* CLICKHOUSE_URL_H */
