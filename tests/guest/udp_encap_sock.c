// SPDX-License-Identifier: GPL-2.0
/*
 * What an IKE daemon keeps open for ESP-in-UDP: a UDP socket with
 * UDP_ENCAP_ESPINUDP, here in netns NS on ADDR:PORT, until stdin closes.
 *
 *   udp_encap_sock NS ADDR PORT	prints "ready" once bound
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/sockaddr.h"

#ifndef UDP_ENCAP
#define UDP_ENCAP 100
#endif

int main(int argc, char **argv)
{
	int type = UDP_ENCAP_ESPINUDP, fd, ns;
	struct sockaddr_storage ss;
	char path[64], c;
	socklen_t len;

	if (argc != 4) {
		fprintf(stderr, "usage: %s NS ADDR PORT\n", argv[0]);
		return 2;
	}
	snprintf(path, sizeof(path), "/var/run/netns/%s", argv[1]);
	ns = open(path, O_RDONLY);
	if (ns < 0 || setns(ns, CLONE_NEWNET)) {
		perror(path);
		return 1;
	}
	len = sockaddr_fill(AF_INET, argv[2], atoi(argv[3]), &ss);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) ||
	    setsockopt(fd, IPPROTO_UDP, UDP_ENCAP, &type, sizeof(type))) {
		perror("udp encap socket");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
