// SPDX-License-Identifier: GPL-2.0
/*
 * ESP states with TCP encapsulation, on kernels whose esp4/esp6 reject
 * encap type TCP_ENCAP_ESPINTCP.
 *
 * The registered ESP xfrm type of each family is replaced by a copy whose
 * init_state accepts TCP encapsulation. Such a state is set up by esp4/esp6
 * as ESP-in-UDP on the same ports: the UDP header it then writes is where
 * output.c puts the 2-byte length, and ESP from the stream is handed to
 * xfrm behind the IP and UDP headers it would have had as ESP-in-UDP, so
 * NAT mapping changes reach the IKE daemon as for any encapsulated state.
 * TCP states keep the copy as their type, which tells them apart and pins
 * this module; every other state gets the original type back and does not
 * depend on the module.
 */
#include <linux/etherdevice.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/udp.h>
#include <net/dsfield.h>
#include <net/inet_ecn.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/xfrm.h>

#include "espintcp.h"

struct espintcp_type {
	unsigned short family;
	const struct xfrm_type *orig;
	struct xfrm_type type;
};

static struct espintcp_type espintcp_types[] = {
	{ .family = AF_INET },
	{ .family = AF_INET6 },
};

/* the ESP message espintcp_esp_rcv() is handing to xfrm on this CPU */
static DEFINE_PER_CPU(const struct sk_buff *, espintcp_rx_skb);

/*
 * TCP states are refused until the module is wholly set up: nothing may
 * hold on to it while its init can still fail.
 */
static bool espintcp_xfrm_ready;

static struct espintcp_type *espintcp_type_of(unsigned short family)
{
	return &espintcp_types[family == AF_INET6];
}

bool espintcp_is_tcp_state(const struct xfrm_state *x)
{
	return x->type == &espintcp_type_of(x->props.family)->type;
}

/* the live state an UPDSA replaces with @x, if any */
static struct xfrm_state *espintcp_live_state(struct xfrm_state *x)
{
	struct xfrm_state *live;

	live = xfrm_state_lookup(xs_net(x), x->mark.v & x->mark.m,
				 &x->id.daddr, x->id.spi, x->id.proto,
				 x->props.family);
	if (live && live->km.state != XFRM_STATE_VALID) {
		/* a larval state from ALLOCSPI: the UPDSA fills it in */
		xfrm_state_put(live);
		live = NULL;
	}
	return live;
}

/*
 * Under xfrm's state lock, which is taken inside states' own locks
 * elsewhere: @s's encap is read without its lock. A racing update of its
 * ports at worst makes the clone a UDP state.
 */
static int espintcp_origin_match(struct xfrm_state *s, int count, void *ptr)
{
	const struct xfrm_state *x = ptr;

	return s != x && s->id.spi == x->id.spi && espintcp_is_tcp_state(s) &&
	       s->km.state == XFRM_STATE_VALID &&
	       READ_ONCE(s->encap->encap_sport) == x->encap->encap_sport &&
	       READ_ONCE(s->encap->encap_dport) == x->encap->encap_dport;
}

/*
 * Whether MIGRATE cloned @x, which has an ESP-in-UDP encap, from a TCP
 * state: whether a TCP state has @x's SPI and encap ports, as a clone that
 * inherits its original's encap has. Neither addresses nor mark can say
 * more, for MIGRATE may have changed them already (XFRM_MSG_MIGRATE_STATE
 * of Linux 7.x changes both). A UDP state that shares SPI and both ports
 * with a TCP state thus becomes a TCP state when migrated: its ESP is then
 * dropped, never sent outside a TCP connection. A walk of the netns's ESP
 * states, for MIGRATE only.
 */
static bool espintcp_cloned_from_tcp(struct xfrm_state *x)
{
	struct xfrm_state_walk walk;
	struct net *net = xs_net(x);
	int found;

	if (x->encap->encap_type != UDP_ENCAP_ESPINUDP)
		return false;
	xfrm_state_walk_init(&walk, IPPROTO_ESP, NULL);
	found = xfrm_state_walk(net, &walk, espintcp_origin_match, x);
	xfrm_state_walk_done(&walk, net);
	return found > 0;
}

/*
 * Whether @x is to be a TCP state, or -EINVAL. A TCP state carries
 * ESP-in-UDP's encap type inside (xfrm.c's header comment), which xfrm
 * would take for a UDP state: upstream's semantics are kept by hand. An
 * update may not change a state's encapsulation (xfrm_state_update()
 * compares the types), and a state MIGRATE clones without being given an
 * encap keeps its original's.
 */
