#!/bin/sh
# script_timeout: 1500
# Fault injection (the debug kernel's failslab and fail_page_alloc; make
# check-debug). Two parts:
#  1. process context, systematically (tests/guest/fault_nth.c): each
#     system call that reaches the module runs with its 1st, 2nd, 3rd, ...
#     allocation failing (/proc/thread-self/fail-nth), until one run reaches
#     no more; each outcome is a clean error or success, and the socket,
#     state or module works or is cleanly gone afterwards.
#  2. softirq context: every allocation that may not sleep fails with a
#     probability while the fuzzer's reader and stream rounds run (their
#     own byte-for-byte checks hold: the module never drops IKE for want of
#     memory, it retries from its work item, where sleeping allocations do
#     not fail here). 6.1 has no stack filter on x86-64, so the failures
#     are not confined to the module's call sites: TCP's own allocations
#     fail too, as under real memory pressure.
# Kernels without fault injection (Debian's) skip it, saying so.
set -eu
. /tests/guest/lib/netns.sh

dbg=/sys/kernel/debug
[ -d "$dbg/failslab" ] || mount -t debugfs debugfs "$dbg" 2>/dev/null || true
if [ ! -d "$dbg/failslab" ] || [ ! -e /proc/thread-self/fail-nth ]; then
	skip "fault injection into the module's allocations" "this kernel has no CONFIG_FAULT_INJECTION/FAILSLAB (make check-debug's kernel has)"
	exit 0
fi

# set KNOB VALUE: in failslab and in fail_page_alloc
set_both() {
	echo "$2" > "$dbg/failslab/$1"
	echo "$2" > "$dbg/fail_page_alloc/$1"
}
echo 0 > "$dbg/fail_page_alloc/min-order"
echo N > "$dbg/fail_page_alloc/ignore-gfp-highmem"
set_both verbose 0
set_both probability 0
set_both interval 1
set_both times -1

# The kernel reports the page and vmalloc allocations that fail (warn_alloc:
# a header, a stack dump, Mem-Info), and kmemleak that it scans an object
# whole for want of a scan area: expected here, so while failures are
# injected only emergencies reach the console, and this script judges the
# kernel log itself: anything the harness would call trouble, but those
# reports, fails it. fault_log WHAT: judges and empties the log.
bad='WARNING:|BUG:|Oops|refcount_t|lockdep|possible circular|leak|general protection|Call Trace|UBSAN|KASAN'
printk=$(cat /proc/sys/kernel/printk)
fault_log() {
	_found=$(dmesg -c | awk '
		/: (vmalloc error: |page allocation failure: )/ { skip = 1 }
		skip && /<\/TASK>/ { skip = 0; next }
		!skip' | grep -E "$bad" |
		grep -v 'kmemleak: Cannot allocate a scan area' || true)
	if [ -n "$_found" ]; then
		not_ok "kernel log clean but for allocation failure reports ($1)"
		printf '%s\n' "$_found" | head -n 40 | sed 's/^/#   /'
	fi
}
quiet() { echo 1 > /proc/sys/kernel/printk; }
loud() { echo "$printk" > /proc/sys/kernel/printk; }
# whatever ends the script, injection stops and the console is heard again
trap 'set_both probability 0; loud' EXIT INT TERM

ko=$(sed -n 's/^path=//p' /tests/module.expect)
modprobe xfrm_user
[ -d /sys/module/espintcp ] || modprobe espintcp

# --- 1. process context ----------------------------------------------------
# sleeping allocations fail too; only fail-nth injects (probability 0)
set_both ignore-gfp-wait N
ip netns add fault
ip -n fault link set lo up
total=0
for op in ulp send send-large recv poll close state-add state-add-plain \
	state-update state-delete modload; do
	if [ "$op" = modload ]; then
		rmmod_wait || true
		[ ! -d /sys/module/espintcp ] || { not_ok "fault_nth modload: espintcp unloads first (the ops before it left a reference)"; continue; }
	fi
	# tcp_available_ulp, which modload reads, is init_net's alone
	ns="ip netns exec fault"
	[ "$op" != modload ] || ns=
	rc=0
	quiet
	$ns /tests/bin/fault_nth "$op" "$ko" > "/tmp/fault-$op.out" 2>&1 || rc=$?
	loud
	fault_log "fault_nth $op"
	res=$(sed -n 's/^points \([0-9]*\) errors \([0-9]*\)$/\1 \2/p' "/tmp/fault-$op.out")
	points=${res% *}
	if [ "$rc" = 0 ] && [ -n "$res" ]; then
		ok "fault_nth $op: each of its ${points} allocations failed in turn, ${res#* } of them an error to the caller, every outcome clean"
	else
		not_ok "fault_nth $op: every injected failure ends cleanly (exit status $rc)"
		grep -v '^# [0-9]*: ' "/tmp/fault-$op.out" | head -n 20 | sed 's/^/# /'
	fi
	total=$((total + ${points:-0}))
	# the calls whose module code allocates: one point at least
	case $op in
	ulp | send | send-large | state-add | modload)
		check "fault_nth $op reached an allocation (points > 0)" test "${points:-0}" -gt 0 ;;
	esac
