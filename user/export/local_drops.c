// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * local_udp_drops (local_drops.h): /proc/net/udp lines are
 * "sl local_address rem_address st tx:rx tr tm retr uid timeout inode ref
 * pointer drops", addresses as hex words in the kernel's byte order
 * (an IPv4 address's u32 as the CPU stores it, IPv6 as four such words),
 * ports in hex.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "export/local_drops.h"

/* The address of a table line, as 4 or 16 bytes in network order. */
static bool parse_addr(const char *hex, size_t words, uint8_t *out)
{
	for (size_t i = 0; i < words; i++) {
		unsigned int w;

		if (sscanf(hex + 8 * i, "%8x", &w) != 1)
			return false;
		memcpy(out + 4 * i, &w, 4); /* back to the bytes the kernel stored */
	}
	return true;
}

static int scan(const char *path, const uint8_t *want, size_t len, uint16_t port, bool *found,
		uint64_t *drops)
{
	static const uint8_t any[16];
	char line[512], local[64];
	FILE *f = fopen(path, "r");

	if (!f)
		return errno == ENOENT ? 0 : -errno; /* no IPv6: no table */
	if (!fgets(line, sizeof(line), f)) { /* the header */
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		uint8_t addr[16];
		unsigned int lport;
		uint64_t d;
		char *colon;

		if (sscanf(line, " %*s %63s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %" SCNu64, local,
			   &d) != 2)
			continue;
		colon = strchr(local, ':');
		if (!colon || (size_t)(colon - local) != 2 * len || sscanf(colon + 1, "%x", &lport) != 1 ||
		    lport != port || !parse_addr(local, len / 4, addr))
			continue;
		if (memcmp(addr, want, len) != 0 && memcmp(addr, any, len) != 0)
			continue;
		*found = true;
		*drops += d;
	}
	fclose(f);
	return 0;
}

bool udp_address_is_local(const struct sockaddr_storage *addr)
{
	struct sockaddr_storage a = *addr;
	socklen_t len;
	bool local;
	int fd;

	if (a.ss_family == AF_INET) {
		((struct sockaddr_in *)&a)->sin_port = 0;
		len = sizeof(struct sockaddr_in);
	} else if (a.ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&a)->sin6_port = 0;
		len = sizeof(struct sockaddr_in6);
	} else {
		return false;
	}
	fd = socket(a.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	local = bind(fd, (struct sockaddr *)&a, len) == 0;
	close(fd);
	return local;
}

int local_udp_drops(const struct sockaddr_storage *addr, const char *udp_path,
		    const char *udp6_path, uint64_t *drops)
{
	bool found = false;
	int rc;

	*drops = 0;
	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
		uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff };

		/* An IPv6 socket on [::] or [::ffff:a.b.c.d] takes IPv4 too. */
		memcpy(mapped + 12, &a->sin_addr, 4);
		rc = scan(udp_path ? udp_path : "/proc/net/udp", (const uint8_t *)&a->sin_addr, 4,
			  ntohs(a->sin_port), &found, drops);
		if (!rc)
			rc = scan(udp6_path ? udp6_path : "/proc/net/udp6", mapped, 16,
				  ntohs(a->sin_port), &found, drops);
	} else if (addr->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;

		rc = scan(udp6_path ? udp6_path : "/proc/net/udp6", (const uint8_t *)&a->sin6_addr,
			  16, ntohs(a->sin6_port), &found, drops);
	} else {
		return -ENOENT;
	}
	if (rc)
		return rc;
	return found ? 0 : -ENOENT;
}
