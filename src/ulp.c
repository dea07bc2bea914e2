// SPDX-License-Identifier: GPL-2.0
/*
 * The "espintcp" TCP ULP: attach to and detach from a TCP socket.
 *
 * Attaching swaps the socket's struct proto and proto_ops for copies of the
 * originals with message-oriented sendmsg/recvmsg/close and a poll that
 * looks at whole IKE messages only. The copies are built once per address
 * family, from the first socket of that family.
 */
#include <linux/module.h>
#include <net/tcp.h>

#include "espintcp.h"

enum { ESPINTCP_V4, ESPINTCP_V6, ESPINTCP_NFAMILIES };

struct espintcp_protos {
	struct proto *base_prot;	/* NULL until built */
	const struct proto_ops *base_ops;
	struct proto prot;
	struct proto_ops ops;
};

static struct espintcp_protos espintcp_protos[ESPINTCP_NFAMILIES];
static DEFINE_MUTEX(espintcp_protos_lock);
/* sockets are refused until the module's init is done (main.c) */
static bool espintcp_ulp_ready;

static void espintcp_close(struct sock *sk, long timeout);

static __poll_t espintcp_poll(struct file *file, struct socket *sock,
			      poll_table *wait)
{
	struct sock *sk = sock->sk;
	struct espintcp_sock *esk = espintcp_sk(sk);
	u8 shutdown = READ_ONCE(sk->sk_shutdown);
	__poll_t mask = 0;

	sock_poll_wait(file, sock, wait);

	if (READ_ONCE(sk->sk_err))
		mask |= EPOLLERR;
	if (shutdown == SHUTDOWN_MASK || READ_ONCE(sk->sk_state) == TCP_CLOSE)
		mask |= EPOLLHUP;
	if (shutdown & RCV_SHUTDOWN)
		mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
	/* bytes TCP holds are not readable until they make a whole message */
	if (!skb_queue_empty_lockless(&esk->ike_queue))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (!(shutdown & SEND_SHUTDOWN) && !espintcp_connecting(sk) &&
	    espintcp_tx_idle(esk)) {
		if (sk_stream_is_writeable(sk)) {
			mask |= EPOLLOUT | EPOLLWRNORM;
		} else {
			/* have TCP call write_space, and wake us, once it can */
			sk_set_bit(SOCKWQ_ASYNC_NOSPACE, sk);
			set_bit(SOCK_NOSPACE, &sk->sk_socket->flags);
			/* as sk_stream_poll(): set, then look again */
			smp_mb__after_atomic();
			if (sk_stream_is_writeable(sk))
				mask |= EPOLLOUT | EPOLLWRNORM;
		}
	}

	return mask;
}

/*
 * A message half in TCP would go on in the next connection's stream; upstream
 * TLS refuses to disconnect for the same reason.
 */
static int espintcp_disconnect(struct sock *sk, int flags)
{
	return -EOPNOTSUPP;
}

/* a listener would hand the ULP's ops to children that have no state */
static int espintcp_listen(struct socket *sock, int backlog)
{
	return -EINVAL;
}

/* TCP's zerocopy receive would take bytes from under the parser */
static int espintcp_getsockopt(struct sock *sk, int level, int optname,
			       char __user *optval, int __user *optlen)
{
	if (level == SOL_TCP && optname == TCP_ZEROCOPY_RECEIVE)
		return -EOPNOTSUPP;
	return espintcp_sk(sk)->base_prot->getsockopt(sk, level, optname,
						       optval, optlen);
}

#ifdef HAVE_PROTO_SENDPAGE
/* sendfile() would put bytes into the stream without framing them */
static int espintcp_sendpage(struct sock *sk, struct page *page, int offset,
			     size_t size, int flags)
{
	return -EOPNOTSUPP;
}
#endif

