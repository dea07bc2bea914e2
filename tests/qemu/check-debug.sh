#!/bin/bash
# make check-debug: the guest suite (tests/guest/[0-9]*.sh) on the debug
# kernel of tests/qemu/debug-kernel.sh (KASAN, KFENCE, kmemleak, lockdep,
# debug objects, UBSAN, SLUB debugging), with espintcp.ko built against
# that kernel's build tree. Builds the kernel on the first run (cached).
# Fails on any report of those checkers in the kernel console, and, through
# tests/guest/99-kmemleak.sh, on a kmemleak leak in espintcp.
# TAP lines "ok N - [debug] desc"; the last line is "N passed, N failed".
#
# Environment: as tests/qemu/lib.sh; QEMU_TIMEOUT defaults to 5400 s here
# and each guest script gets SCRIPT_TIMEOUT (default 1500) seconds: KASAN
# and the rest under TCG are several times slower than Debian's kernel.
# DEBUG_SCRIPTS="20-ulp.sh 60-fuzz.sh ..." runs those guest scripts only
# (99-kmemleak.sh is always run last).
set -eu
user_timeout=${QEMU_TIMEOUT:-}
# shellcheck source-path=SCRIPTDIR source=check.sh
. "$(dirname "$0")/check.sh"	# its functions (result, guest_run) only

QEMU_TIMEOUT=${user_timeout:-5400}
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-1500}
QEMU_MEM=${QEMU_MEM:-2048}
label=debug

# what the debug checkers say that bad_console_line does not catch:
# SLUB's "BUG kmalloc-64 (...): Redzone overwritten", KFENCE, debug
# objects, list corruption, lockdep's INFO lines, kmemleak's own trouble
debug_console_line='^\[ *[0-9]+\.[0-9]+\] .*(BUG [a-z]|KFENCE|ODEBUG|corruption|INFO: |kmemleak: .*(disabled|Cannot|empty|fail))'

t0=$(date +%s)
setup
mkdir -p "$BUILD"
if ! build_tests > "$BUILD/tests.log" 2>&1; then
	result "not ok" "$label" "make tests"
	diag_tail "$BUILD/tests.log" 30
fi

t1=$(date +%s)
if ! image=$("$root/tests/qemu/debug-kernel.sh"); then
	result "not ok" "$label" "build the debug kernel (tests/qemu/debug-kernel.sh)"
	echo "1..$n"
	echo "$passed passed, $failed failed"
	exit 1
fi
kdir=$(dirname "$image")
k=$(cat "$kdir/kernelrelease")
echo "# [$label] kernel $k: $image (this run: $(($(date +%s) - t1))s; built in $(cat "$kdir/build.time" 2>/dev/null || echo '?'))"
dir=$BUILD/qemu/$k
mkdir -p "$dir"

if ! nice -n 19 make -C "$root" KVER="$k" KDIR="$kdir/build" > "$dir/build.log" 2>&1; then
	result "not ok" "$label" "build espintcp.ko against $kdir/build"
	diag_tail "$dir/build.log" 30
	echo "1..$n"
	echo "$passed passed, $failed failed"
	exit 1
fi
result ok "$label" "build espintcp.ko against the debug kernel"
if ! nice -n 19 make -C "$root" test-kmod KVER="$k" KDIR="$kdir/build" > "$dir/kmod.log" 2>&1; then
	result "not ok" "$label" "build the test modules (tests/kmod)"
	diag_tail "$dir/kmod.log" 30
fi
if ! initrd=$(MODROOT=$kdir/modules initramfs "$k" 2> "$dir/initramfs.log"); then
	result "not ok" "$label" "build initramfs"
	diag_tail "$dir/initramfs.log" 30
	echo "1..$n"
	echo "$passed passed, $failed failed"
	exit 1
fi
grep 'mkinitramfs:' "$dir/initramfs.log" | sed 's/^/# /' || true

# KVM, if at all, is probed with a Debian kernel: the debug kernel may
# take longer than the probe allows to panic without an initrd
if [ -z "${QEMU_ACCEL:-}" ]; then
	probe_k=$(matrix | head -n 1)
	if [ -n "$probe_k" ] && [ -f "/boot/vmlinuz-$probe_k" ]; then
		accel_args "$probe_k" > /dev/null
	fi
fi

# in the suite's order, whatever DEBUG_SCRIPTS's: 70-fault.sh may leave
# sockets whose FIN 6.1 lost holding the module, which a later script
# that unloads it first (34-fail-closed.sh) cannot
subset=
if [ -n "${DEBUG_SCRIPTS:-}" ]; then
	subset=$(echo "$DEBUG_SCRIPTS" 99-kmemleak.sh | tr -s ' ' '\n' | sort -u | paste -sd, -)
	echo "# [$label] guest scripts: $(echo "$subset" | tr , ' ')"
	subset="scripts=$subset"
fi

# log_buf_len: 70-fault.sh judges the kernel log itself after each of its
# runs, during which failed allocations fill it with warn_alloc's reports.
# Under TCG this kernel stalls in early boot, from one boot in three to
# three in four, in the RCU-tasks self test (last line "Running RCU-tasks
# wait API self tests"), before the module or anything of the guest has
# run: such a boot is made again (BOOT_TRIES; /init comes at about 25 s).
t2=$(date +%s)
KERNEL_IMAGE=$image QEMU_MEM=$QEMU_MEM BOOT_TRIES=${BOOT_TRIES:-8} \
	BOOT_STALL=${BOOT_STALL:-60} \
	BOOT_ARGS="script_timeout=$SCRIPT_TIMEOUT log_buf_len=16M $subset ${BOOT_ARGS:-}" \
	guest_run "$k" "$initrd" test "$label" "$dir/console.log" "$t0"
echo "# [$label] guest suite wall time under the debug kernel: $(($(date +%s) - t2))s (accel ${QEMU_ACCEL:-?}, QEMU_TIMEOUT ${QEMU_TIMEOUT}s)"

if grep -aE "$debug_console_line" "$dir/console.log" | grep -aqvE "$benign_console_line"; then
	result "not ok" "$label" "kernel console free of SLUB/KFENCE/ODEBUG/lockdep reports"
	grep -aE -B2 -A20 "$debug_console_line" "$dir/console.log" | head -n 80 | tr -d '\r' | sed 's/^/#   /'
else
	result ok "$label" "kernel console free of SLUB/KFENCE/ODEBUG/lockdep reports"
fi
if grep -aq espintcp "$dir/console.log" && console_trouble "$dir/console.log" | grep -aq espintcp; then
	echo "# [$label] a report in the console names espintcp: see $dir/console.log"
fi

echo "# [$label] total: $(($(date +%s) - t0))s"
echo "1..$n"
[ "$skipped" = 0 ] || echo "# $skipped skipped (not counted as passed)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$n" -gt 0 ]