static int espintcp_wants_tcp(struct xfrm_state *x,
			      struct netlink_ext_ack *extack)
{
	bool tcp = x->encap && x->encap->encap_type == TCP_ENCAP_ESPINTCP;
	struct xfrm_state *live;
	int ret = tcp;

	if (!x->encap)
		return false;
	/* MIGRATE's clone is valid already; a new or updating state is not */
	if (x->km.state == XFRM_STATE_VALID)
		return tcp || espintcp_cloned_from_tcp(x);

	live = espintcp_live_state(x);
	if (live && tcp != espintcp_is_tcp_state(live)) {
		if (tcp)
			NL_SET_ERR_MSG(extack,
				       "espintcp: the SA is not a TCP (espintcp) SA; its encapsulation cannot change");
		else
			NL_SET_ERR_MSG(extack,
				       "espintcp: the SA is a TCP (espintcp) SA; its encapsulation cannot change");
		ret = -EINVAL;
	}
	if (live)
		xfrm_state_put(live);
	return ret;
}

int espintcp_init_state(struct xfrm_state *x, struct netlink_ext_ack *extack)
{
	const struct xfrm_type *orig = espintcp_type_of(x->props.family)->orig;
	int err;

	err = espintcp_wants_tcp(x, extack);
	if (err < 0)
		goto not_tcp;
	if (err) {
		if (!READ_ONCE(espintcp_xfrm_ready)) {
			NL_SET_ERR_MSG(extack, "espintcp is still loading");
			err = -EAGAIN;
			goto not_tcp;
		}
		x->encap->encap_type = UDP_ENCAP_ESPINUDP;
		err = espintcp_type_init_state(orig, x, extack);
		if (!err) {
			espintcp_net_states_add(xs_net(x), 1);
			return 0;
		}
	} else {
		err = espintcp_type_init_state(orig, x, extack);
	}

not_tcp:
	/*
	 * Not a TCP state: it takes the original type, and a reference on
	 * that type's module in place of the one on ours.
	 */
	__module_get(orig->owner);
	x->type = orig;
	module_put(THIS_MODULE);
	return err;
}

/*
 * A TCP state takes ESP from its TCP stream only: the ports and the
 * encap type it shows are those of UDP, so a datagram sent to them
 * would otherwise pass. (Upstream rejects it for its encap type.)
 */
static int espintcp_state_input(struct xfrm_state *x, struct sk_buff *skb)
{
	if (__this_cpu_read(espintcp_rx_skb) != skb)
		return -EINVAL;
	return espintcp_type_of(x->props.family)->orig->input(x, skb);
}

/*
 * esp4/esp6 made the packet ESP-in-UDP, and it goes into the state's TCP
 * connection here, before xfrm can send it on; -EINPROGRESS tells xfrm the
 * packet is taken, as upstream's TCP encapsulation does.
 *
 * Asynchronous crypto hands its packets back to xfrm, not to this function:
 * output.c takes them at LOCAL_OUT, where xfrm sends them next. For it to
 * find the state by SPI whatever its mark (VTI, xfrm interfaces), the
 * packet carries the state's own mark from here on: it is going into TCP,
 * where its mark is of no use.
 */
static int espintcp_state_output(struct xfrm_state *x, struct sk_buff *skb)
{
	int err;

	skb->mark = x->mark.v & x->mark.m;
	err = espintcp_type_of(x->props.family)->orig->output(x, skb);
	if (err)
		return err;

	espintcp_output_divert(x, skb, skb_transport_offset(skb));
	return -EINPROGRESS;
}

/* only TCP states that were set up keep this type */
static void espintcp_state_destructor(struct xfrm_state *x)
{
	espintcp_net_states_add(xs_net(x), -1);
	espintcp_type_of(x->props.family)->orig->destructor(x);
}

