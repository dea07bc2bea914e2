/* SPDX-License-Identifier: GPL-2.0 */
/*
 * RFC 8229 (ESP and IKE in TCP) as a loadable TCP ULP: shared definitions.
 *
 * Stream format: every message is a 16-bit big-endian length that counts
 * itself, then the message. IKE messages start with a four-byte zero
 * non-ESP marker, which belongs to userspace; ESP messages start with a
 * non-zero SPI.
 */
#ifndef _ESPINTCP_H
#define _ESPINTCP_H

#include <linux/skbuff.h>
#include <linux/interrupt.h>
#include <linux/module.h>
#include <net/inet_connection_sock.h>
#include <net/netns/generic.h>
#include <net/sock.h>
#include <net/xfrm.h>

#include "espintcp_features.h"

#define ESPINTCP_LEN_SIZE	2
#define ESPINTCP_MARKER_SIZE	4
/* the length field is 16 bits and counts itself */
#define ESPINTCP_MAX_MSG	(U16_MAX - ESPINTCP_LEN_SIZE)

/*
 * The stream parser's place in the stream (strp.c), between reads of TCP's
 * queue. Changed under the socket lock only.
 */
struct espintcp_rx {
	struct sk_buff *skb;	/* the message being copied out of TCP */
	unsigned int charged;	/* its truesize, charged to the socket */
	u16 len;		/* the message's length, without the prefix */
	u16 done;		/* its bytes copied so far */
	/* the length prefix, then up to the non-ESP marker or SPI */
	u8 hdr[ESPINTCP_LEN_SIZE + ESPINTCP_MARKER_SIZE];
	u8 hdr_len;
	int err;		/* what ended the stream, until reported */
	bool skip;		/* the message is being read past, not kept */
	bool paused;		/* the IKE queue is full */
	bool retry;		/* no buffer for the IKE message yet */
	bool stopped;		/* a framing error, or closed */
};

/* Per-socket state, hung off icsk_ulp_data while the ULP is attached. */
struct espintcp_sock {
	struct sock *sk;
	struct espintcp_rx rx;
	/* an IKE message's buffer, allocated where it may sleep (strp.c) */
	struct delayed_work rx_work;

	struct sk_buff_head ike_queue;	/* whole IKE messages for recvmsg */
	atomic_t ike_mem;		/* their truesize */
	/* the newest segment's mark and DSCP, for ESP input (input.c) */
	u32 rx_mark;
	u8 rx_dscp;
	/*
	 * Whole ESP messages behind rebuilt headers, for xfrm: handed to it
	 * by a tasklet, outside the socket's lock (input.c)
	 */
	struct sk_buff_head esp_rx_queue;
	struct tasklet_struct rx_tasklet;

	/*
	 * ESP frames from xfrm waiting for the slot, at most
	 * esp_queue_bytes (tx.c); the lock also orders them with close.
	 */
	struct sk_buff_head esp_queue;
	unsigned int esp_queued;
	bool closed;

	/*
	 * The one message being written into TCP. A message that TCP took
	 * only in part stays here until its last byte is in, so that no other
	 * message can start inside it.
	 */
	struct sk_buff *tx_skb;
	unsigned int tx_off;
	bool tx_esp;
	/* IKE senders waiting for the slot: ESP does not take it from them */
	unsigned int ike_waiting;
	bool tx_busy;
	struct tasklet_struct tx_tasklet;

	struct proto *base_prot;
	const struct proto_ops *base_ops;
	void (*saved_data_ready)(struct sock *sk);
	void (*saved_write_space)(struct sock *sk);
	void (*saved_state_change)(struct sock *sk);
	struct rcu_head rcu;
};

/* TCP's handshake is not done: nothing can be sent yet */
static inline bool espintcp_connecting(const struct sock *sk)
{
	return (1 << READ_ONCE(sk->sk_state)) & (TCPF_SYN_SENT | TCPF_SYN_RECV);
}

static inline struct espintcp_sock *espintcp_sk(const struct sock *sk)
{
	return (__force struct espintcp_sock *)inet_csk(sk)->icsk_ulp_data;
}

/* stats.c: per-netns counters and the tcp_states gauge, /proc/net/espintcp */
enum espintcp_stat {
	ESPINTCP_IKE_RX_MSGS,
	ESPINTCP_IKE_RX_BYTES,
	ESPINTCP_IKE_TX_MSGS,
	ESPINTCP_IKE_TX_BYTES,
	ESPINTCP_ESP_RX_MSGS,
	ESPINTCP_ESP_RX_BYTES,
	ESPINTCP_ESP_TX_MSGS,
	ESPINTCP_ESP_TX_BYTES,
	ESPINTCP_RX_KEEPALIVE,
	ESPINTCP_RX_DROP_SHORT,
	ESPINTCP_RX_PAUSED,
	ESPINTCP_RX_DROP_NOMEM,
	ESPINTCP_RX_DROP_NODEV,
	ESPINTCP_RX_DROP_TOO_LONG,
	ESPINTCP_RX_DROP_NOT_TCP_STATE,
	ESPINTCP_RX_DROP_OTHER_PEER,
	ESPINTCP_RX_STREAM_ERRORS,
	ESPINTCP_TX_DROP_ERROR,
	ESPINTCP_TX_DROP_NOSOCK,
	ESPINTCP_TX_DROP_QUEUE_FULL,
	ESPINTCP_TX_DROP_GUARD,
	ESPINTCP_NR_STATS
};

