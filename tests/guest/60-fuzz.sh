#!/bin/sh
# The fuzzer (tests/guest/fuzz.c) for FUZZ_SECONDS (default 40; make fuzz
# DURATION=... runs longer; fuzz_kind=reader on the kernel command line,
# make fuzz KIND=reader, runs reader rounds only), then churn the fuzzer
# cannot do from one process: the stream and calls rounds again as uid
# 65534 in the host netns, xfrm states added, updated and deleted under
# ESP traffic, connections closed and namespaces deleted under traffic,
# uid 65534's own namespaces (unshare -Urn) ended with TCP states and
# traffic in them, modprobe and rmmod in a loop. Afterwards the module
# unloads (nothing holds it) and every TCP socket is freed (sockstat's
# alloc is back where it was).
set -eu
. /tests/guest/lib/netns.sh
. /tests/guest/lib/esp.sh

# make check uses one seed, so that its rounds are the same every run;
# make fuzz picks a new one each time unless given SEED
seed=$(sed -n 's/.* fuzz_seed=\([0-9a-fx]*\).*/\1/p' /proc/cmdline)
seed=${seed:-0x8229}
secs=$(sed -n 's/.* fuzz_seconds=\([0-9]*\).*/\1/p' /proc/cmdline)
secs=${secs:-40}
# fuzz_kind=reader (or stream, calls): only rounds of that kind
kind=$(sed -n 's/.* fuzz_kind=\([a-z]*\).*/\1/p' /proc/cmdline)

# TCP sockets allocated, in every netns (IPv4 and IPv6 share the count)
tcp_alloc() { awk '$1 == "TCP:" { print $9 }' /proc/net/sockstat; }
skbs() { awk '$1 == "skbuff_head_cache" { print $2 }' /proc/slabinfo; }
unloaded() { [ ! -d /sys/module/espintcp ] || rmmod_wait; }

modprobe xfrm_user
[ -d /sys/module/espintcp ] || modprobe espintcp
topo_up
base=$(tcp_alloc) skb0=$(skbs)

echo "# fuzz seed $seed, $secs s${kind:+, $kind rounds} (replay: fuzz_seed=$seed${kind:+ fuzz_kind=$kind} on the kernel command line)"
# shellcheck disable=SC2086
/tests/bin/fuzz "$seed" "$secs" $kind || true
# the default mix has no reader rounds (they would change make check's
# rounds): 20 s of them after it, the reproducer of 6.1's stalls
[ -n "$kind" ] || /tests/bin/fuzz "$seed" 20 reader || true
echo "# srv's counters after the fuzzer: $(srv cat /proc/net/espintcp | tr '\n' ' ')"

# --- the stream and calls rounds again, as uid 65534 ------------------------
# Any local user reaches the ULP: no capability, no namespace of its own,
# both ends over lo in the host's netns (HARNESS_NETNS=local: setns, which
# the cli/srv pair needs, is root's)
host_ike() { awk '$1 == "ike_rx_msgs" { print $2 }' /proc/net/espintcp; }
for k in stream calls; do
	rc=0 ike0=$(host_ike)
	HARNESS_NETNS=local /tests/bin/run_as 65534 /tests/bin/fuzz "$seed" 5 "$k" \
		> "/tmp/fuzz-uid-$k.out" 2>&1 || rc=$?
	sed 's/^\(not \)\{0,1\}ok - /&as uid 65534 in the host netns: /' "/tmp/fuzz-uid-$k.out"
	grep -q "^\(not \)\{0,1\}ok - fuzz: .* $k rounds" "/tmp/fuzz-uid-$k.out" ||
		not_ok "the fuzzer's $k rounds as uid 65534 ran to their summary (exit status $rc)"
	check "as uid 65534: its $k rounds went through the module (the host netns's ike_rx_msgs rose from $ike0 to $(host_ike))" \
		test "$(host_ike)" -gt "$ike0"
done

