// SPDX-License-Identifier: GPL-2.0
/*
 * The stream parser: cuts TCP's byte stream into messages at each 2-byte
 * length prefix. It reads TCP's receive queue with tcp_read_sock(), in the
 * socket's own context and under its lock: from data_ready (softirq, or
 * the owner's release_sock), from recvmsg once it made room, and from a
 * work item of the socket's own when a buffer had to wait for memory. No
 * other socket can hold it up.
 *
 * Each message is copied once, straight from TCP's buffers into a buffer
 * of its own, allocated when the first bytes after the prefix say what it
 * is: the IKE queue's (rx.c) or the one ESP goes to xfrm in (input.c).
 * While a message is being copied, its buffer is charged to the socket.
 */
#include <net/tcp.h>

#include "espintcp.h"

#define ESPINTCP_KEEPALIVE	0xff
/* how long an IKE message waits before it asks the socket's memory again */
#define ESPINTCP_RX_MEM_WAIT	(HZ / 10)

struct espintcp_read {
	struct espintcp_sock *esk;
	gfp_t gfp;
};

/* the message's prefix, and as much of its start as tells what it is */
static unsigned int espintcp_strp_hdr_want(const struct espintcp_rx *rx)
{
	if (rx->hdr_len < ESPINTCP_LEN_SIZE)
		return ESPINTCP_LEN_SIZE;
	return ESPINTCP_LEN_SIZE + min_t(unsigned int, rx->len,
					 ESPINTCP_MARKER_SIZE);
}

/* IKE messages start with the non-ESP marker, four zero bytes */
static bool espintcp_strp_is_ike(const struct espintcp_rx *rx)
{
	const u8 *m = rx->hdr + ESPINTCP_LEN_SIZE;

	return !(m[0] | m[1] | m[2] | m[3]);
}

static void espintcp_strp_reset(struct espintcp_rx *rx)
{
	rx->skb = NULL;
	rx->charged = 0;
	rx->hdr_len = 0;
	rx->len = 0;
	rx->done = 0;
	rx->skip = false;
}

static void espintcp_strp_uncharge(struct espintcp_sock *esk)
{
	sk_mem_uncharge(esk->sk, esk->rx.charged);
	esk->rx.charged = 0;
}

/*
 * The error that ended the stream goes to the socket once the messages
 * before it are read. Under the socket lock.
 */
void espintcp_strp_report(struct espintcp_sock *esk)
{
	struct sock *sk = esk->sk;
	int err = esk->rx.err;

	if (!err || !skb_queue_empty_lockless(&esk->ike_queue))
		return;
	esk->rx.err = 0;
	WRITE_ONCE(sk->sk_err, err);
	sk_error_report(sk);
}

/* a framing error: nothing after it can be found */
static void espintcp_strp_abort(struct espintcp_sock *esk, int err)
{
	espintcp_strp_stop(esk);
	esk->rx.err = err;
	espintcp_stat_add(esk->sk, ESPINTCP_RX_STREAM_ERRORS, 1);
	espintcp_strp_report(esk);
}

static bool espintcp_strp_charge(struct espintcp_sock *esk,
				 struct sk_buff *skb)
{
	struct sock *sk = esk->sk;

	if (!sk_rmem_schedule(sk, skb, skb->truesize))
		return false;
	sk_mem_charge(sk, skb->truesize);
	esk->rx.charged = skb->truesize;
	return true;
}

/*
 * An IKE message's buffer. IKE is never dropped for want of memory: the
 * parser waits where it is. Without a buffer, it waits for one the
 * socket's work item allocates where it may sleep, and the stream fails
 * with ENOBUFS only if that fails too; without room in the socket's
 * memory, as TCP's peer would, until there is some.
 */
static bool espintcp_strp_begin_ike(struct espintcp_sock *esk, gfp_t gfp)
{
	struct espintcp_rx *rx = &esk->rx;
	struct sk_buff *skb;

	rx->retry = true;
	skb = espintcp_rx_ike_alloc(esk, rx->len, gfp);
	if (!skb) {
		if (gfpflags_allow_blocking(gfp)) {
			espintcp_stat_add(esk->sk, ESPINTCP_RX_DROP_NOMEM, 1);
			espintcp_strp_abort(esk, ENOBUFS);
		} else {
			schedule_delayed_work(&esk->rx_work, 0);
		}
		return false;
	}
	if (!espintcp_strp_charge(esk, skb)) {
		kfree_skb(skb);
		schedule_delayed_work(&esk->rx_work, ESPINTCP_RX_MEM_WAIT);
		return false;
	}
	rx->retry = false;
	skb_store_bits(skb, 0, rx->hdr + ESPINTCP_LEN_SIZE,
		       ESPINTCP_MARKER_SIZE);
	rx->skb = skb;
	rx->done = ESPINTCP_MARKER_SIZE;
	return true;
}

