// SPDX-License-Identifier: GPL-2.0
/*
 * The module's only contact with the kernel's stream parser. It cuts the
 * TCP stream into messages at the 2-byte length prefix and hands each
 * message to espintcp_rx_msg() as an offset and a length in the buffer the
 * parser made for it: the buffer holds more, which only IKE needs cut off
 * (ESP is copied out). A kernel without strparser, or with a different
 * one, needs changes here only.
 */
#include <net/strparser.h>

#include "espintcp.h"

static int espintcp_strp_parse(struct strparser *strp, struct sk_buff *skb)
{
	struct strp_msg *rxm = strp_msg(skb);
	__be16 blen;
	u16 len;

	if (skb->len < rxm->offset + ESPINTCP_LEN_SIZE)
		return 0;	/* need more bytes */

	if (skb_copy_bits(skb, rxm->offset, &blen, sizeof(blen)))
		return -EINVAL;

	len = be16_to_cpu(blen);
	/* the length counts itself: anything shorter cannot be resynced */
	if (len < ESPINTCP_LEN_SIZE)
		return -EINVAL;

	return len;
}

static void espintcp_strp_rcv(struct strparser *strp, struct sk_buff *skb)
{
	struct espintcp_sock *esk = container_of(strp, struct espintcp_sock,
						 strp);
	struct strp_msg *rxm = strp_msg(skb);

	espintcp_rx_msg(esk, skb, rxm->offset + ESPINTCP_LEN_SIZE,
			rxm->full_len - ESPINTCP_LEN_SIZE);
}

/*
 * A framing error leaves no way to find the next message: stop parsing for
 * good and report the error on the socket, as the default handler would,
 * but count it first.
 */
static void espintcp_strp_abort(struct strparser *strp, int err)
{
	struct sock *sk = strp->sk;

	/* the first error is the one to report, not the timer's after it */
	cancel_delayed_work(&strp->msg_timer_work);
	if (strp->stopped)
		return;
	espintcp_stat_add(sk, ESPINTCP_RX_STREAM_ERRORS, 1);
	strp_stop(strp);
	WRITE_ONCE(sk->sk_err, -err);
	sk_error_report(sk);
}

int espintcp_strp_init(struct espintcp_sock *esk)
{
	static const struct strp_callbacks cb = {
		.parse_msg	= espintcp_strp_parse,
		.rcv_msg	= espintcp_strp_rcv,
		.abort_parser	= espintcp_strp_abort,
	};

	return strp_init(&esk->strp, esk->sk, &cb);
}

void espintcp_strp_data_ready(struct espintcp_sock *esk)
{
	strp_data_ready(&esk->strp);
}

/* picks up bytes that were queued before the parser was attached */
void espintcp_strp_check_rcv(struct espintcp_sock *esk)
{
	strp_check_rcv(&esk->strp);
}

/*
 * Parse what TCP holds now, from process context without the socket lock,
 * and return once it is done (or the parser is paused or stopped).
 */
void espintcp_strp_flush(struct espintcp_sock *esk)
{
	strp_check_rcv(&esk->strp);
	flush_work(&esk->strp.work);
}

/* no more messages until resumed; TCP's window closes meanwhile */
void espintcp_strp_pause(struct espintcp_sock *esk)
{
	strp_pause(&esk->strp);
}

/* under the socket lock, as the parser sets paused */
void espintcp_strp_resume(struct espintcp_sock *esk)
{
	if (esk->strp.paused)
		strp_unpause(&esk->strp);
}

void espintcp_strp_stop(struct espintcp_sock *esk)
{
	strp_stop(&esk->strp);
}

void espintcp_strp_done(struct espintcp_sock *esk)
{
	strp_done(&esk->strp);
}
