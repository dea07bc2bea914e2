// SPDX-License-Identifier: GPL-2.0
/*
 * Transmit side. Each message, with its 2-byte length prefix, goes into TCP
 * through a single slot: a message TCP takes only in part stays in the
 * slot, and nothing else enters TCP until its last byte is in. TCP is only
 * ever asked not to block, so the socket lock is never dropped half-way
 * through a message. Whoever holds the socket lock pushes: sendmsg, TCP's
 * write_space when it sent or freed something, the owner's release_sock,
 * and a tasklet for ESP arriving from xfrm while nobody holds it. Pushes
 * can happen in softirq context, so TCP allocates atomically here.
 *
 * IKE must not wait behind ESP. An IKE sender gets the slot as soon as the
 * message in it is done, ahead of any queued ESP; and ESP enters TCP only
 * while fewer than esp_notsent_bytes wait there unsent, so an IKE
 * message never has more than that ahead of it. ESP is datagrams: beyond
 * esp_queue_bytes in front of TCP it is dropped, which is also the
 * congestion signal the flows inside the tunnel need. What waits is
 * counted by the memory it holds, not by its length: a small packet may
 * hold a whole buffer.
 */
#include <linux/moduleparam.h>
#include <linux/sched/signal.h>
#include <net/tcp.h>

#include "espintcp.h"

static unsigned int esp_queue_bytes = 64 * 1024;
module_param(esp_queue_bytes, uint, 0644);
MODULE_PARM_DESC(esp_queue_bytes,
		 "memory (truesize) of ESP that may wait for a socket's slot; more is dropped");

static unsigned int esp_notsent_bytes = 4 * 1024;
module_param(esp_notsent_bytes, uint, 0644);
MODULE_PARM_DESC(esp_notsent_bytes,
		 "ESP enters TCP only while fewer unsent bytes wait there (0: no limit)");

/* IKE messages up to this size are sent from the linear part */
#define ESPINTCP_TX_LINEAR	1024

static struct sk_buff *espintcp_tx_alloc(struct msghdr *msg, size_t size)
{
	size_t msglen = size + ESPINTCP_LEN_SIZE;
	size_t linear = min_t(size_t, msglen, ESPINTCP_TX_LINEAR);
	size_t rest = msglen - linear;
	struct sk_buff *skb;
	int i, err;

	/* charged to the sender's memory cgroup, as TCP's own sends are */
	skb = alloc_skb(linear, GFP_KERNEL_ACCOUNT);
	if (!skb)
		return ERR_PTR(-ENOBUFS);
	skb_put(skb, linear);