static void espintcp_build_protos(struct espintcp_protos *p,
				  struct proto *base_prot,
				  const struct proto_ops *base_ops)
{
	p->prot = *base_prot;
	p->prot.sendmsg = espintcp_sendmsg;
	p->prot.recvmsg = espintcp_recvmsg_op;
	p->prot.close = espintcp_close;
	p->prot.release_cb = espintcp_release_cb;
	p->prot.disconnect = espintcp_disconnect;
	p->prot.getsockopt = espintcp_getsockopt;
#ifdef HAVE_PROTO_SENDPAGE
	p->prot.sendpage = espintcp_sendpage;
#endif

	p->ops = *base_ops;
	p->ops.poll = espintcp_poll;
	p->ops.listen = espintcp_listen;
	/* splice reads through recvmsg, one message at a time */
	p->ops.splice_read = NULL;
	/* what TCP's zerocopy receive maps */
	p->ops.mmap = sock_no_mmap;

	p->base_ops = base_ops;
	/* publishes prot and ops to the lockless readers below */
	smp_store_release(&p->base_prot, base_prot);
}

static struct espintcp_protos *espintcp_get_protos(struct sock *sk)
{
	struct espintcp_protos *p;

	switch (sk->sk_family) {
	case AF_INET:
		p = &espintcp_protos[ESPINTCP_V4];
		break;
	case AF_INET6:
		p = &espintcp_protos[ESPINTCP_V6];
		break;
	default:
		return ERR_PTR(-EAFNOSUPPORT);
	}

	/* pairs with the release in espintcp_build_protos() */
	if (unlikely(!smp_load_acquire(&p->base_prot))) {
		mutex_lock(&espintcp_protos_lock);
		if (!p->base_prot)
			espintcp_build_protos(p, sk->sk_prot,
					      sk->sk_socket->ops);
		mutex_unlock(&espintcp_protos_lock);
	}

	if (sk->sk_prot != p->base_prot || sk->sk_socket->ops != p->base_ops) {
		pr_warn_ratelimited("socket does not use the kernel's plain TCP operations (another protocol layered on it?)\n");
		return ERR_PTR(-EOPNOTSUPP);
	}
	return p;
}

/*
 * The socket is taken, as sockmap and KCM mark theirs: neither attaches a
 * parser of its own to a socket whose sk_user_data is set.
 */
static void espintcp_set_callbacks(struct sock *sk, struct espintcp_sock *esk)
{
	write_lock_bh(&sk->sk_callback_lock);
	__rcu_assign_sk_user_data_with_flags(sk, esk, SK_USER_DATA_NOCOPY);
	esk->saved_data_ready = sk->sk_data_ready;
	esk->saved_write_space = sk->sk_write_space;
	esk->saved_state_change = sk->sk_state_change;
	sk->sk_data_ready = espintcp_data_ready;
	sk->sk_write_space = espintcp_write_space;
	sk->sk_state_change = espintcp_state_change;
	write_unlock_bh(&sk->sk_callback_lock);
}

static void espintcp_restore_callbacks(struct sock *sk,
				       struct espintcp_sock *esk)
{
	write_lock_bh(&sk->sk_callback_lock);
	sk->sk_data_ready = esk->saved_data_ready;
	sk->sk_write_space = esk->saved_write_space;
	sk->sk_state_change = esk->saved_state_change;
	rcu_assign_sk_user_data(sk, NULL);
	write_unlock_bh(&sk->sk_callback_lock);
}

