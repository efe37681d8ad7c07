// SPDX-License-Identifier: MIT
/*
 * titad's LLDP check from the command line, for lldp-netns.sh: asks the
 * lldpd at SOCKET through the real source (liblldpctl) and prints one line
 * per IFNAME=LEAF: the verdict and titad's description; exit 0 when every
 * NIC was checked, 3 when lldpd cannot be asked.
 *
 *   lldp-tool SOCKET IFNAME=LEAF...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lldp.h"

int main(int argc, char **argv)
{
	struct tita_lldp_source src = { tita_lldp_read_lldpd, NULL };
	struct tita_lldp_port ports[16];
	struct tita_lldp_check checks[16];
	char err[256] = "", line[512];
	int n = argc - 2, r;

	if (argc < 3 || n > 16) {
		fprintf(stderr, "usage: lldp-tool SOCKET IFNAME=LEAF...\n");
		return 2;
	}
	src.ctx = argv[1];
	for (int i = 0; i < n; i++) {
		char *eq = strchr(argv[i + 2], '=');

		if (!eq) {
			fprintf(stderr, "lldp-tool: '%s' is not IFNAME=LEAF\n", argv[i + 2]);
			return 2;
		}
		*eq = '\0';
		ports[i].ifname = argv[i + 2];
		ports[i].expected = eq + 1;
	}
	r = tita_lldp_check_ports(&src, ports, (size_t)n, checks, err, sizeof(err));
	if (r)
		printf("error %d: %s\n", r, err);
	for (int i = 0; i < n; i++)
		printf("%s %s\n", tita_lldp_verdict_name(checks[i].verdict),
		       tita_lldp_describe(ports[i].ifname, &checks[i], line, sizeof(line)));
	return r ? 3 : 0;
}
