#!/bin/sh
# checkpatch --strict on the module's sources, sparse (C=2) builds for
# every kernel of the matrix, and shellcheck (warnings) on the scripts.
# It installs nothing: tests/host/setup.sh does (checkpatch comes from
# Debian's linux-source package).
set -eu
cd "$(dirname "$0")/../.."

cp=/usr/src/linux-source-6.1/scripts/checkpatch.pl
missing=
[ -x "$cp" ] || missing="$missing $cp"
for tool in sparse shellcheck; do
	command -v "$tool" > /dev/null || missing="$missing $tool"
done
[ -s build/matrix ] || missing="$missing build/matrix"
if [ -n "$missing" ]; then
	echo "lint: missing:$missing; run tests/host/setup.sh" >&2
	exit 1
fi

# CONST_STRUCT: the per-family proto_ops are copies built at run time.
rc=0
"$cp" --strict --no-tree --terse --show-types \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG,CONST_STRUCT \
	-f src/*.c include/*.h tests/kmod/*.c || rc=1

# the guest scripts are POSIX sh (busybox); the host ones are bash
shellcheck -S warning -s sh -x -P . tests/guest/lib/*.sh tests/guest/*.sh \
	tests/interop/guest.sh || rc=1
shellcheck -S warning -x -P SCRIPTDIR scripts/*.sh tests/host/*.sh \
	tests/qemu/*.sh tests/interop/interop.sh tests/interop/ref-kernel.sh || rc=1

while read -r kver; do
	out=$(make --no-print-directory KVER="$kver" C=2 W=1 2>&1) || rc=1
	echo "$out" | grep -E 'warning|error' && rc=1
	echo "sparse/W=1 $kver: done"
done < build/matrix
exit "$rc"
