/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The evidence a TCP reset is judged by (docs/detection.md, "Forged reset
 * detection"; names after Weaver, Sommer and Paxson, "Detecting Forged TCP
 * Reset Packets", NDSS 2009, and later work on the Great Firewall and ISP
 * traffic managers), and the thresholds behind each signal. Shared by the
 * datapath, which computes what one RST shows against the connection's
 * history (R2, R5 ahead, R6 against the side's TTL, R7, R8, R9), and the
 * daemon, which computes what needs several packets or a timer (R1 from
 * the datapath's after-reset event, R3, R4, R5 burst, R6 and R7 between RSTs,
 * R10, R11, R12) and gives the verdict.
 *
 * Verdict (docs/detection.md, "The verdict rule"): forged on a proof
 * signal (R1, R3, R4, R11: evidence that no endpoint's stack produces),
 * or on RESET_FORGED_WEAK or more weak signals together (R5-R10: each
 * fires on honest traffic, measured on the development corpus, and the
 * pairs honest traffic makes, R10 with R7, R9 or R12 when two stacks
 * close at once, R5 with R6 behind a load balancer, must not convict);
 * suspect with one or two weak signals; genuine otherwise. R2 and R12
 * are reported as facts but decide nothing: a lone RST, a RST after FIN,
 * a RST from a closed port, IP ID 0 with DF and middlebox timeouts are
 * all normal.
 */
#ifndef RESET_SIGNALS_H
#define RESET_SIGNALS_H

enum reset_signal {
	R1_DATA_AFTER_RESET = 1, /* the RST's sender later sends new data */
	R2_BEHIND_SENT_DATA, /* seq behind what the side already sent */
	R3_SEQ_JUMP, /* a second RST with a stepped-up seq */
	R4_ACK_CHANGE, /* two RSTs of one side, nothing from the peer between:
			   different acks, or different non-zero windows */
	R5_AHEAD, /* seq beyond anything sent, or a RST burst */
	R6_TTL, /* TTL unlike the side's, or unlike its other RST */
	R7_IP_ID, /* IP ID out of the side's sequence, or a copy of
				    the reverse side's last IP ID */
	R8_WINDOW, /* RST without ACK with a non-zero window, not the one
			   its side was advertising */
	R9_TIMESTAMP, /* TCP timestamp behind or far ahead of the side's */
	R10_BOTH_DIRECTIONS, /* RSTs from both sides much faster than the RTT */
	R11_HANDSHAKE_RACE, /* responder sent both a SYN-ACK and a RST for one SYN */
	R12_CONNECTION_DIED, /* no packet either way after the RST */
	RESET_SIGNAL__MAX,
};

#define RESET_SIGNAL_BIT(n) (1u << (n))

/* Proof signals: a second sender, shown by the sequence space or the
 * handshake; one alone makes a RST forged. */
#define RESET_PROOF_SIGNALS                                                      \
	(RESET_SIGNAL_BIT(R1_DATA_AFTER_RESET) | RESET_SIGNAL_BIT(R3_SEQ_JUMP) | \
	 RESET_SIGNAL_BIT(R4_ACK_CHANGE) | RESET_SIGNAL_BIT(R11_HANDSHAKE_RACE))

/* Weak signals: header fields and timing that honest stacks, load
 * balancers and path changes also produce. R10 is one of them: two
 * applications aborting at once, or one side's RST answering the
 * other's application message, pass a probe near one end within
 * microseconds. */
#define RESET_WEAK_SIGNALS                                                                    \
	(RESET_SIGNAL_BIT(R5_AHEAD) | RESET_SIGNAL_BIT(R6_TTL) | RESET_SIGNAL_BIT(R7_IP_ID) | \
	 RESET_SIGNAL_BIT(R8_WINDOW) | RESET_SIGNAL_BIT(R9_TIMESTAMP) |                       \
	 RESET_SIGNAL_BIT(R10_BOTH_DIRECTIONS))

/* Weak signals that together convict: three independent anomalies (a
 * forger's TTL, IP ID and timing, say) where honest traffic on the corpus
 * shows at most two. */
#define RESET_FORGED_WEAK 3

/* ---- thresholds ------------------------------------------------------- */

/* R2: a RST this far (bytes) behind the side's snd_max counts; 1 byte
 * behind is a keep-alive's seq (snd_max - 1) and never counts. */
#define RESET_BEHIND_SLACK 1
/* R6: TTL differs from the side's last TTL by at least this much. */
#define RESET_TTL_DELTA 3
/* R7: an IP ID step in [1, IPID_SEQ_STEP] is sequential; a side whose
 * last IPID_SEQ_MIN steps were all sequential has sequential IDs, and a
 * RST whose step from its last ID falls outside [1, IPID_RST_STEP] is out
 * of sequence (the wider window allows for packets the probe missed). */
#define IPID_SEQ_STEP 64
#define IPID_SEQ_MIN 4
/* Also R7: a RST repeating the side's own last (non-zero) IP ID, once its
 * IDs have moved in sequence at least once: no stack sends one ID twice
 * in a row, an injector copying the trigger packet's does. */
#define IPID_RST_STEP 1024
/* R9: a RST's TCP timestamp ahead of the side's last by more than this
 * many ticks per second elapsed (plus one second's worth) is far: clocks
 * tick at most 1000 Hz, or 1 MHz for microsecond timestamps. */
#define RESET_TS_MAX_HZ 1000000
/* History older than this is no evidence: after a long silence routes,
 * NAT bindings and middleboxes change (a NAT timeout reset is normal). */
#define RESET_STALE_NS (60ULL * 1000000000ULL)

/* R3: a second RST within this time. */
#define RESET_SEQ_JUMP_NS (2ULL * 1000000000ULL)
/* R5 burst: this many RSTs from one side within RESET_BURST_NS, with no
 * packet from the other side in between (a stack answers each arriving
 * segment with one RST; an injector fires a volley). */
#define RESET_BURST_COUNT 3
#define RESET_BURST_NS (5ULL * 1000000ULL)
/* R10: RSTs from both sides closer than RTT / RESET_BOTH_RTT_DIVISOR; when
 * the handshake was not seen, closer than RESET_BOTH_NO_RTT_NS. */
#define RESET_BOTH_RTT_DIVISOR 4
#define RESET_BOTH_NO_RTT_NS (200ULL * 1000ULL)
/* R12, and how long a RST's verdict waits for later evidence (R1, R10,
 * R12): no packet either way in (RST + RESET_DIED_GRACE_NS, RST +
 * RESET_HOLD_NS]. */
#define RESET_HOLD_NS (5ULL * 1000000000ULL)
#define RESET_DIED_GRACE_NS (1ULL * 1000000000ULL)

#endif /* RESET_SIGNALS_H */
