// SPDX-License-Identifier: GPL-2.0
/*
 * Receive side: sort each message the parser cuts out of the stream into
 * IKE (queued for recvmsg), ESP, or something to drop, and hand IKE
 * messages to userspace one per recvmsg.
 */
#include <net/xfrm.h>

#include "espintcp.h"

#define ESPINTCP_KEEPALIVE	0xff

static void espintcp_rx_drop(struct sock *sk, struct sk_buff *skb,
			     enum espintcp_stat why)
{
	espintcp_stat_add(sk, why, 1);
	kfree_skb(skb);
}

/*
 * Only what waits for recvmsg counts: bytes TCP holds are no reason to stop
 * parsing, since only parsing, not recvmsg, takes them out of TCP.
 */
static bool espintcp_rx_full(const struct espintcp_sock *esk)
{
	return atomic_read(&esk->ike_mem) >= READ_ONCE(esk->sk->sk_rcvbuf);
}

/*
 * IKE messages are not dropped when userspace is slow to read them: the
 * parser stops taking bytes from TCP until recvmsg makes room, and TCP's
 * flow control holds the peer back.
 */
static void espintcp_rx_ike(struct espintcp_sock *esk, struct sk_buff *skb,
			    unsigned int off, unsigned int len)
{
	struct sock *sk = esk->sk;

	/* recvmsg hands out the whole buffer: it must hold the message only */
	if (!pskb_pull(skb, off) || pskb_trim(skb, len)) {
		espintcp_rx_drop(sk, skb, ESPINTCP_RX_DROP_NOMEM);
		return;
	}
	if (!sk_rmem_schedule(sk, skb, skb->truesize)) {
		XFRM_INC_STATS(sock_net(sk), LINUX_MIB_XFRMINERROR);
		espintcp_rx_drop(sk, skb, ESPINTCP_RX_DROP_NOMEM);
		return;
	}

	skb_set_owner_r(skb, sk);
	memset(skb->cb, 0, sizeof(skb->cb));
	atomic_add(skb->truesize, &esk->ike_mem);
	skb_queue_tail(&esk->ike_queue, skb);
	espintcp_stat_add(sk, ESPINTCP_IKE_RX_MSGS, 1);
	espintcp_stat_add(sk, ESPINTCP_IKE_RX_BYTES, len);
	if (espintcp_rx_full(esk)) {
		espintcp_stat_add(sk, ESPINTCP_RX_PAUSED, 1);
		espintcp_strp_pause(esk);
	}
	esk->saved_data_ready(sk);
}

static void espintcp_rx_esp(struct espintcp_sock *esk, struct sk_buff *skb,
			    unsigned int off, unsigned int len)
{
	espintcp_stat_add(esk->sk, ESPINTCP_ESP_RX_MSGS, 1);
	espintcp_stat_add(esk->sk, ESPINTCP_ESP_RX_BYTES, len);
	espintcp_esp_rcv(esk, skb, off, len);
}

/* @skb holds one message, without its length prefix, @len bytes at @off */
void espintcp_rx_msg(struct espintcp_sock *esk, struct sk_buff *skb,
		     unsigned int off, unsigned int len)
{
	struct sock *sk = esk->sk;
	u32 marker;
	u8 first;

	if (len == 1 && !skb_copy_bits(skb, off, &first, 1) &&
	    first == ESPINTCP_KEEPALIVE) {
		espintcp_stat_add(sk, ESPINTCP_RX_KEEPALIVE, 1);
		consume_skb(skb);
		return;
	}

	/* neither a non-ESP marker nor an SPI fits: not a message */
	if (len <= ESPINTCP_MARKER_SIZE ||
	    skb_copy_bits(skb, off, &marker, sizeof(marker))) {
		XFRM_INC_STATS(sock_net(sk), LINUX_MIB_XFRMINHDRERROR);
		espintcp_rx_drop(sk, skb, ESPINTCP_RX_DROP_SHORT);
		return;
	}

	if (marker == 0)
		espintcp_rx_ike(esk, skb, off, len);
	else
		espintcp_rx_esp(esk, skb, off, len);
}

/*
 * A message taken off the IKE queue gives its memory back to the socket.
 * sock_rfree() adds to sk_forward_alloc, which TCP changes under the
 * socket lock, so it runs under that lock too, not at kfree_skb() time.
 */
static void espintcp_rx_consumed(struct espintcp_sock *esk,
				 struct sk_buff *skb)
{
	struct sock *sk = esk->sk;
	bool slow = lock_sock_fast(sk);

	skb_orphan(skb);
	atomic_sub(skb->truesize, &esk->ike_mem);
	if (!espintcp_rx_full(esk))
		espintcp_strp_resume(esk);
	unlock_sock_fast(sk, slow);
}

/* MSG_ERRQUEUE and MSG_OOB went to TCP on the way here (compat.h) */
int espintcp_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
		     int flags)
{
	struct espintcp_sock *esk = espintcp_sk(sk);
	struct sk_buff *skb;
	int off = 0;
	int copied;
	int err;

	for (;;) {
		skb = __skb_recv_datagram(sk, &esk->ike_queue, flags, &off,
					  &err);
		if (skb)
			break;
		if (err && err != -EAGAIN)
			return err;
		if (!(READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN))
			return err;
		/*
		 * The peer closed. Bytes TCP still holds may not have been
		 * parsed yet (parsing is deferred at times): EOF only comes
		 * after the last whole message they make.
		 */
		espintcp_strp_flush(esk);
		/* the parser may have met a bad length there: say so first */
		if (skb_queue_empty_lockless(&esk->ike_queue))
			return sock_error(sk);
	}

	copied = min_t(size_t, len, skb->len);
	if (copied < skb->len)
		msg->msg_flags |= MSG_TRUNC;

	err = skb_copy_datagram_msg(skb, 0, msg, copied);
	if (!err && (flags & MSG_TRUNC))
		copied = skb->len;

	if (!(flags & MSG_PEEK))
		espintcp_rx_consumed(esk, skb);
	/* a short read drops the rest of the message, as on a datagram socket */
	consume_skb(skb);
	return err ?: copied;
}