static int espintcp_wrap(struct espintcp_type *et)
{
	const struct xfrm_type *orig = NULL;
	struct xfrm_state_afinfo *afinfo;
	ktime_t t0;
	int err;

	request_module("xfrm-type-%d-%d", et->family, IPPROTO_ESP);

	rcu_read_lock();
	afinfo = xfrm_state_afinfo_get_rcu(et->family);
	if (afinfo)
		orig = READ_ONCE(afinfo->type_esp);
	if (orig && !try_module_get(orig->owner))
		orig = NULL;
	rcu_read_unlock();
	if (!orig) {
		pr_err("espintcp: no ESP for %s: is %s available?\n",
		       et->family == AF_INET ? "IPv4" : "IPv6",
		       et->family == AF_INET ? "esp4" : "esp6");
		return -ENOENT;
	}

	et->orig = orig;
	et->type = *orig;
	et->type.owner = THIS_MODULE;
	et->type.init_state = espintcp_init_state_op;
	et->type.destructor = espintcp_state_destructor;
	et->type.input = espintcp_state_input;
	et->type.output = espintcp_state_output;

	/* new ESP states fail with EPROTONOSUPPORT between these two */
	t0 = ktime_get();
	xfrm_unregister_type(orig, et->family);
	err = xfrm_register_type(&et->type, et->family);
	pr_debug("espintcp: ESP type swapped in %lld ns\n",
		 ktime_to_ns(ktime_sub(ktime_get(), t0)));
	if (err) {
		xfrm_register_type(orig, et->family);
		module_put(orig->owner);
		et->orig = NULL;
	}
	return err;
}

static void espintcp_unwrap(struct espintcp_type *et)
{
	if (!et->orig)
		return;
	xfrm_unregister_type(&et->type, et->family);
	xfrm_register_type(et->orig, et->family);
	module_put(et->orig->owner);
	et->orig = NULL;
}

/* a kernel booted with ipv6.disable=1 has no ESP for IPv6 to wrap */
static bool espintcp_family_off(unsigned short family)
{
	return family == AF_INET6 &&
	       (!IS_ENABLED(CONFIG_IPV6) || !ipv6_mod_enabled());
}

int espintcp_xfrm_init(void)
{
	int err, i;

	for (i = 0; i < ARRAY_SIZE(espintcp_types); i++) {
		if (espintcp_family_off(espintcp_types[i].family)) {
			pr_info("espintcp: IPv6 is disabled: serving IPv4 only\n");
			continue;
		}
		err = espintcp_wrap(&espintcp_types[i]);
		if (err)
			goto undo;
	}
	return 0;
undo:
	while (i--)
		espintcp_unwrap(&espintcp_types[i]);
	return err;
}

/* from here on TCP states may be set up, and the module pinned by them */
void espintcp_xfrm_start(void)
{
	WRITE_ONCE(espintcp_xfrm_ready, true);
}

void espintcp_xfrm_exit(void)
{
	int i;

	WRITE_ONCE(espintcp_xfrm_ready, false);
	for (i = 0; i < ARRAY_SIZE(espintcp_types); i++)
		espintcp_unwrap(&espintcp_types[i]);
}

static int espintcp_state_show(struct xfrm_state *x, int count, void *ptr)
{
	struct seq_file *seq = ptr;

	if (!espintcp_is_tcp_state(x))
		return 0;
	if (x->props.family == AF_INET6)
		seq_printf(seq, "%pI6c %pI6c", &x->props.saddr.in6,
			   &x->id.daddr.in6);
	else
		seq_printf(seq, "%pI4 %pI4", &x->props.saddr.a4, &x->id.daddr.a4);
	seq_printf(seq, " 0x%08x %u %u\n", ntohl(x->id.spi),
		   ntohs(x->encap->encap_sport), ntohs(x->encap->encap_dport));
	return 0;
}

/* /proc/net/espintcp_states: "src dst spi sport dport", one TCP state each */
int espintcp_states_show(struct seq_file *seq, void *v)
{
	struct net *net = seq_file_single_net(seq);
	struct xfrm_state_walk walk;

	xfrm_state_walk_init(&walk, IPPROTO_ESP, NULL);
	xfrm_state_walk(net, &walk, espintcp_state_show, seq);
	xfrm_state_walk_done(&walk, net);
	return 0;
}

/* ESP from a TCP stream is for TCP states only, as upstream checks */
static bool espintcp_for_udp_state(struct net *net, struct sk_buff *skb)
{
	const xfrm_address_t *daddr;
	unsigned short family;
	struct xfrm_state *x;
	__be32 spi;
	bool udp;

	if (skb->protocol == htons(ETH_P_IPV6)) {
		family = AF_INET6;
		daddr = (const xfrm_address_t *)&ipv6_hdr(skb)->daddr;
	} else {
		family = AF_INET;
		daddr = (const xfrm_address_t *)&ip_hdr(skb)->daddr;
	}
	if (skb_copy_bits(skb, 0, &spi, sizeof(spi)))
		return false;

	x = xfrm_state_lookup(net, skb->mark, daddr, spi, IPPROTO_ESP, family);
	if (!x)
		return false;	/* xfrm counts it: XfrmInNoStates */
	/*
	 * A state not yet valid (the SPI of a Child SA being negotiated) is
	 * xfrm's to drop and count, as for upstream: XfrmAcquireError.
	 */
	udp = x->km.state == XFRM_STATE_VALID && !espintcp_is_tcp_state(x);
	xfrm_state_put(x);
	return udp;
}

