#!/bin/sh
# checkpatch --strict on the module's sources, sparse (C=2) builds for
# every kernel of the matrix, and shellcheck (warnings) on the scripts.
# checkpatch comes from Debian's linux-source package, which this installs
# when it is missing.
set -eu
cd "$(dirname "$0")/.."

cp=/usr/src/linux-source-6.1/scripts/checkpatch.pl
if [ ! -x "$cp" ]; then
	tarball=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)
	if [ -z "$tarball" ]; then
		apt-get install -y -qq linux-source-6.1 >/dev/null
		tarball=/usr/src/linux-source-6.1.tar.xz
	fi
	tar -C /usr/src -xf "$tarball" linux-source-6.1/scripts \
		linux-source-6.1/.clang-format 2>/dev/null ||
		tar -C /usr/src -xf "$tarball" linux-source-6.1/scripts
fi
command -v sparse >/dev/null || apt-get install -y -qq sparse >/dev/null
command -v shellcheck >/dev/null || apt-get install -y -qq shellcheck >/dev/null

# CONST_STRUCT: the per-family proto_ops are copies built at run time.
rc=0
"$cp" --strict --no-tree --terse --show-types \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG,CONST_STRUCT \
	-f src/*.c include/*.h tests/kmod/*.c || rc=1

# the guest scripts are POSIX sh (busybox); the host ones are bash
shellcheck -S warning -s sh -x -P tests tests/netns.sh tests/esp.sh \
	tests/guest/*.sh tests/interop/run.sh || rc=1
shellcheck -S warning -x -P SCRIPTDIR scripts/*.sh tests/pkg.sh \
	tests/qemu/*.sh || rc=1

[ -f scripts/.matrix ] || scripts/setup.sh
while read -r kver; do
	out=$(make --no-print-directory KVER="$kver" C=2 W=1 2>&1) || rc=1
	echo "$out" | grep -E 'warning|error' && rc=1
	echo "sparse/W=1 $kver: done"
done < scripts/.matrix
exit "$rc"
