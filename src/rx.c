// SPDX-License-Identifier: GPL-2.0
/*
 * Receive side: the IKE messages the parser (strp.c) cuts out of the
 * stream, queued whole for userspace, one per recvmsg.
 */
#include <net/xfrm.h>

#include "espintcp.h"

/* IKE messages up to this size are received into the linear part */
#define ESPINTCP_RX_LINEAR	1024

/*
 * Only what waits for recvmsg counts: bytes TCP holds are no reason to stop
 * parsing, since only parsing, not recvmsg, takes them out of TCP.
 */
bool espintcp_rx_full(const struct espintcp_sock *esk)
{
	return atomic_read(&esk->ike_mem) >= READ_ONCE(esk->sk->sk_rcvbuf);
}

/* a buffer for an IKE message of @len bytes, in pages beyond the first KB */
struct sk_buff *espintcp_rx_ike_alloc(struct espintcp_sock *esk,
				      unsigned int len, gfp_t gfp)
{
	unsigned int linear = min_t(unsigned int, len, ESPINTCP_RX_LINEAR);
	struct sk_buff *skb;
	int err;

	skb = alloc_skb_with_frags(linear, len - linear, 0, &err,
				   gfp | __GFP_NOWARN);
	if (!skb)
		return NULL;
	skb_put(skb, linear);
	skb->data_len = len - linear;
	skb->len = len;
	return skb;
}

/*
 * A whole IKE message, charged to the socket (strp.c), for recvmsg. IKE
 * messages are not dropped when userspace is slow to read them: the parser
 * stops taking bytes from TCP until recvmsg makes room, and TCP's flow
 * control holds the peer back.
 */
void espintcp_rx_ike(struct espintcp_sock *esk, struct sk_buff *skb)
{
	struct sock *sk = esk->sk;

	atomic_add(skb->truesize, &esk->ike_mem);
	skb_queue_tail(&esk->ike_queue, skb);
	espintcp_stat_add(sk, ESPINTCP_IKE_RX_MSGS, 1);
	espintcp_stat_add(sk, ESPINTCP_IKE_RX_BYTES, skb->len);
	esk->saved_data_ready(sk);
}

/*
 * A message taken off the IKE queue gives its memory back to the socket,
 * under the socket lock as TCP's own accounting; room made for more lets
 * the parser go on, here and now.
 */
static void espintcp_rx_uncharge(struct espintcp_sock *esk,
				 struct sk_buff *skb)
{
	atomic_sub(skb->truesize, &esk->ike_mem);
	sk_mem_uncharge(esk->sk, skb->truesize);
}

static void espintcp_rx_consumed(struct espintcp_sock *esk,
				 struct sk_buff *skb)
{
	struct sock *sk = esk->sk;

	lock_sock(sk);
	espintcp_rx_uncharge(esk, skb);
	espintcp_strp_read(esk, GFP_KERNEL);
	espintcp_strp_report(esk);
	release_sock(sk);
}

/* under the socket lock: unread messages go, and their charge */
void espintcp_rx_purge(struct espintcp_sock *esk)
{
	struct sk_buff *skb;

	while ((skb = skb_dequeue(&esk->ike_queue))) {
		espintcp_rx_uncharge(esk, skb);
		kfree_skb(skb);
	}
}

/*
 * The peer closed. Bytes TCP still holds may not have been parsed yet (the
 * parser waited for memory): EOF only comes after the last whole message
 * they make, or the error the parser met first.
 */
static int espintcp_rx_eof(struct espintcp_sock *esk)
{
	struct sock *sk = esk->sk;

	lock_sock(sk);
	espintcp_strp_read(esk, GFP_KERNEL);
	release_sock(sk);
	if (!skb_queue_empty_lockless(&esk->ike_queue))
		return -EAGAIN;
	return sock_error(sk);
}

/*
 * MSG_ERRQUEUE went to TCP on the way here (compat.h). MSG_OOB is refused:
 * urgent data is no part of a message, and TCP would hold the socket lock
 * while it copies the urgent byte to userspace.
 */
int espintcp_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
		     int flags)
{
	struct espintcp_sock *esk = espintcp_sk(sk);
	struct sk_buff *skb;
	int off = 0;
	int copied;
	int err;

	if (flags & MSG_OOB)
		return -EINVAL;
	for (;;) {
		skb = __skb_recv_datagram(sk, &esk->ike_queue, flags, &off,
					  &err);
		if (skb)
			break;
		if (err && err != -EAGAIN)
			return err;
		if (!(READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN))
			return err;
		err = espintcp_rx_eof(esk);
		if (err != -EAGAIN)
			return err;
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
