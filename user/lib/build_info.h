/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What this build is and where it was built to be installed. The Makefile
 * sets each from one place (VERSION, PREFIX, SYSCONFDIR), so the binary
 * looks where `make install` puts things; the defaults here are for a
 * build by other means.
 */
#ifndef BUILD_INFO_H
#define BUILD_INFO_H

#ifndef FLOWPROBE_VERSION
#define FLOWPROBE_VERSION "0.0.0"
#endif

/* The dashboard's files (web/ next to the binary wins: the build tree). */
#ifndef FLOWPROBE_WEB_DIR
#define FLOWPROBE_WEB_DIR "/usr/local/share/flowprobe/web"
#endif

/* The configuration file read when --config is not given. */
#ifndef FLOWPROBE_CONFIG
#define FLOWPROBE_CONFIG "/etc/flowprobe/flowprobe.conf"
#endif

#endif /* BUILD_INFO_H */
