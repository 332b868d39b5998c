/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * From the datapath's TCP events to verdicts on resets (docs/detection.md,
 * "Forged reset detection"). The datapath reports every RST with the signals
 * one packet shows against the connection's history; this module adds what
 * needs more than one packet or a wait (R1 from the after-reset events, R3,
 * R4, R5 bursts, R6 and R7 between RSTs, R10, R11, R12), holds each RST for
 * RESET_HOLD_NS of probe time so later evidence can count, then reports it
 * with its verdict, and reports a summary per connection once its resets are
 * all decided. Pure: no I/O, no kernel; the probe clock comes in through the
 * events and reset_analysis_tick().
 */
#ifndef RESET_ANALYSIS_H
#define RESET_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "flowprobe.h"
#include "reset_signals.h"

enum reset_verdict {
	VERDICT_GENUINE = 0,
	VERDICT_SUSPECT = 1,
	VERDICT_FORGED = 2,
};

/* One RST, decided. */
struct reset_report {
	struct event ev; /* EVENT_TCP_RESET as the datapath sent it */
	uint32_t signals; /* every signal that fired, bit Rn */
	enum reset_verdict verdict;
	bool established; /* the connection was established before it */
	bool bittorrent; /* the connection carried BitTorrent */
	uint64_t rtt_ns; /* handshake RTT at the probe, 0 unknown */
};

/* One connection's resets, once every one of them is decided and no RST
 * came for a while (or at the end). */
struct conn_report {
	struct conn_key key;
	struct flow_key first_rst; /* the flow of its first RST (key.src sent it) */
	uint64_t first_rst_ns;
	uint64_t last_rst_ns;
	uint32_t resets;
	uint32_t forged;
	uint32_t suspect;
	uint32_t signals; /* union over its resets */
	enum reset_verdict verdict; /* the worst of its resets */
	bool established;
	bool bittorrent;
	/* Glasnost's passive analogue: handshake seen both ways, reset
	 * after it and before any piece, no FIN, verdict forged or suspect. */
	bool blocked;
};

struct reset_analysis_config {
	void (*on_reset)(void *ctx, const struct reset_report *r);
	void (*on_connection)(void *ctx, const struct conn_report *c);
	/* The connection's current state in the kernel table, for R12:
	 * 0 and *out filled, or -ENOENT when it is gone. May be NULL (then
	 * R12 is judged from after-reset events alone). */
	int (*conn_lookup)(void *ctx, const struct conn_key *key, struct conn_state *out);
	void *ctx;
	size_t max_connections; /* tracked at once; beyond: counted;
				      0: RESET_DEFAULT_MAX_CONNECTIONS */
};

/* Connections with a RST held when max_connections is 0. */
#define RESET_DEFAULT_MAX_CONNECTIONS 16384
/* RSTs one connection's record keeps (held, or decided and still compared
 * with later ones); a flood beyond decides the oldest early. */
#ifndef RESET_MAX_PER_CONN
#define RESET_MAX_PER_CONN 32
#endif

struct reset_analysis_stats {
	uint64_t resets;
	uint64_t forged;
	uint64_t suspect;
	uint64_t genuine;
	uint64_t connections_dropped; /* over max_connections: decided early */
	/* Added beside the agreed fields: */
	uint64_t connections; /* connection reports given */
	uint64_t blocked; /* of which blocked */
	uint64_t resets_early; /* over RESET_MAX_PER_CONN: decided early */
	uint64_t resets_lost; /* no memory to hold them: never reported */
	uint64_t connections_held; /* records now open (a gauge) */
};

struct reset_analysis;

struct reset_analysis *reset_analysis_new(const struct reset_analysis_config *cfg);
void reset_analysis_free(struct reset_analysis *ra);

/* EVENT_TCP_RESET, EVENT_TCP_AFTER_RESET, EVENT_TCP_ACCEPT (R11); other
 * types are ignored. Events come in probe-clock order per connection.
 * The callbacks run from inside this call, tick and finish, and must not
 * call back into the same reset_analysis. */
void reset_analysis_event(struct reset_analysis *ra, const struct event *ev);

/* Decides the RSTs held RESET_HOLD_NS or longer at now_ns (probe clock). */
void reset_analysis_tick(struct reset_analysis *ra, uint64_t now_ns);

/* Decides everything still held (shutdown, end of replay). */
void reset_analysis_finish(struct reset_analysis *ra, uint64_t now_ns);

const struct reset_analysis_stats *reset_analysis_stats(const struct reset_analysis *ra);

/* The canonical connection key of a flow key (ifindex and VLAN dropped,
 * endpoints ordered as the datapath orders them). */
void conn_key_of_flow(struct conn_key *out, const struct flow_key *key);

const char *reset_verdict_name(enum reset_verdict v);
/* The verdict rule: forged on a proof signal (R1, R3, R4, R11) or
 * RESET_FORGED_WEAK weak ones (R5-R10), suspect on one or two weak
 * signals, genuine otherwise (R2, R12 decide nothing). */
enum reset_verdict reset_verdict_of(uint32_t signals);
/* "R1".."R12" */
const char *reset_signal_name(enum reset_signal s);

#endif /* RESET_ANALYSIS_H */