/* ESP is a datagram: without memory for it, it is read past and counted */
static void espintcp_strp_begin_esp(struct espintcp_sock *esk,
				    const struct sk_buff *seg)
{
	struct espintcp_rx *rx = &esk->rx;
	struct sk_buff *skb;

	rx->done = ESPINTCP_MARKER_SIZE;
	skb = espintcp_esp_alloc(esk, seg, rx->len);
	if (skb && !espintcp_strp_charge(esk, skb)) {
		espintcp_stat_add(esk->sk, ESPINTCP_RX_DROP_NOMEM, 1);
		kfree_skb(skb);
		skb = NULL;
	}
	if (!skb) {
		rx->skip = true;
		return;
	}
	memcpy(skb->data, rx->hdr + ESPINTCP_LEN_SIZE, ESPINTCP_MARKER_SIZE);
	rx->skb = skb;
}

/* the prefix and the first bytes are in: what is the message? */
static void espintcp_strp_begin(struct espintcp_sock *esk,
				const struct sk_buff *seg, gfp_t gfp)
{
	struct espintcp_rx *rx = &esk->rx;
	const u8 *msg = rx->hdr + ESPINTCP_LEN_SIZE;
	struct sock *sk = esk->sk;

	if (rx->len == 1 && msg[0] == ESPINTCP_KEEPALIVE) {
		espintcp_stat_add(sk, ESPINTCP_RX_KEEPALIVE, 1);
		espintcp_strp_reset(rx);
		return;
	}
	/* neither a non-ESP marker nor an SPI fits: not a message */
	if (rx->len <= ESPINTCP_MARKER_SIZE) {
		XFRM_INC_STATS(sock_net(sk), LINUX_MIB_XFRMINHDRERROR);
		espintcp_stat_add(sk, ESPINTCP_RX_DROP_SHORT, 1);
		espintcp_strp_reset(rx);
		return;
	}
	if (espintcp_strp_is_ike(rx))
		espintcp_strp_begin_ike(esk, gfp);
	else
		espintcp_strp_begin_esp(esk, seg);
}

/* a whole message is in its buffer */
static void espintcp_strp_end(struct espintcp_sock *esk)
{
	struct espintcp_rx *rx = &esk->rx;
	struct sk_buff *skb = rx->skb;

	if (!rx->skip && espintcp_strp_is_ike(rx)) {
		/* the charge goes with it, until recvmsg takes it */
		espintcp_rx_ike(esk, skb);
	} else if (skb) {
		espintcp_strp_uncharge(esk);
		espintcp_esp_rcv(esk, skb);
	}
	espintcp_strp_reset(rx);
	if (espintcp_rx_full(esk) && !rx->paused) {
		rx->paused = true;
		espintcp_stat_add(esk->sk, ESPINTCP_RX_PAUSED, 1);
	}
}

/* copies @len bytes at @off in @from to @to's data at @to_off */
static int espintcp_strp_copy(const struct sk_buff *from, unsigned int off,
			      struct sk_buff *to, unsigned int to_off,
			      unsigned int len)
{
	unsigned int head = skb_headlen(to);
	unsigned int i, n;

	if (to_off < head) {
		n = min(len, head - to_off);
		if (skb_copy_bits(from, off, to->data + to_off, n))
			return -EFAULT;
		off += n;
		len -= n;
		to_off = head;
	}
	to_off -= head;
	for (i = 0; len && i < skb_shinfo(to)->nr_frags; i++) {
		skb_frag_t *frag = &skb_shinfo(to)->frags[i];
		unsigned int size = skb_frag_size(frag);

		if (to_off >= size) {
			to_off -= size;
			continue;
		}
		n = min(len, size - to_off);
		if (skb_copy_bits(from, off, skb_frag_address(frag) + to_off, n))
			return -EFAULT;
		off += n;
		len -= n;
		to_off = 0;
	}
	return len ? -EFAULT : 0;
}

