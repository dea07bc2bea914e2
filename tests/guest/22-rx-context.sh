#!/bin/sh
# The context the receive path runs in: tests/guest/rx_context.c, whose
# header says what each part asserts.
#
# 1. As root, between netns cli and srv: recv(MSG_OOB) and urgent data,
#    TCP_ZEROCOPY_RECEIVE and mmap, KCM and sockmap (BPF wants root), and
#    socket locks held by threads stuck in user copies (userfaultfd wants
#    root: vm.unprivileged_userfaultfd is 0).
# 2. Last, as uid 65534 in a user and network namespace of its own
#    (unshare -Urn): ESP from the stream whose inner TCP segment is for the
#    connection that carried it. Where that deadlocks a CPU, the program
#    says so after 10 s and this script reports what the kernel logged.
set -eu
. /tests/guest/lib/netns.sh

bin=/tests/bin
nobody=65534

# an unprivileged user's TCP_ULP cannot load the module; cipher_null and
# KCM are modules too
modprobe espintcp
for m in xfrm_user esp4 esp6 crypto_null authenc kcm; do
	modprobe "$m" 2>/dev/null || echo "# modprobe $m failed"
done

topo_up
$bin/rx_context oob zc taken hold || true
topo_down

lockups='soft lockup|self-detected stall|detected stalls|hung_task|BUG:|deadlock'
t="self-delivery as uid $nobody (unshare -Urn)"
if ! $bin/run_as $nobody unshare -Urn true 2>/dev/null; then
	skip "$t" "uid $nobody cannot make a user namespace here"
else
	rc=0
	timeout 120 $bin/run_as $nobody unshare -Urn $bin/rx_context self || rc=$?
	echo "# $t: exit $rc"
	if [ "$rc" = 3 ]; then
		# a CPU spins with a socket's spinlock held: the soft lockup
		# detector speaks after 20 s, RCU's stall detector after 21
		for _i in $(seq 60); do
			dmesg | grep -qE "$lockups" && break
			sleep 1
		done
	fi
	check_eq "$t: the kernel logged no lockup, stall or BUG" "" \
		"$(dmesg | grep -E "$lockups" | head -n 20)"
fi
exit 0