/* the connection runs over IPv6, not over IPv4 or v4-mapped addresses */
static bool espintcp_sk_ipv6(const struct sock *sk)
{
#if IS_ENABLED(CONFIG_IPV6)
	return sk->sk_family == AF_INET6 &&
	       !ipv6_addr_v4mapped(&sk->sk_v6_daddr);
#else
	return false;
#endif
}

static void espintcp_push_ip6(struct sock *sk, struct sk_buff *skb, u8 dscp)
{
	struct ipv6hdr *ip6h = skb_push(skb, sizeof(*ip6h));

	ip6_flow_hdr(ip6h, dscp, 0);
	ip6h->payload_len = htons(skb->len - sizeof(*ip6h) -
				  sizeof(struct udphdr));
	ip6h->nexthdr = IPPROTO_UDP;
	ip6h->hop_limit = IPV6_DEFAULT_HOPLIMIT;
	ip6h->saddr = sk->sk_v6_daddr;
	ip6h->daddr = sk->sk_v6_rcv_saddr;
	skb->protocol = htons(ETH_P_IPV6);
}

static void espintcp_push_ip4(struct sock *sk, struct sk_buff *skb, u8 dscp)
{
	struct iphdr *iph = skb_push(skb, sizeof(*iph));

	iph->version = 4;
	iph->ihl = sizeof(*iph) / 4;
	iph->tos = dscp;
	iph->tot_len = htons(skb->len - sizeof(struct udphdr));
	iph->id = 0;
	iph->frag_off = 0;
	iph->ttl = IPDEFTTL;
	iph->protocol = IPPROTO_UDP;
	iph->saddr = inet_sk(sk)->inet_daddr;
	iph->daddr = inet_sk(sk)->inet_rcv_saddr;
	ip_send_check(iph);
	skb->protocol = htons(ETH_P_IP);
}

/* the largest ESP an ESP-in-UDP packet of the connection's family holds */
static unsigned int espintcp_esp_max(bool ip6)
{
	return IP_MAX_MTU - sizeof(struct udphdr) -
	       (ip6 ? 0 : sizeof(struct iphdr));
}

/*
 * Tunnel mode puts the link header back in front of the inner packet, for
 * taps on the device; the segment's may be gone, so it is made up: to the
 * device's address, from none.
 */
static void espintcp_push_eth(struct sk_buff *skb,
			      const struct net_device *dev)
{
	struct ethhdr *eth = skb_push(skb, ETH_HLEN);

	ether_addr_copy(eth->h_dest, dev->dev_addr);
	eth_zero_addr(eth->h_source);
	eth->h_proto = skb->protocol;
	skb_reset_mac_header(skb);
	skb->mac_len = ETH_HLEN;
	__skb_pull(skb, ETH_HLEN);
}

/*
 * A copy of the ESP at @skb->data, behind the IP and UDP headers it would
 * have come with as ESP-in-UDP, made from the connection's addresses and
 * ports and the segment's DSCP (decap-dscp copies it inward; ECN is TCP's,
 * which answers it itself); the copy is as xfrm4/6_udp_encap_rcv() hand a
 * packet on: lengths without the UDP header, data and transport header at
 * the SPI.
 *
 * The segment's own headers cannot serve: TCP collapses its queue under
 * memory pressure into new buffers that have none, and no device. The
 * bytes are copied because ESP decrypts in place, and because the message
 * may otherwise hold a whole segment's buffer for a few bytes, which the
 * socket the packet is delivered to would be charged for. The copy is one
 * packet: what TCP's receive offload recorded about the segment goes.
 */
