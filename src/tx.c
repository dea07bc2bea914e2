// SPDX-License-Identifier: GPL-2.0
/*
 * Transmit side. Each message, with its 2-byte length prefix, goes into TCP
 * through a single slot: a message TCP takes only in part stays in the
 * slot, and nothing else enters TCP until its last byte is in. TCP is only
 * ever asked not to block, so the socket lock is never dropped half-way
 * through a message; room freed by ACKs is used from a work item.
 */
#include <linux/sched/signal.h>

#include "espintcp.h"

/* IKE messages up to this size are sent from the linear part */
#define ESPINTCP_TX_LINEAR	1024

static struct sk_buff *espintcp_tx_alloc(struct msghdr *msg, size_t size)
{
	size_t msglen = size + ESPINTCP_LEN_SIZE;
	size_t linear = min_t(size_t, msglen, ESPINTCP_TX_LINEAR);
	size_t rest = msglen - linear;
	struct sk_buff *skb;
	int i, err;

	skb = alloc_skb(linear, GFP_KERNEL);
	if (!skb)
		return ERR_PTR(-ENOBUFS);
	skb_put(skb, linear);

	for (i = 0; rest; i++) {
		size_t chunk = min_t(size_t, rest, PAGE_SIZE);
		struct page *page = alloc_page(GFP_KERNEL);

		if (!page) {
			kfree_skb(skb);
			return ERR_PTR(-ENOBUFS);
		}
		skb_fill_page_desc(skb, i, page, 0, chunk);
		skb->len += chunk;
		skb->data_len += chunk;
		skb->truesize += PAGE_SIZE;
		rest -= chunk;
	}

	*(__be16 *)skb->data = cpu_to_be16(msglen);
	err = skb_copy_datagram_from_iter(skb, ESPINTCP_LEN_SIZE,
					  &msg->msg_iter, size);
	if (err) {
		kfree_skb(skb);
		return ERR_PTR(err);
	}
	return skb;
}

static void espintcp_wake_writers(struct sock *sk)
{
	struct socket_wq *wq;

	rcu_read_lock();
	wq = rcu_dereference(sk->sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_poll(&wq->wait, EPOLLOUT | EPOLLWRNORM |
					   EPOLLWRBAND);
	rcu_read_unlock();
}

static void espintcp_tx_done(struct sock *sk, struct sk_buff *skb)
{
	unsigned int len = skb->len - ESPINTCP_LEN_SIZE;

	espintcp_stat_add(sk, ESPINTCP_IKE_TX_MSGS, 1);
	espintcp_stat_add(sk, ESPINTCP_IKE_TX_BYTES, len);
	consume_skb(skb);
}

/*
 * Write as much of the slot as TCP takes now. Called with the socket lock
 * owned. Returns 0 once the slot is empty, -EAGAIN while TCP is full.
 */
static int espintcp_tx_push(struct sock *sk)
{
	struct espintcp_sock *esk = espintcp_sk(sk);
	struct sk_buff *skb = esk->tx_skb;
	int ret;

	if (!skb)
		return 0;

	while (esk->tx_off < skb->len) {
		ret = skb_send_sock_locked(sk, skb, esk->tx_off,
					   skb->len - esk->tx_off);
		if (ret == -EAGAIN || ret == 0)
			return -EAGAIN;
		if (ret < 0) {
			/* the connection is gone: the rest can never be sent */
			espintcp_stat_add(sk, ESPINTCP_TX_DROP_ERROR, 1);
			kfree_skb(skb);
			goto empty;
		}
		esk->tx_off += ret;
	}
	espintcp_tx_done(sk, skb);
empty:
	WRITE_ONCE(esk->tx_skb, NULL);
	esk->tx_off = 0;
	espintcp_wake_writers(sk);
	return 0;
}

static void espintcp_tx_work(struct work_struct *work)
{
	struct espintcp_sock *esk = container_of(work, struct espintcp_sock,
						 tx_work);
	struct sock *sk = esk->sk;

	lock_sock(sk);
	espintcp_tx_push(sk);
	release_sock(sk);
}

/* TCP freed room in its send queue: continue a partly written message */
void espintcp_write_space(struct sock *sk)
{
	struct espintcp_sock *esk = espintcp_sk(sk);

	if (READ_ONCE(esk->tx_skb))
		schedule_work(&esk->tx_work);
	esk->saved_write_space(sk);
}

bool espintcp_tx_idle(const struct espintcp_sock *esk)
{
	return !READ_ONCE(esk->tx_skb);
}

static int espintcp_tx_error(struct sock *sk, int flags)
{
	int err = sock_error(sk);

	if (err)
		return err;
	if ((READ_ONCE(sk->sk_shutdown) & SEND_SHUTDOWN) ||
	    !((1 << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT)))
		return sk_stream_error(sk, flags, -EPIPE);
	return 0;
}

/* wait, socket lock owned, until the slot is free for a new message */
static int espintcp_tx_wait_slot(struct sock *sk, int flags, long *timeo)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct espintcp_sock *esk = espintcp_sk(sk);
	int err;

	add_wait_queue(sk_sleep(sk), &wait);
	for (;;) {
		err = espintcp_tx_error(sk, flags);
		if (err)
			break;
		if (!espintcp_tx_push(sk))
			break;
		err = -EAGAIN;
		if (!*timeo)
			break;
		err = sock_intr_errno(*timeo);
		if (signal_pending(current))
			break;
		sk_wait_event(sk, timeo, !esk->tx_skb || READ_ONCE(sk->sk_err) ||
			      (READ_ONCE(sk->sk_shutdown) & SEND_SHUTDOWN),
			      &wait);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return err;
}

/* one sendmsg is one IKE message; the caller supplies the non-ESP marker */
int espintcp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)
{
	struct espintcp_sock *esk = espintcp_sk(sk);
	int flags = msg->msg_flags;
	struct sk_buff *skb;
	long timeo;
	int err;

	if ((flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL)) || msg->msg_controllen)
		return -EOPNOTSUPP;
	if (size > ESPINTCP_MAX_MSG)
		return -EMSGSIZE;

	skb = espintcp_tx_alloc(msg, size);
	if (IS_ERR(skb))
		return PTR_ERR(skb);

	lock_sock(sk);
	timeo = sock_sndtimeo(sk, flags & MSG_DONTWAIT);
	err = espintcp_tx_wait_slot(sk, flags, &timeo);
	if (!err) {
		esk->tx_skb = skb;
		esk->tx_off = 0;
		skb = NULL;
		espintcp_tx_push(sk);
	}
	release_sock(sk);

	kfree_skb(skb);
	return err ?: size;
}

void espintcp_tx_init(struct espintcp_sock *esk)
{
	INIT_WORK(&esk->tx_work, espintcp_tx_work);
}

/* the socket's callbacks no longer lead here: drop what is left */
void espintcp_tx_stop(struct espintcp_sock *esk)
{
	cancel_work_sync(&esk->tx_work);
	kfree_skb(esk->tx_skb);
	esk->tx_skb = NULL;
}
