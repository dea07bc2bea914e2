// SPDX-License-Identifier: GPL-2.0
/*
 * XFRM_MSG_MIGRATE, which iproute2 cannot send: move the states and the
 * policy of one transport mode SA bundle, found by its addresses and reqid,
 * to new addresses, optionally with a new encapsulation.
 *
 *   xfrm_migrate 4|6 DIR SRC DST NEW_SRC NEW_DST REQID [ENCAP SPORT DPORT]
 *	DIR: out or in (the policy SRC -> DST, any protocol). ENCAP:
 *	espinudp or espintcp.
 *
 * Or XFRM_MSG_MIGRATE_STATE (Linux 7.x), which moves one state and may give
 * it a new mark, its encapsulation inherited:
 *
 *   xfrm_migrate state 4|6 SRC DST SPI NEW_DST MARK MASK
 *
 * Prints "ok", or the kernel's error and extack.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/udp.h>
#include <linux/ipsec.h>
#include <linux/xfrm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef TCP_ENCAP_ESPINTCP
#define TCP_ENCAP_ESPINTCP 7
#endif

/* <linux/xfrm.h> of Linux 7.x: the build host's may predate it */
#define MSG_MIGRATE_STATE (XFRM_MSG_GETDEFAULT + 1)

struct user_migrate_state {
	struct xfrm_usersa_id id;
	xfrm_address_t new_daddr;
	xfrm_address_t new_saddr;
	struct xfrm_mark old_mark;
	struct xfrm_selector new_sel;
	__u32 new_reqid;
	__u32 flags;
	__u16 new_family;
	__u16 reserved;
};

struct req {
	struct nlmsghdr nh;
	union {
		struct xfrm_userpolicy_id id;
		struct user_migrate_state ms;
	};
	char attrs[512];
};

static void addr(int family, const char *s, xfrm_address_t *a)
{
	if (inet_pton(family, s, a) != 1) {
		fprintf(stderr, "bad address %s\n", s);
		exit(2);
	}
}

static void put_attr(struct req *r, int type, const void *data, int len)
{
	struct nlattr *na = (void *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));

	na->nla_type = type;
	na->nla_len = NLA_HDRLEN + len;
	memcpy((char *)na + NLA_HDRLEN, data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + NLA_ALIGN(na->nla_len);
}

/* the kernel's answer: 0, or -errno with its extack message printed */
static int answer(int fd)
{
	char buf[4096];
	struct nlmsghdr *nh = (void *)buf;
	struct nlmsgerr *e = NLMSG_DATA(nh);
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	struct nlattr *na;
	int off;

	if (n < 0 || nh->nlmsg_type != NLMSG_ERROR)
		return -EIO;
	if (e->error && (nh->nlmsg_flags & NLM_F_ACK_TLVS)) {
		off = NLMSG_HDRLEN + sizeof(*e) + e->msg.nlmsg_len - NLMSG_HDRLEN;
		for (na = (void *)(buf + NLMSG_ALIGN(off)); (char *)na < buf + n;
		     na = (void *)((char *)na + NLA_ALIGN(na->nla_len))) {
			if (na->nla_len < NLA_HDRLEN)
				break;
			if (na->nla_type == NLMSGERR_ATTR_MSG)
				printf("extack: %s\n", (char *)na + NLA_HDRLEN);
		}
	}
	return e->error;
}

static void migrate_state(struct req *r, char **argv)
{
	int family = argv[0][0] == '6' ? AF_INET6 : AF_INET;
	struct user_migrate_state *ms = &r->ms;
	struct xfrm_mark mark;

	r->nh.nlmsg_type = MSG_MIGRATE_STATE;
	r->nh.nlmsg_len = NLMSG_LENGTH(sizeof(*ms));
	addr(family, argv[2], &ms->id.daddr);
	ms->id.spi = htonl(strtoul(argv[3], NULL, 0));
	ms->id.family = ms->new_family = family;
	ms->id.proto = IPPROTO_ESP;
	addr(family, argv[1], &ms->new_saddr);
	addr(family, argv[4], &ms->new_daddr);
	ms->new_reqid = 1;
	mark.v = strtoul(argv[5], NULL, 0);
	mark.m = strtoul(argv[6], NULL, 0);
	put_attr(r, XFRMA_MARK, &mark, sizeof(mark));
}

static void migrate(struct req *r, int argc, char **argv)
{
	struct xfrm_user_migrate m = { 0 };
	struct xfrm_encap_tmpl enc = { 0 };
	int family = argv[1][0] == '6' ? AF_INET6 : AF_INET;

	r->nh.nlmsg_type = XFRM_MSG_MIGRATE;
	r->nh.nlmsg_len = NLMSG_LENGTH(sizeof(r->id));
	r->id.dir = strcmp(argv[2], "in") ? XFRM_POLICY_OUT : XFRM_POLICY_IN;
	r->id.sel.family = family;
	addr(family, argv[3], &r->id.sel.saddr);
	addr(family, argv[4], &r->id.sel.daddr);
	r->id.sel.prefixlen_s = family == AF_INET ? 32 : 128;
	r->id.sel.prefixlen_d = r->id.sel.prefixlen_s;
	/* any protocol: the policy is matched by addresses alone */
	r->id.sel.proto = IPSEC_ULPROTO_ANY;

	addr(family, argv[3], &m.old_saddr);
	addr(family, argv[4], &m.old_daddr);
	addr(family, argv[5], &m.new_saddr);
	addr(family, argv[6], &m.new_daddr);
	m.proto = IPPROTO_ESP;
	m.mode = XFRM_MODE_TRANSPORT;
	m.reqid = atoi(argv[7]);
	m.old_family = m.new_family = family;
	put_attr(r, XFRMA_MIGRATE, &m, sizeof(m));

	if (argc == 11) {
		enc.encap_type = strcmp(argv[8], "espintcp") ?
				 UDP_ENCAP_ESPINUDP : TCP_ENCAP_ESPINTCP;
		enc.encap_sport = htons(atoi(argv[9]));
		enc.encap_dport = htons(atoi(argv[10]));
		put_attr(r, XFRMA_ENCAP, &enc, sizeof(enc));
	}
}

int main(int argc, char **argv)
{
	struct req r = { 0 };
	int fd, one = 1, err;

	if (argc == 9 && !strcmp(argv[1], "state")) {
		migrate_state(&r, argv + 2);
	} else if (argc == 8 || argc == 11) {
		migrate(&r, argc, argv);
	} else {
		fprintf(stderr, "usage: xfrm_migrate 4|6 out|in SRC DST NEW_SRC NEW_DST REQID [espinudp|espintcp SPORT DPORT]\n"
				"       xfrm_migrate state 4|6 SRC DST SPI NEW_DST MARK MASK\n");
		return 2;
	}
	r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;

	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_XFRM);
	if (fd < 0) {
		perror("socket(NETLINK_XFRM)");
		return 1;
	}
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (send(fd, &r, r.nh.nlmsg_len, 0) < 0) {
		perror("send");
		return 1;
	}
	err = answer(fd);
	if (err) {
		printf("error: %s\n", strerror(-err));
		return 1;
	}
	printf("ok\n");
	return 0;
}