# --- states churned under ESP traffic --------------------------------------
peer_start 4 40700 4970
sa_pair transport 4 10.0.1.1 10.0.1.2 0xe01 0xe02 40700 4970
policy_pair transport 10.0.1.1 10.0.1.2 10.0.1.1 10.0.1.2 proto icmp
cli ping -f -w 8 10.0.1.2 >/dev/null 2>&1 &
flood=$!
n=0 end=$(($(date +%s) + 6))
while [ "$(date +%s)" -lt "$end" ]; do
	n=$((n + 1))
	case $((n % 4)) in
	0) cli ip xfrm state delete src 10.0.1.1 dst 10.0.1.2 proto esp spi 0xe01 2>/dev/null || true ;;
	1) sa cli transport 4 10.0.1.1 10.0.1.2 0xe01 40700 4970 2>/dev/null || true ;;
	2) cli ip xfrm state update src 10.0.1.1 dst 10.0.1.2 proto esp spi 0xe01 \
		reqid 1 mode transport $AEAD encap espintcp 40700 4970 0.0.0.0 2>/dev/null || true ;;
	3) cli ip xfrm state update src 10.0.1.1 dst 10.0.1.2 proto esp spi 0xe01 \
		reqid 1 mode transport $AEAD encap espinudp 40700 4970 0.0.0.0 2>/dev/null || true ;;
	esac
done
wait "$flood" || true
ok "fuzz: $n state adds, updates and deletes under a ping flood"
check_eq "fuzz: no UDP or ESP left the TCP connection meanwhile" 0 "$(leaked)"

# --- the connection closed under traffic, then the namespaces deleted -------
sa cli transport 4 10.0.1.1 10.0.1.2 0xe01 40700 4970 2>/dev/null || true
cli ping -f -w 4 10.0.1.2 >/dev/null 2>&1 &
sleep 1
peer_stop
sleep 1
topo_down
wait || true
ok "fuzz: connection closed, then namespaces deleted, under traffic"

# --- as uid 65534, in namespaces of its own: states and traffic end with ----
# the netns, again and again. Any user can do this (a user namespace gives
# CAP_NET_ADMIN over a netns of its own); a TCP state that outlived its
# netns once made the destructor write into the netns's freed memory
# (spi.c). Each netns exits with a TCP state, its policy's bundles and
# pings in flight, and (one in 4) an espintcp connection that carries ESP.
nobody=65534
t="fuzz: uid $nobody in namespaces of its own (unshare -Urn)"
churn='ip link set lo up &&
ip xfrm state add src 127.0.0.1 dst 127.0.0.1 proto esp spi 0xd1 reqid 1 \
	mode transport aead "rfc4106(gcm(aes))" '"$KEY"' 128 \
	encap espintcp 40800 4980 0.0.0.0 &&
ip xfrm policy add src 127.0.0.1 dst 127.0.0.1 proto icmp dir out \
	tmpl src 127.0.0.1 dst 127.0.0.1 proto esp reqid 1 mode transport &&
{ ping -c 3 -i 0.1 -W 1 127.0.0.1 > /dev/null 2>&1 & } &&
test "$(awk '\''$1 == "tcp_states" { print $2 }'\'' /proc/net/espintcp)" = 1'
if ! /tests/bin/run_as $nobody unshare -Urn true 2>/dev/null; then
	skip "$t" "uid $nobody cannot make a user namespace here"
else
	n=0 bad=0
	end=$(($(date +%s) + 8))
	while [ "$(date +%s)" -lt "$end" ]; do
		n=$((n + 1))
		if [ $((n % 4)) = 0 ]; then
			/tests/bin/run_as $nobody unshare -Urn /tests/bin/rx_context self \
				> /dev/null 2>&1 || bad=$((bad + 1))
		else
			# /bin/sh (dash): busybox's unshare would run its own
			# sh for "sh", whose ip has no xfrm
			/tests/bin/run_as $nobody unshare -Urn /bin/sh -c "$churn" \
				> /dev/null 2>&1 || bad=$((bad + 1))
		fi
	done
	check_eq "$t: $n namespaces, each with its TCP state and traffic, then gone" \
		"0 failed" "$bad failed"
fi

# --- modprobe and rmmod in a loop, with sockets setting the ULP -------------
topo_up
i=0 loaded=0
end=$(($(date +%s) + 4))
/tests/bin/ulp_race 4 >/dev/null 2>&1 &
while [ "$(date +%s)" -lt "$end" ]; do
	i=$((i + 1))
	modprobe espintcp 2>/dev/null && loaded=$((loaded + 1))
	rmmod espintcp 2>/dev/null || true
done
wait || true
check "fuzz: $i modprobe/rmmod rounds ($loaded loads) under setsockopt(TCP_ULP)" \
	test "$loaded" -gt 0
topo_down

check "fuzz: the module unloads: nothing holds it" unloaded
check_poll "fuzz: every TCP socket freed (sockstat alloc $base)" "$base" tcp_alloc
echo "# skbuff_head_cache active objects: $skb0 before, $(skbs) after (SLUB's count is approximate)"
exit 0