static struct sk_buff *espintcp_esp_headers(struct sock *sk,
					    struct sk_buff *skb, bool ip6,
					    const struct net_device *dev,
					    u8 dscp)
{
	bool eth = dev->type == ARPHRD_ETHER;
	unsigned int hlen = (ip6 ? sizeof(struct ipv6hdr) :
				   sizeof(struct iphdr)) + sizeof(struct udphdr);
	struct sk_buff *nskb;
	struct udphdr *uh;

	nskb = skb_copy_expand(skb, hlen + (eth ? ETH_HLEN : 0), 0,
			       GFP_ATOMIC);
	consume_skb(skb);
	if (!nskb)
		return NULL;
	skb = nskb;
	skb_gso_reset(skb);
	skb->ip_summed = CHECKSUM_NONE;
	memset(skb->cb, 0, sizeof(skb->cb));

	uh = skb_push(skb, sizeof(*uh));
	uh->source = inet_sk(sk)->inet_dport;
	uh->dest = inet_sk(sk)->inet_sport;
	uh->len = htons(skb->len);
	uh->check = 0;
	if (ip6)
		espintcp_push_ip6(sk, skb, dscp);
	else
		espintcp_push_ip4(sk, skb, dscp);
	skb_reset_network_header(skb);
	if (eth) {
		espintcp_push_eth(skb, dev);
	} else {
		skb_reset_mac_header(skb);
		skb->mac_len = 0;
	}
	__skb_pull(skb, hlen);
	skb_reset_transport_header(skb);
	return skb;
}

/*
 * Takes the mark and DSCP of @skb, a buffer of the connection's receive
 * queue or one cut from it, for the connection's, unless TCP collapsed it:
 * TCP copies segments into new buffers under memory pressure, without
 * their headers, mark or device. ESP cut from those has the connection's.
 * Returns whether @skb had them.
 */
bool espintcp_esp_note_segment(struct espintcp_sock *esk,
			       const struct sk_buff *skb)
{
	u8 dsfield;

	if (!skb->skb_iif)
		return false;
	if (espintcp_sk_ipv6(esk->sk))
		dsfield = ipv6_get_dsfield(ipv6_hdr(skb));
	else
		dsfield = ipv4_get_dsfield(ip_hdr(skb));
	WRITE_ONCE(esk->rx_mark, skb->mark);
	WRITE_ONCE(esk->rx_dscp, dsfield & ~INET_ECN_MASK);
	return true;
}

/* @skb is one ESP message from the stream, data at the SPI */
void espintcp_esp_rcv(struct espintcp_sock *esk, struct sk_buff *skb)
{
	struct sock *sk = esk->sk;
	bool ip6 = espintcp_sk_ipv6(sk);
	struct net *net = sock_net(sk);
	struct net_device *dev;
	int ifindex;

	if (skb->len > espintcp_esp_max(ip6)) {
		XFRM_INC_STATS(net, LINUX_MIB_XFRMINHDRERROR);
		espintcp_stat_add(sk, ESPINTCP_RX_DROP_TOO_LONG, 1);
		kfree_skb(skb);
		return;
	}

	if (!espintcp_esp_note_segment(esk, skb))
		skb->mark = READ_ONCE(esk->rx_mark);

	rcu_read_lock();
	/* a collapsed buffer lost the device: the connection's is the same */
	ifindex = skb->skb_iif ?: espintcp_rx_dst_ifindex(sk);
	dev = dev_get_by_index_rcu(net, ifindex);
	if (!dev) {
		espintcp_stat_add(sk, ESPINTCP_RX_DROP_NODEV, 1);
		kfree_skb(skb);
		goto out;
	}

	skb = espintcp_esp_headers(sk, skb, ip6, dev, READ_ONCE(esk->rx_dscp));
	if (!skb) {
		espintcp_stat_add(sk, ESPINTCP_RX_DROP_NOMEM, 1);
		goto out;
	}
	if (espintcp_for_udp_state(net, skb)) {
		espintcp_stat_add(sk, ESPINTCP_RX_DROP_NOT_TCP_STATE, 1);
		kfree_skb(skb);
		goto out;
	}
	skb->dev = dev;
	skb->skb_iif = ifindex;

	local_bh_disable();
	/*
	 * xfrm calls the state's type's input before it returns. What it
	 * returns needs no handling: only without CONFIG_NETFILTER (which
	 * kconfig-check.sh requires) does transport mode hand the packet
	 * back for the caller to deliver.
	 */
	__this_cpu_write(espintcp_rx_skb, skb);
	if (skb->protocol == htons(ETH_P_IPV6)) {
		IP6CB(skb)->iif = ifindex;
		IP6CB(skb)->nhoff = offsetof(struct ipv6hdr, nexthdr);
		xfrm6_rcv_encap(skb, IPPROTO_ESP, 0, UDP_ENCAP_ESPINUDP);
	} else {
		IPCB(skb)->iif = ifindex;
		xfrm4_rcv_encap(skb, IPPROTO_ESP, 0, UDP_ENCAP_ESPINUDP);
	}
	__this_cpu_write(espintcp_rx_skb, NULL);
	local_bh_enable();
out:
	rcu_read_unlock();
}