void espintcp_stat_add(const struct sock *sk, enum espintcp_stat stat,
		       unsigned long n);
void espintcp_net_stat_add(struct net *net, enum espintcp_stat stat,
			   unsigned long n);
struct seq_file;
bool espintcp_proc_may_read(struct seq_file *seq);
int espintcp_stats_net_init(struct net *net);
void espintcp_stats_net_exit(struct net *net);
void espintcp_stats_net_free(struct net *net);

/*
 * main.c: the module's per-netns data. The counters are per CPU: the data
 * path bumps them for every frame; they go (NULL) before xfrm's own exit
 * destroys the netns's last TCP states. The list and the count of the
 * netns's TCP states (spi.c) are left by a state's destructor once the
 * netns has gone: a state can outlive its netns.
 */
struct espintcp_mib;
struct espintcp_net {
	struct espintcp_mib __percpu *mib;
	struct espintcp_mib __percpu *dead_mib;
	struct hlist_head spis;
	atomic_long_t tcp_states;
};

extern unsigned int espintcp_net_id;

static inline struct espintcp_net *espintcp_net(const struct net *net)
{
	return net_generic(net, espintcp_net_id);
}

/* ulp.c */
int espintcp_ulp_init(void);
void espintcp_ulp_start(void);
void espintcp_ulp_exit(void);
void espintcp_data_ready(struct sock *sk);
struct espintcp_sock *espintcp_sk_rcu(const struct sock *sk);

/*
 * xfrm.c: ESP states with TCP encapsulation (the ESP type swap). A TCP
 * state keeps this module's copy of the ESP type; every other state,
 * larval ones aside (no type yet), has a type of another module.
 */
static inline bool espintcp_is_tcp_state(const struct xfrm_state *x)
{
	const struct xfrm_type *type = READ_ONCE(x->type);

	return type && type->owner == THIS_MODULE;
}

int espintcp_xfrm_init(void);
void espintcp_xfrm_start(void);
void espintcp_xfrm_exit(void);
void espintcp_xfrm_flush_puts(void);
int espintcp_init_state(struct xfrm_state *x, struct netlink_ext_ack *extack);
int espintcp_xfrm_net_init(struct net *net);
void espintcp_xfrm_net_exit(struct net *net);

/* spi.c: the SPIs of the TCP states */
int espintcp_spi_add(struct xfrm_state *x);
void espintcp_spi_del(struct xfrm_state *x);
bool espintcp_spi_guarded(struct net *net, __be32 spi,
			  const xfrm_address_t *daddr, unsigned short family);
bool espintcp_spi_is_tcp(struct net *net, __be32 spi);
long espintcp_net_tcp_states(const struct net *net);
void espintcp_spi_init(void);
void espintcp_spi_net_init(struct net *net);
void espintcp_spi_net_exit(const struct net *net);

/* input.c: ESP from the stream into xfrm */
struct sk_buff *espintcp_esp_alloc(struct espintcp_sock *esk,
				   const struct sk_buff *seg, unsigned int len);
void espintcp_esp_rcv(struct espintcp_sock *esk, struct sk_buff *skb);
bool espintcp_esp_note_segment(struct espintcp_sock *esk,
			       const struct sk_buff *skb);
bool espintcp_input_owns(const struct sk_buff *skb);
void espintcp_input_init(struct espintcp_sock *esk);
void espintcp_input_stop(struct espintcp_sock *esk);

/* output.c: ESP from xfrm diverted into the TCP connection */
void espintcp_output_divert(struct xfrm_state *x, struct sk_buff *skb,
			    unsigned int off);
int espintcp_output_tag(struct xfrm_state *x, struct sk_buff *skb);
void espintcp_output_untag(struct sk_buff *skb);
void espintcp_output_init(void);
int espintcp_output_net_init(struct net *net);
void espintcp_output_net_exit(struct net *net);

/* strp.c: the stream parser, on TCP's receive queue */
void espintcp_strp_init(struct espintcp_sock *esk);
void espintcp_strp_read(struct espintcp_sock *esk, gfp_t gfp);
void espintcp_strp_report(struct espintcp_sock *esk);
void espintcp_strp_stop(struct espintcp_sock *esk);
void espintcp_strp_done(struct espintcp_sock *esk);

/* rx.c */
struct sk_buff *espintcp_rx_ike_alloc(struct espintcp_sock *esk,
				      unsigned int len, gfp_t gfp);
void espintcp_rx_ike(struct espintcp_sock *esk, struct sk_buff *skb);
bool espintcp_rx_full(const struct espintcp_sock *esk);
void espintcp_rx_purge(struct espintcp_sock *esk);
int espintcp_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
		     int flags);

/* tx.c */
void espintcp_tx_init(struct espintcp_sock *esk);
void espintcp_tx_esp(struct espintcp_sock *esk, struct sk_buff *skb);
void espintcp_tx_stop(struct espintcp_sock *esk);
void espintcp_write_space(struct sock *sk);
void espintcp_state_change(struct sock *sk);
void espintcp_release_cb(struct sock *sk);
bool espintcp_tx_idle(const struct espintcp_sock *esk);
int espintcp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size);

/* the kernels' differences */
#include "compat.h"

#endif /* _ESPINTCP_H */