	for (i = 0; rest; i++) {
		size_t chunk = min_t(size_t, rest, PAGE_SIZE);
		struct page *page = alloc_page(GFP_KERNEL_ACCOUNT);

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

static void espintcp_tx_done(struct sock *sk, struct sk_buff *skb, bool esp)
{
	unsigned int len = skb->len - ESPINTCP_LEN_SIZE;

	if (esp) {
		espintcp_stat_add(sk, ESPINTCP_ESP_TX_MSGS, 1);
		espintcp_stat_add(sk, ESPINTCP_ESP_TX_BYTES, len);
	} else {
		espintcp_stat_add(sk, ESPINTCP_IKE_TX_MSGS, 1);
		espintcp_stat_add(sk, ESPINTCP_IKE_TX_BYTES, len);
	}
	consume_skb(skb);
}

/* nothing more can ever be sent on the connection */
static bool espintcp_tx_dead(const struct sock *sk)
{
	return READ_ONCE(sk->sk_err) ||
	       (READ_ONCE(sk->sk_shutdown) & SEND_SHUTDOWN) ||
	       !((1 << READ_ONCE(sk->sk_state)) &
		 (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT |
		  TCPF_SYN_SENT | TCPF_SYN_RECV));
}

static bool espintcp_tcp_backlogged(struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	u32 notsent = READ_ONCE(tp->write_seq) - READ_ONCE(tp->snd_nxt);
	unsigned int limit = READ_ONCE(esp_notsent_bytes);

	if (!limit || notsent < limit)
		return false;
	/* have tcp_check_space() call espintcp_write_space() as it sends */
	set_bit(SOCK_NOSPACE, &sk->sk_socket->flags);
	return true;
}

/* put the next ESP frame in the empty slot, if ESP may go now */
static bool espintcp_tx_next_esp(struct sock *sk, struct espintcp_sock *esk)
{
	struct sk_buff *skb;

	if (esk->ike_waiting || espintcp_tcp_backlogged(sk))
		return false;

	spin_lock_bh(&esk->esp_queue.lock);
	skb = __skb_dequeue(&esk->esp_queue);
	if (skb)
		esk->esp_queued -= skb->truesize;
	spin_unlock_bh(&esk->esp_queue.lock);
	if (!skb)
		return false;

	WRITE_ONCE(esk->tx_skb, skb);
	esk->tx_off = 0;
	esk->tx_esp = true;
	return true;
}

/*
 * The connection is dead: free what waits at once, for the inner sockets'
 * sake (their send buffers, TCP small queues), not at close().
 */
static void espintcp_tx_drop_all(struct sock *sk, struct espintcp_sock *esk)
{
	struct sk_buff_head dead;
	unsigned int n;

	__skb_queue_head_init(&dead);
	spin_lock_bh(&esk->esp_queue.lock);
	skb_queue_splice_init(&esk->esp_queue, &dead);
	esk->esp_queued = 0;
	spin_unlock_bh(&esk->esp_queue.lock);

	n = skb_queue_len(&dead);
	__skb_queue_purge(&dead);
	if (esk->tx_skb) {
		kfree_skb(esk->tx_skb);
		WRITE_ONCE(esk->tx_skb, NULL);
		esk->tx_off = 0;
		n++;
		espintcp_wake_writers(sk);
	}
	if (n)
		espintcp_stat_add(sk, ESPINTCP_TX_DROP_ERROR, n);
}

/*
 * Write as much as TCP takes now: the slot, then queued ESP. Called with
 * the socket lock held, owned or in softirq. Returns 0 once the slot is
 * empty, -EAGAIN while TCP is full or still connecting.
 */
static int __espintcp_tx_push(struct sock *sk, struct espintcp_sock *esk)
{
	struct sk_buff *skb;
	int ret;

	/*
	 * TCP would answer EPIPE with a SIGPIPE to whatever task is current,
	 * which in softirq is anybody: do not ask it.
	 */
	if (espintcp_tx_dead(sk)) {
		espintcp_tx_drop_all(sk, esk);
		return -EPIPE;
	}
	if (espintcp_connecting(sk))
		return -EAGAIN;

	while ((skb = esk->tx_skb) || espintcp_tx_next_esp(sk, esk)) {
		skb = esk->tx_skb;
		while (esk->tx_off < skb->len) {
			ret = skb_send_sock_locked(sk, skb, esk->tx_off,
						   skb->len - esk->tx_off);
			if (ret == -EAGAIN || ret == 0)
				return -EAGAIN;
			if (ret < 0)
				break;
			esk->tx_off += ret;
		}
		if (esk->tx_off < skb->len) {
			/* the connection is gone: the rest can never be sent */
			espintcp_stat_add(sk, ESPINTCP_TX_DROP_ERROR, 1);
			kfree_skb(skb);
		} else {
			espintcp_tx_done(sk, skb, esk->tx_esp);
		}
		WRITE_ONCE(esk->tx_skb, NULL);
		esk->tx_off = 0;
		espintcp_wake_writers(sk);
	}
	return 0;
}

static int espintcp_tx_push(struct sock *sk)
{
	struct espintcp_sock *esk = espintcp_sk(sk);
	int ret;

	/* TCP calls write_space from inside the send: the outer push goes on */
	if (esk->tx_busy)
		return -EAGAIN;
	esk->tx_busy = true;
	ret = __espintcp_tx_push(sk, esk);
	esk->tx_busy = false;
	return ret;
}

static bool espintcp_tx_pending(const struct espintcp_sock *esk)
{
	return READ_ONCE(esk->tx_skb) ||
	       !skb_queue_empty_lockless(&esk->esp_queue);
}

/* with the lock held, by TCP as it sends or frees: go on with the rest */
void espintcp_write_space(struct sock *sk)
{
	struct espintcp_sock *esk = espintcp_sk(sk);

	/*
	 * First: sk_stream_write_space() clears SOCK_NOSPACE, which a push
	 * that has to stop sets again to be called back.
	 */
	esk->saved_write_space(sk);
	if (espintcp_tx_pending(esk))
		espintcp_tx_push(sk);
}

/* with the lock held: connected (what waited goes now) or dead */
void espintcp_state_change(struct sock *sk)
{
	struct espintcp_sock *esk = espintcp_sk(sk);

	esk->saved_state_change(sk);
	if (espintcp_tx_pending(esk))
		espintcp_tx_push(sk);
}

/* the owner is letting go of the lock: what came meanwhile goes now */
void espintcp_release_cb(struct sock *sk)
{
	struct espintcp_sock *esk = espintcp_sk(sk);

	esk->base_prot->release_cb(sk);
	if (espintcp_tx_pending(esk))
		espintcp_tx_push(sk);
}

static void espintcp_tx_tasklet(struct tasklet_struct *t)
{
	struct espintcp_sock *esk = from_tasklet(esk, t, tx_tasklet);
	struct sock *sk = esk->sk;

	bh_lock_sock(sk);
	if (!sock_owned_by_user(sk))	/* else release_cb pushes */
		espintcp_tx_push(sk);
	bh_unlock_sock(sk);
}

/* an ESP frame from output.c, to go out when its turn comes */
void espintcp_tx_esp(struct espintcp_sock *esk, struct sk_buff *skb)
{
	enum espintcp_stat why = ESPINTCP_TX_DROP_QUEUE_FULL;
	bool queued = false;

	spin_lock_bh(&esk->esp_queue.lock);
	if (esk->closed) {
		why = ESPINTCP_TX_DROP_NOSOCK;
	} else if (esk->esp_queued + skb->truesize <=
		   READ_ONCE(esp_queue_bytes)) {
		__skb_queue_tail(&esk->esp_queue, skb);
		esk->esp_queued += skb->truesize;
		queued = true;
		/* not here: xfrm may be holding the lock of a socket inside */
		tasklet_schedule(&esk->tx_tasklet);
	}
	spin_unlock_bh(&esk->esp_queue.lock);

	if (!queued) {
		espintcp_stat_add(esk->sk, why, 1);
		kfree_skb(skb);
	}
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
	if (espintcp_tx_dead(sk))
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
	/* as TCP does: wait for the handshake, EAGAIN if non-blocking */
	if (espintcp_connecting(sk)) {
		err = sk_stream_wait_connect(sk, &timeo);
		if (err) {
			err = sk_stream_error(sk, flags, err);
			goto out;
		}
	}
	esk->ike_waiting++;
	err = espintcp_tx_wait_slot(sk, flags, &timeo);
	esk->ike_waiting--;
	if (!err) {
		WRITE_ONCE(esk->tx_skb, skb);
		esk->tx_off = 0;
		esk->tx_esp = false;
		skb = NULL;
		espintcp_tx_push(sk);
	}
out:
	release_sock(sk);

	kfree_skb(skb);
	return err ?: size;
}

void espintcp_tx_init(struct espintcp_sock *esk)
{
	skb_queue_head_init(&esk->esp_queue);
	tasklet_setup(&esk->tx_tasklet, espintcp_tx_tasklet);
}

/* the socket's callbacks no longer lead here: drop what is left */
void espintcp_tx_stop(struct espintcp_sock *esk)
{
	spin_lock_bh(&esk->esp_queue.lock);
	esk->closed = true;
	spin_unlock_bh(&esk->esp_queue.lock);

	tasklet_kill(&esk->tx_tasklet);
	skb_queue_purge(&esk->esp_queue);
	kfree_skb(esk->tx_skb);
	esk->tx_skb = NULL;
}
