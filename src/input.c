// SPDX-License-Identifier: GPL-2.0
/*
 * ESP from the stream into xfrm: the mirror of output.c.
 *
 * Each ESP message is handed to xfrm behind the IP and UDP headers it would
 * have had as ESP-in-UDP, made from the connection's addresses and ports,
 * so that xfrm treats it as it treats ESP-in-UDP and NAT mapping changes
 * reach the IKE daemon as for any encapsulated state. Only TCP states take
 * it: a TCP state's input (xfrm.c) accepts only the message this file is
 * handing over on its CPU, and ESP for a UDP state is dropped here.
 */
#include <linux/etherdevice.h>
#include <linux/percpu.h>
#include <linux/udp.h>
#include <net/dsfield.h>
#include <net/inet_ecn.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/xfrm.h>

#include "espintcp.h"

/* what an ESP message carries from the parser to the tasklet */
struct espintcp_rx_cb {
	u8 dscp;
};

#define ESPINTCP_RX_CB(skb) ((struct espintcp_rx_cb *)(skb)->cb)

/* the ESP message the tasklet is handing to xfrm on this CPU */
static DEFINE_PER_CPU(const struct sk_buff *, espintcp_rx_skb);

/* whether @skb is the message the tasklet is handing to xfrm */
bool espintcp_input_owns(const struct sk_buff *skb)
{
	return __this_cpu_read(espintcp_rx_skb) == skb;
}

/*
 * ESP from a TCP stream is for TCP states only, as upstream checks; which
 * connections a TCP state takes ESP from is its input's to say (xfrm.c).
 */
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

/* the headers an ESP message gets in front: link, IP and UDP */
static unsigned int espintcp_esp_headroom(bool ip6)
{
	return ETH_HLEN + sizeof(struct udphdr) +
	       (ip6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr));
}

/*
 * The ESP message behind the IP and UDP headers it would have come with as
 * ESP-in-UDP, made from the connection's addresses and ports and the
 * segment's DSCP (decap-dscp copies it inward; ECN is TCP's, which answers
 * it itself); as xfrm4/6_udp_encap_rcv() hand a packet on: lengths without
 * the UDP header, data and transport header at the SPI.
 *
 * The segment's own headers cannot serve: TCP collapses its queue under
 * memory pressure into new buffers that have none, and no device. The
 * message is one packet: what TCP's receive offload recorded about the
 * segment did not go with the copy.
 */
static void espintcp_esp_headers(struct sock *sk, struct sk_buff *skb,
				 bool ip6, const struct net_device *dev,
				 u8 dscp)
{
	unsigned int hlen = espintcp_esp_headroom(ip6) - ETH_HLEN;
	struct udphdr *uh;

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
	if (dev->type == ARPHRD_ETHER) {
		espintcp_push_eth(skb, dev);
	} else {
		skb_reset_mac_header(skb);
		skb->mac_len = 0;
	}
	__skb_pull(skb, hlen);
	skb_reset_transport_header(skb);
}

/*
 * A buffer for the @len bytes of an ESP message whose start is in @seg, a
 * buffer of TCP's receive queue, with room for the headers in front; the
 * parser copies the message into it (strp.c). ESP decrypts in place: in a
 * buffer of its own, it decrypts no page it shares with TCP or with the
 * page cache of whoever sent it (CVE-2026-46300, spliced file pages). The
 * buffer keeps the segment's metadata (mark, priority, secmark, arrival
 * time, hash, NAPI id), but not what described the segment as a packet
 * (offload and checksum state, control block), nor a secpath: TCP drops
 * the one of a connection that came through IPsec itself before it queues
 * a segment, except on the oldest kernels, and the inner packet's policy
 * check must not see it on any.
 */
struct sk_buff *espintcp_esp_alloc(struct espintcp_sock *esk,
				   const struct sk_buff *seg, unsigned int len)
{
	struct sock *sk = esk->sk;
	bool ip6 = espintcp_sk_ipv6(sk);
	unsigned int headroom = espintcp_esp_headroom(ip6);
	struct sk_buff *skb;

	if (len > espintcp_esp_max(ip6)) {
		XFRM_INC_STATS(sock_net(sk), LINUX_MIB_XFRMINHDRERROR);
		espintcp_stat_add(sk, ESPINTCP_RX_DROP_TOO_LONG, 1);
		return NULL;
	}
	skb = alloc_skb(headroom + len, GFP_ATOMIC | __GFP_NOWARN);
	if (!skb) {
		espintcp_stat_add(sk, ESPINTCP_RX_DROP_NOMEM, 1);
		return NULL;
	}
	skb_reserve(skb, headroom);
	/* header offsets are set once the headers are pushed */
	skb_copy_header(skb, seg);
	skb_gso_reset(skb);
	skb->encapsulation = 0;
	skb->ip_summed = CHECKSUM_NONE;
	memset(skb->cb, 0, sizeof(skb->cb));
	secpath_reset(skb);
	skb_put(skb, len);

	if (!espintcp_esp_note_segment(esk, seg))
		skb->mark = READ_ONCE(esk->rx_mark);
	/* a collapsed buffer lost the device: the connection's is the same */
	skb->skb_iif = seg->skb_iif ?: espintcp_rx_dst_ifindex(sk);
	/* the IP header's DSCP, until the headers are pushed */
	ESPINTCP_RX_CB(skb)->dscp = READ_ONCE(esk->rx_dscp);
	return skb;
}

