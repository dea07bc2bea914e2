#!/bin/sh
# Nothing holds on to the module while its init can still fail: with
# test_fail_init=1 the module registers its ULP and ESP type, then fails.
# Meanwhile an unprivileged user sets the ULP on sockets in a loop and root
# adds encap espintcp states in a loop. None of them may succeed, the
# module must be gone afterwards, and the kernel log stays clean (checked
# after every script).
set -eu
. /tests/guest/lib/netns.sh
. /tests/guest/lib/esp.sh

[ ! -d /sys/module/espintcp ] || rmmod_wait
modprobe esp4
modprobe xfrm_user
topo_up

# the racers go on until modprobe has returned (a debug kernel takes
# seconds to get there), at most a minute
rm -f /tmp/race.stop
/tests/bin/ulp_race 60 /tmp/race.stop > /tmp/race.out 2>&1 &
ulp=$!
poll_until grep -q ready /tmp/race.out || true
(
	ok=0 eagain=0 spi=4096
	end=$(($(date +%s) + 60))
	while [ "$(date +%s)" -lt "$end" ] && [ ! -e /tmp/race.stop ]; do
		spi=$((spi + 1))
		if out=$(ip -n cli xfrm state add src 10.0.1.1 dst 10.0.1.2 proto esp \
			spi "$spi" mode transport $AEAD encap espintcp 40000 4500 0.0.0.0 2>&1); then
			ok=$((ok + 1))
		else
			case $out in *"still loading"*) eagain=$((eagain + 1)) ;; esac
		fi
	done
	echo "ok $ok eagain $eagain"
) > /tmp/states.out 2>&1 &
states=$!

sleep 0.5
check "modprobe espintcp test_fail_init=1 fails" \
	sh -c '! modprobe espintcp test_fail_init=1'
touch /tmp/race.stop
wait "$ulp" "$states" || true

ulp_ok=$(sed -n 's/^ok \([0-9]*\) eagain \([0-9]*\).*/\1 \2/p' /tmp/race.out)
check_eq "no setsockopt(TCP_ULP) succeeded against the failing module" 0 "${ulp_ok% *}"
check "setsockopt(TCP_ULP) did race the load: EAGAIN seen ($(tail -n 1 /tmp/race.out))" \
	test "${ulp_ok#* }" -gt 0
st=$(sed -n 's/^ok \([0-9]*\) eagain \([0-9]*\)$/\1 \2/p' /tmp/states.out)
check_eq "no encap espintcp state added while the module failed" 0 "${st% *}"
check "state adds did race the load: EAGAIN seen ($(cat /tmp/states.out))" \
	test "${st#* }" -gt 0
check_eq "no state left" 0 "$(cli ip xfrm state | grep -c '^src' || true)"
check "the module is gone" sh -c '! [ -d /sys/module/espintcp ]'
check "dmesg says why init failed" sh -c 'dmesg | grep -q "failing init, as test_fail_init asks"'

check "then it loads" modprobe espintcp
check "and unloads" rmmod espintcp
topo_down
exit 0