/* reads at most @avail bytes at @off of @seg; returns how many it took */
static int espintcp_strp_take(struct espintcp_sock *esk, struct sk_buff *seg,
			      unsigned int off, unsigned int avail, gfp_t gfp)
{
	struct espintcp_rx *rx = &esk->rx;
	unsigned int want = espintcp_strp_hdr_want(rx);
	unsigned int n;

	if (rx->hdr_len < want) {
		n = min(avail, want - rx->hdr_len);
		if (skb_copy_bits(seg, off, rx->hdr + rx->hdr_len, n))
			return -EFAULT;
		rx->hdr_len += n;
		if (rx->hdr_len < ESPINTCP_LEN_SIZE)
			return n;
		if (rx->hdr_len == ESPINTCP_LEN_SIZE) {
			u16 len = rx->hdr[0] << 8 | rx->hdr[1];

			/*
			 * The length counts itself: shorter cannot be resynced.
			 * As upstream's parser, leave the bytes of this read in
			 * TCP: unread, they make close() reset the connection.
			 */
			if (len < ESPINTCP_LEN_SIZE) {
				espintcp_strp_abort(esk, EINVAL);
				return 0;
			}
			rx->len = len - ESPINTCP_LEN_SIZE;
		}
		if (rx->hdr_len == espintcp_strp_hdr_want(rx))
			espintcp_strp_begin(esk, seg, gfp);
		return n;
	}

	n = min(avail, (unsigned int)(rx->len - rx->done));
	if (rx->skb && espintcp_strp_copy(seg, off, rx->skb, rx->done, n))
		return -EFAULT;
	rx->done += n;
	if (rx->done == rx->len)
		espintcp_strp_end(esk);
	return n;
}

/* the parser waits: for recvmsg to make room, for memory, or for good */
static bool espintcp_strp_blocked(const struct espintcp_rx *rx)
{
	return rx->stopped || rx->retry || (rx->paused && !rx->skb);
}

static int espintcp_strp_actor(read_descriptor_t *desc, struct sk_buff *seg,
			       unsigned int off, size_t len)
{
	struct espintcp_read *rd = desc->arg.data;
	struct espintcp_sock *esk = rd->esk;
	size_t used = 0;
	int n;

	while (used < len && !espintcp_strp_blocked(&esk->rx)) {
		n = espintcp_strp_take(esk, seg, off + used, len - used,
				       rd->gfp);
		if (n < 0) {
			espintcp_strp_abort(esk, EIO);
			break;
		}
		used += n;
	}
	if (espintcp_strp_blocked(&esk->rx))
		desc->count = 0;
	return used;
}

/*
 * tcp_read_sock() stops at urgent data, which the peer cannot have meant
 * as part of a message: no message after it could ever be read.
 */
static bool espintcp_strp_at_urgent(const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);

	return (READ_ONCE(tp->urg_data) & TCP_URG_VALID) &&
	       tp->urg_seq == tp->copied_seq;
}

/*
 * Parse what TCP holds, with the socket locked: owned, or in softirq.
 * @gfp says whether this context may sleep for an IKE message's buffer.
 */
void espintcp_strp_read(struct espintcp_sock *esk, gfp_t gfp)
{
	struct espintcp_read rd = { .esk = esk, .gfp = gfp };
	read_descriptor_t desc = { .arg.data = &rd, .count = 1 };
	struct espintcp_rx *rx = &esk->rx;
	struct sock *sk = esk->sk;

	if (rx->stopped)
		return;
	if (rx->paused && !espintcp_rx_full(esk))
		rx->paused = false;
	if (rx->retry && !espintcp_strp_begin_ike(esk, gfp))
		return;
	if (espintcp_strp_blocked(rx))
		return;

	tcp_read_sock(sk, &desc, espintcp_strp_actor);

	if (!espintcp_strp_blocked(rx) && espintcp_strp_at_urgent(sk))
		espintcp_strp_abort(esk, EPROTO);
}

static void espintcp_strp_work(struct work_struct *work)
{
	struct espintcp_sock *esk = container_of(to_delayed_work(work),
						 struct espintcp_sock, rx_work);

	lock_sock(esk->sk);
	espintcp_strp_read(esk, GFP_KERNEL);
	release_sock(esk->sk);
}

void espintcp_strp_init(struct espintcp_sock *esk)
{
	INIT_DELAYED_WORK(&esk->rx_work, espintcp_strp_work);
}

/* under the socket lock, once data_ready no longer leads here */
void espintcp_strp_stop(struct espintcp_sock *esk)
{
	struct espintcp_rx *rx = &esk->rx;

	espintcp_strp_uncharge(esk);
	kfree_skb(rx->skb);
	espintcp_strp_reset(rx);
	rx->retry = false;
	rx->stopped = true;
}

/* without the socket lock, after espintcp_strp_stop() */
void espintcp_strp_done(struct espintcp_sock *esk)
{
	cancel_delayed_work_sync(&esk->rx_work);
}