/*
 * Takes the mark and DSCP of @skb, a buffer of the connection's receive
 * queue or one cut from it, for the connection's, unless TCP collapsed it:
 * TCP copies segments into new buffers under memory pressure, without
 * their headers, mark or device. ESP cut from those has the connection's.
 * So has ESP in a buffer the parser made to hold a message that spans
 * segments: it has the first segment's device and header offsets, but
 * not the header. Returns whether @skb had them.
 */
bool espintcp_esp_note_segment(struct espintcp_sock *esk,
			       const struct sk_buff *skb)
{
	bool ip6 = espintcp_sk_ipv6(esk->sk);
	int hlen = ip6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	u8 dsfield;

	/* the IP header, where there is one, is in the head, before the data */
	if (!skb->skb_iif || skb_network_offset(skb) + hlen > 0)
		return false;
	if (ip6)
		dsfield = ipv6_get_dsfield(ipv6_hdr(skb));
	else
		dsfield = ipv4_get_dsfield(ip_hdr(skb));
	WRITE_ONCE(esk->rx_mark, skb->mark);
	WRITE_ONCE(esk->rx_dscp, dsfield & ~INET_ECN_MASK);
	return true;
}

/* one ESP message, behind its headers, into xfrm; under rcu_read_lock */
static void espintcp_esp_input(struct sock *sk, struct sk_buff *skb)
{
	struct net *net = sock_net(sk);
	struct net_device *dev;

	dev = dev_get_by_index_rcu(net, skb->skb_iif);
	if (!dev) {
		espintcp_stat_add(sk, ESPINTCP_RX_DROP_NODEV, 1);
		kfree_skb(skb);
		return;
	}
	espintcp_esp_headers(sk, skb, espintcp_sk_ipv6(sk), dev,
			     ESPINTCP_RX_CB(skb)->dscp);
	memset(skb->cb, 0, sizeof(skb->cb));
	if (espintcp_for_udp_state(net, skb)) {
		espintcp_stat_add(sk, ESPINTCP_RX_DROP_NOT_TCP_STATE, 1);
		kfree_skb(skb);
		return;
	}
	skb->dev = dev;

	/*
	 * xfrm calls the state's type's input before it returns. What it
	 * returns needs no handling: only without CONFIG_NETFILTER (which
	 * kconfig-check.sh requires) does transport mode hand the packet
	 * back for the caller to deliver.
	 */
	__this_cpu_write(espintcp_rx_skb, skb);
	if (skb->protocol == htons(ETH_P_IPV6)) {
		IP6CB(skb)->iif = skb->skb_iif;
		IP6CB(skb)->nhoff = offsetof(struct ipv6hdr, nexthdr);
		xfrm6_rcv_encap(skb, IPPROTO_ESP, 0, UDP_ENCAP_ESPINUDP);
	} else {
		IPCB(skb)->iif = skb->skb_iif;
		xfrm4_rcv_encap(skb, IPPROTO_ESP, 0, UDP_ENCAP_ESPINUDP);
	}
	__this_cpu_write(espintcp_rx_skb, NULL);
}

/*
 * ESP reaches xfrm from a tasklet of the socket's, in the order it came,
 * and never under the socket's lock, which the parser holds: a transport
 * mode state hands the inner packet to the stack before xfrm returns, and
 * a TCP segment in it for this very connection would wait for that lock on
 * the CPU that holds it.
 */
static void espintcp_input_tasklet(struct tasklet_struct *t)
{
	struct espintcp_sock *esk = from_tasklet(esk, t, rx_tasklet);
	struct sk_buff_head batch;
	struct sk_buff *skb;

	__skb_queue_head_init(&batch);
	spin_lock_bh(&esk->esp_rx_queue.lock);
	skb_queue_splice_init(&esk->esp_rx_queue, &batch);
	spin_unlock_bh(&esk->esp_rx_queue.lock);

	rcu_read_lock();
	while ((skb = __skb_dequeue(&batch)))
		espintcp_esp_input(esk->sk, skb);
	rcu_read_unlock();
}

/* a whole ESP message from the stream (strp.c), under the socket lock */
void espintcp_esp_rcv(struct espintcp_sock *esk, struct sk_buff *skb)
{
	espintcp_stat_add(esk->sk, ESPINTCP_ESP_RX_MSGS, 1);
	espintcp_stat_add(esk->sk, ESPINTCP_ESP_RX_BYTES, skb->len);
	skb_queue_tail(&esk->esp_rx_queue, skb);
	tasklet_schedule(&esk->rx_tasklet);
}

void espintcp_input_init(struct espintcp_sock *esk)
{
	skb_queue_head_init(&esk->esp_rx_queue);
	tasklet_setup(&esk->rx_tasklet, espintcp_input_tasklet);
}

/* once the parser is stopped: ESP it handed over and xfrm did not take */
void espintcp_input_stop(struct espintcp_sock *esk)
{
	tasklet_kill(&esk->rx_tasklet);
	skb_queue_purge(&esk->esp_rx_queue);
}
