// SPDX-License-Identifier: GPL-2.0
/*
 * ESP states with TCP encapsulation, on kernels whose esp4/esp6 reject
 * encap type TCP_ENCAP_ESPINTCP: the control plane.
 *
 * The registered ESP xfrm type of each family is replaced by a copy whose
 * init_state accepts TCP encapsulation. Such a state is set up by esp4/esp6
 * as ESP-in-UDP on the same ports: the UDP header it then writes is where
 * output.c puts the 2-byte length, and input.c hands ESP from the stream
 * to xfrm as ESP-in-UDP. TCP states keep the copy as their type, which
 * tells them apart and pins this module; every other state gets the
 * original type back and does not depend on the module.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
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

/*
 * TCP states are refused until the module is wholly set up: nothing may
 * hold on to it while its init can still fail.
 */
static bool espintcp_xfrm_ready;

static struct espintcp_type *espintcp_type_of(unsigned short family)
{
	return &espintcp_types[family == AF_INET6];
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
 * MIGRATE's clone @x of a TCP state stays a TCP state, whatever encap the
 * request gave: a dump shows a TCP state's encap as espinudp, and a daemon
 * that passes it back with new ports means the same TCP state on new
 * ports. Only the SPI tells the original (spi.c); a UDP state that shares
 * its SPI with a TCP state thus becomes a TCP state when migrated, and its
 * ESP is dropped rather than sent as UDP. Without an encap (Linux 7.x
 * drops it when the request has none) the clone would send raw ESP.
 */
static int espintcp_clone_wants_tcp(struct xfrm_state *x,
				    struct netlink_ext_ack *extack)
{
	bool tcp = x->encap && x->encap->encap_type == TCP_ENCAP_ESPINTCP;

	if (tcp || !espintcp_spi_is_tcp(xs_net(x), x->id.spi))
		return tcp;
	if (!x->encap) {
		NL_SET_ERR_MSG(extack,
			       "espintcp: a TCP (espintcp) SA keeps its encapsulation when migrated: give encap espintcp and its ports");
		return -EINVAL;
	}
	return true;
}

/*
 * Whether @x is to be a TCP state, or -EINVAL. A TCP state carries
 * ESP-in-UDP's encap type inside (xfrm.c's header comment), which xfrm
 * would take for a UDP state: upstream's semantics are kept by hand. An
 * update may not change a state's encapsulation (xfrm_state_update()
 * compares the types), and a clone that MIGRATE makes of a TCP state is
 * a TCP state.
 */
static int espintcp_wants_tcp(struct xfrm_state *x,
			      struct netlink_ext_ack *extack)
{
	bool tcp = x->encap && x->encap->encap_type == TCP_ENCAP_ESPINTCP;
	struct xfrm_state *live;
	int ret = tcp;