/* called by tcp_set_ulp() with the socket locked */
static int espintcp_init_sk(struct sock *sk)
{
	struct espintcp_protos *p;
	struct espintcp_sock *esk;
	struct sk_buff *skb;

	if (!READ_ONCE(espintcp_ulp_ready))
		return -EAGAIN;
	/* sockmap owns sk_user_data and the callbacks: it cannot share them */
	if (sk->sk_user_data)
		return -EBUSY;
	if (!sk->sk_socket)
		return -EINVAL;

	p = espintcp_get_protos(sk);
	if (IS_ERR(p))
		return PTR_ERR(p);

	esk = kzalloc(sizeof(*esk), GFP_KERNEL);
	if (!esk)
		return -ENOMEM;
	esk->sk = sk;
	skb_queue_head_init(&esk->ike_queue);
	espintcp_tx_init(esk);
	espintcp_input_init(esk);
	espintcp_strp_init(esk);

	esk->base_prot = p->base_prot;
	esk->base_ops = p->base_ops;
	rcu_assign_pointer(inet_csk(sk)->icsk_ulp_data, (void __rcu *)esk);
	WRITE_ONCE(sk->sk_prot, &p->prot);
	WRITE_ONCE(sk->sk_socket->ops, &p->ops);
	espintcp_set_callbacks(sk, esk);
	/* ESP is pushed into TCP from softirq too (tx.c) */
	sk->sk_allocation = GFP_ATOMIC;
#ifdef HAVE_SK_USE_TASK_FRAG
	sk->sk_use_task_frag = false;
#endif

	/* what TCP queued so far has the mark and DSCP to start with */
	skb_queue_reverse_walk(&sk->sk_receive_queue, skb)
		if (espintcp_esp_note_segment(esk, skb))
			break;
	espintcp_strp_read(esk, GFP_KERNEL);
	return 0;
}

static void espintcp_close(struct sock *sk, long timeout)
{
	struct espintcp_sock *esk = espintcp_sk(sk);

	/*
	 * With the lock owned, no softirq is inside the parser and new
	 * segments wait in the backlog, which release_sock() hands to the
	 * restored callbacks.
	 */
	lock_sock(sk);
	espintcp_restore_callbacks(sk, esk);
	espintcp_strp_stop(esk);
	espintcp_rx_purge(esk);
	WRITE_ONCE(sk->sk_prot, esk->base_prot);
	if (sk->sk_socket)
		WRITE_ONCE(sk->sk_socket->ops, esk->base_ops);
	release_sock(sk);

	espintcp_strp_done(esk);
	espintcp_input_stop(esk);
	espintcp_tx_stop(esk);

	esk->base_prot->close(sk, timeout);
}

/* from tcp_cleanup_ulp(), when the socket is destroyed */
static void espintcp_release(struct sock *sk)
{
	struct espintcp_sock *esk = espintcp_sk(sk);

	rcu_assign_pointer(inet_csk(sk)->icsk_ulp_data, NULL);
	/* output.c may still be looking at it */
	kfree_rcu(esk, rcu);
}

/*
 * TCP queued a segment, at the tail or into it. The socket is locked:
 * TCP calls this in softirq when nobody owns the socket, else from the
 * owner's release_sock().
 */
void espintcp_data_ready(struct sock *sk)
{
	struct espintcp_sock *esk = espintcp_sk(sk);
	struct sk_buff *skb = skb_peek_tail(&sk->sk_receive_queue);

	if (skb)
		espintcp_esp_note_segment(esk, skb);
	espintcp_strp_read(esk, GFP_ATOMIC);
}

static struct tcp_ulp_ops espintcp_ulp_ops __read_mostly = {
	.name		= "espintcp",
	.owner		= THIS_MODULE,
	.init		= espintcp_init_sk,
	.release	= espintcp_release,
};

/* the socket's espintcp state if it carries the ULP; under rcu_read_lock */
struct espintcp_sock *espintcp_sk_rcu(const struct sock *sk)
{
	const struct inet_connection_sock *icsk = inet_csk(sk);

	if (READ_ONCE(icsk->icsk_ulp_ops) != &espintcp_ulp_ops)
		return NULL;
	return rcu_dereference(icsk->icsk_ulp_data);
}

int espintcp_ulp_init(void)
{
	return tcp_register_ulp(&espintcp_ulp_ops);
}

void espintcp_ulp_start(void)
{
	WRITE_ONCE(espintcp_ulp_ready, true);
}

void espintcp_ulp_exit(void)
{
	WRITE_ONCE(espintcp_ulp_ready, false);
	tcp_unregister_ulp(&espintcp_ulp_ops);
}