done
echo "# fault injection, process context: $total injection points reached"
ip netns del fault
[ -d /sys/module/espintcp ] || modprobe espintcp

# --- 2. softirq context ------------------------------------------------------
# only allocations that may not sleep fail: 1 in 50, counted by "times"
topo_up
set_both ignore-gfp-wait Y
set_both times 1000000
set_both probability 2
quiet
for kind in reader stream; do
	rc=0
	FUZZ_LOSSY=1 /tests/bin/fuzz 0x70fa 10 "$kind" > "/tmp/fault-fuzz-$kind.out" 2>&1 || rc=$?
	sed 's/^\(not \)\{0,1\}ok - /&under failslab and fail_page_alloc: /' "/tmp/fault-fuzz-$kind.out"
	grep -q "^\(not \)\{0,1\}ok - fuzz: .* $kind rounds" "/tmp/fault-fuzz-$kind.out" ||
		not_ok "the fuzzer's $kind rounds under failslab and fail_page_alloc ran to their summary (exit status $rc)"
done
set_both probability 0
loud
fault_log "the fuzzer under failslab and fail_page_alloc"
slab=$((1000000 - $(cat "$dbg/failslab/times")))
page=$((1000000 - $(cat "$dbg/fail_page_alloc/times")))
set_both times -1
echo "# fault injection, softirq and atomic context: $slab slab and $page page allocations failed; srv's counters: $(srv cat /proc/net/espintcp | tr -s ' ' | tr '\n' ' ')"
check "failures were injected while the fuzzer ran (failslab $slab, fail_page_alloc $page)" \
	test "$((slab + page))" -gt 0
# what holds the module, if anything does, before the namespaces go
holders() {
	echo "refcnt $(cat /sys/module/espintcp/refcnt); $(srv cat /proc/net/espintcp | grep tcp_states)"
	for ns in cli srv; do ip netns exec "$ns" ss -tanei | sed "s/^/$ns: /"; done
	grep '^TCP' /proc/net/sockstat
}
# 6.1's tcp_send_fin() allocates atomically and gives up when that fails:
# a closed socket whose FIN was lost stays in LAST-ACK or FIN-WAIT-1 with
# nothing queued and no timer, for ever, and a ULP socket holds the module.
# Those may hold it here (TCP's, upstream's espintcp alike); nothing else.
held=0
if ! poll_until sh -c '[ "$(cat /sys/module/espintcp/refcnt)" = 0 ]'; then
	held=$(cat /sys/module/espintcp/refcnt)
	holders | sed 's/^/# /'
	# srv's ends are the fuzzer's ULP sockets: each orphan there whose
	# FIN was never sent holds one reference, and nothing else may
	orphans=$(srv ss -Htan state last-ack state fin-wait-1 | grep -cE '^(LAST-ACK|FIN-WAIT-1) +0 +0 ' || true)
	check_eq "what holds espintcp ($held references) is exactly srv's sockets whose FIN was lost (LAST-ACK or FIN-WAIT-1, nothing queued), and no TCP state" \
		"$held 0" "$orphans $(srv cat /proc/net/espintcp | awk '$1 == "tcp_states" { print $2 }')"
fi
topo_down
if [ "$held" = 0 ]; then
	check "espintcp unloads after fault injection (nothing holds it)" rmmod_wait
else
	skip "espintcp unloads after fault injection" "$held sockets whose FIN 6.1's TCP could not allocate hold it, for ever (above)"
fi
modprobe espintcp
