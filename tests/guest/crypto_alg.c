// SPDX-License-Identifier: GPL-2.0
/*
 * Instantiate or remove a crypto algorithm through NETLINK_CRYPTO (what
 * crconf does), e.g. pcrypt, which makes every AEAD request of that name
 * complete asynchronously, on another CPU:
 *
 *   crypto_alg add 'pcrypt(rfc4106(gcm(aes)))'	instantiate, by name
 *   crypto_alg prio DRIVER N			set an algorithm's priority
 *   crypto_alg del DRIVER			remove an instance
 *	each prints "ok", or the error
 *
 * (Asked by name, pcrypt is instantiated even when the kernel then answers
 * ENOENT: the instance's name is the inner algorithm's, not the one asked
 * for. "prio" makes it the one new users of that name get.)
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <linux/cryptouser.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CRYPTO_ALG_TYPE_AEAD	0x3
#define CRYPTO_ALG_TYPE_MASK	0xf

int main(int argc, char **argv)
{
	struct {
		struct nlmsghdr nh;
		struct crypto_user_alg alg;
		struct nlattr prio;
		__u32 prio_val;
	} req = { 0 };
	struct {
		struct nlmsghdr nh;
		struct nlmsgerr err;
	} ack;
	int fd;

	bool prio = argc == 4 && !strcmp(argv[1], "prio");

	if (!prio && (argc != 3 || (strcmp(argv[1], "add") &&
				    strcmp(argv[1], "del")))) {
		fprintf(stderr, "usage: crypto_alg add NAME | prio DRIVER N | del DRIVER\n");
		return 2;
	}
	req.nh.nlmsg_len = offsetof(typeof(req), prio);
	req.nh.nlmsg_type = prio ? CRYPTO_MSG_UPDATEALG :
			    strcmp(argv[1], "add") ? CRYPTO_MSG_DELALG :
						     CRYPTO_MSG_NEWALG;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if (prio) {
		req.prio.nla_type = CRYPTOCFGA_PRIORITY_VAL;
		req.prio.nla_len = NLA_HDRLEN + sizeof(__u32);
		req.prio_val = atoi(argv[3]);
		req.nh.nlmsg_len = sizeof(req);
	}
	/* by name, so that it is found whatever the driver under it */
	if (req.nh.nlmsg_type == CRYPTO_MSG_NEWALG)
		snprintf(req.alg.cru_name, sizeof(req.alg.cru_name), "%s", argv[2]);
	else
		snprintf(req.alg.cru_driver_name,
			 sizeof(req.alg.cru_driver_name), "%s", argv[2]);
	req.alg.cru_type = CRYPTO_ALG_TYPE_AEAD;
	req.alg.cru_mask = CRYPTO_ALG_TYPE_MASK;

	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_CRYPTO);
	if (fd < 0) {
		perror("socket(NETLINK_CRYPTO)");
		return 1;
	}
	if (send(fd, &req, sizeof(req), 0) < 0 ||
	    recv(fd, &ack, sizeof(ack), 0) < 0) {
		perror("netlink");
		return 1;
	}
	if (ack.nh.nlmsg_type != NLMSG_ERROR || ack.err.error) {
		printf("error: %s\n", strerror(-ack.err.error));
		return 1;
	}
	printf("ok\n");
	return 0;
}