	/* MIGRATE's clone is valid already; a new or updating state is not */
	if (x->km.state == XFRM_STATE_VALID)
		return espintcp_clone_wants_tcp(x, extack);
	if (!x->encap)
		return false;

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

/*
 * A NIC that took the state over would send and accept its ESP as
 * ESP-in-UDP, and never ask this module: packet offload builds the whole
 * packet. xfrm asks for offload only after init_state, and refuses it to
 * a state with TFC padding ("TFC padding can't be offloaded"). Padding to
 * one byte pads nothing: every packet has at least one. Kernels without
 * packet offload refuse to offload any encapsulated state themselves, and
 * a state keeps no tfcpad there (a dump could not be added back in
 * transport mode, where netlink refuses tfcpad).
 */
static void espintcp_no_offload(struct xfrm_state *x)
{
#ifdef HAVE_XFRM_DEV_OFFLOAD_PACKET
	if (!x->tfcpad)
		x->tfcpad = 1;
#endif
}

/*
 * A state that is not a TCP state drops the reference xfrm took on this
 * module for it. Not from init_state itself: the put could let rmmod free
 * the module's text before init_state has returned through it. A work
 * item drops them once every task that counted one has been through a
 * voluntary context switch, which none makes in init_state after it
 * counted; exit flushes the work item (espintcp_xfrm_exit()).
 */
static atomic_t espintcp_puts = ATOMIC_INIT(0);

static void espintcp_put_work_fn(struct work_struct *work)
{
	int n = atomic_xchg(&espintcp_puts, 0);

	synchronize_rcu_tasks();
	while (n--)
		module_put(THIS_MODULE);
}

static DECLARE_WORK(espintcp_put_work, espintcp_put_work_fn);

void espintcp_xfrm_flush_puts(void)
{
	flush_work(&espintcp_put_work);
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
		err = espintcp_spi_add(x);
		if (err)
			goto not_tcp;
		x->encap->encap_type = UDP_ENCAP_ESPINUDP;
		err = espintcp_type_init_state(orig, x, extack);
		if (!err) {
			espintcp_no_offload(x);
			return 0;
		}
		espintcp_spi_del(x);
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
	atomic_inc(&espintcp_puts);
	schedule_work(&espintcp_put_work);
	return err;
}

/*
 * A TCP state takes ESP from its TCP stream only: the ports and the
 * encap type it shows are those of UDP, so a datagram sent to them
 * would otherwise pass. (Upstream rejects it for its encap type.)
 *
 * And from a connection with its peer only: another one (a local user's
 * over loopback, or any TCP client of a responder) could otherwise replay
 * the state's ESP, and have esp4/esp6 report the sender's address to the
 * IKE daemon as the peer's new mapping. The ports may differ: NAT gives a
 * client that comes back on a new connection a new port, and that mapping
 * change is reported as upstream reports it. (Upstream checks neither.) A
 * state with no source address takes any peer.
 */
static int espintcp_state_input(struct xfrm_state *x, struct sk_buff *skb)
{
	const xfrm_address_t *saddr;

	if (!espintcp_input_owns(skb))
		return -EINVAL;
	if (x->props.family == AF_INET6)
		saddr = (const xfrm_address_t *)&ipv6_hdr(skb)->saddr;
	else
		saddr = (const xfrm_address_t *)&ip_hdr(skb)->saddr;
	if (!xfrm_addr_any(&x->props.saddr, x->props.family) &&
	    !xfrm_addr_equal(&x->props.saddr, saddr, x->props.family)) {
		espintcp_net_stat_add(xs_net(x), ESPINTCP_RX_DROP_OTHER_PEER, 1);
		return -EINVAL;
	}
	return espintcp_type_of(x->props.family)->orig->input(x, skb);
}

/*
 * esp4/esp6 made the packet ESP-in-UDP, and it goes into the state's TCP
 * connection here, before xfrm can send it on; -EINPROGRESS tells xfrm the
 * packet is taken, as upstream's TCP encapsulation does.
 *
 * Asynchronous crypto hands its packets back to xfrm, not to this function,
 * and xfrm sends them on through LOCAL_OUT, where output.c takes them by
 * the tag put on them here: it names the state, whatever happened to the
 * state meanwhile. On an error xfrm frees the packet, tag and all.
 */
static int espintcp_state_output(struct xfrm_state *x, struct sk_buff *skb)
{
	int err;

	err = espintcp_output_tag(x, skb);
	if (err)
		return err;
	err = espintcp_type_of(x->props.family)->orig->output(x, skb);
	if (err)
		return err;

	espintcp_output_untag(skb);
	espintcp_output_divert(x, skb, skb_transport_offset(skb));
	return -EINPROGRESS;
}

/* only TCP states that were set up keep this type */
static void espintcp_state_destructor(struct xfrm_state *x)
{
	espintcp_spi_del(x);
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
		pr_err("no ESP for %s: is %s available?\n",
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
	pr_debug("ESP type swapped in %lld ns\n",
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
			pr_info("IPv6 is disabled: serving IPv4 only\n");
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
	espintcp_xfrm_flush_puts();
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
static int espintcp_states_show(struct seq_file *seq, void *v)
{
	struct net *net = seq_file_single_net(seq);
	struct xfrm_state_walk walk;

	if (!espintcp_proc_may_read(seq))
		return -EACCES;
	xfrm_state_walk_init(&walk, IPPROTO_ESP, NULL);
	xfrm_state_walk(net, &walk, espintcp_state_show, seq);
	xfrm_state_walk_done(&walk, net);
	return 0;
}

int espintcp_xfrm_net_init(struct net *net)
{
	/* SPIs and ports: for whoever may run "ip xfrm state" (netns root) */
	if (!proc_create_net_single("espintcp_states", 0444, net->proc_net,
				    espintcp_states_show, NULL))
		return -ENOMEM;
	return 0;
}

void espintcp_xfrm_net_exit(struct net *net)
{
	remove_proc_entry("espintcp_states", net->proc_net);
}
