#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# pkg-check.sh - test installation and packaging of shmdev (TAP).
#
# On this machine, for each bookworm kernel of the matrix (lib.sh's
# KERNEL_MATRIX, or the entries $KERNELS names):
#   - the versions of VERSION, dkms.conf, debian/changelog agree, and
#     dkms.conf's kernel range starts at 6.1;
#   - make dkms-install installs exactly the module sources, dkms build and
#     dkms install work for every kernel, the module carries VERSION, and
#     make dkms-uninstall (dkms remove --all) leaves nothing behind;
#   - make install DESTDIR=... installs the expected file list, a program
#     built with `pkg-config --cflags --libs libshmdev` against it links and
#     runs, make uninstall removes every file;
#   - make deb builds shmdev-dkms, libshmdev1, libshmdev-dev, shmdev-utils,
#     python3-shmdev, lintian reports no error;
#   - the packages install with dpkg into a fresh Debian bookworm chroot
#     (debootstrap, cached as a tarball under $SHMDEV_CACHE/chroot) that has
#     dkms and the 6.1 headers: shmdev-ctl runs, a program builds with
#     pkg-config, shmdev-dkms's postinst builds and installs the module with
#     DKMS and creates the group, python3-shmdev imports, "pip install
#     ./python" works in a venv; purging them leaves nothing behind.
# For each kernel of sid and experimental, in the sid chroot (lib-sid.sh):
# make dkms-install builds and installs the module with DKMS against the
# kernel's headers, and make dkms-uninstall removes it again.
# In a QEMU VM per kernel (scripts/vm/pkg-check.sh): the DKMS-built module
# loads with modprobe from the installed module tree (depmod, modprobe.d
# example options, modules-load.d), the udev rule's GROUP/MODE applied to
# /dev/shmdev let a member of group shmdev use it and keep others out, and
# shmdev-ctl of the packages works there.
#
# Prints TAP; exits 1 if a test failed. Must run as root (it installs
# packages, uses DKMS and chroot); everything it adds to the system is
# removed again, also when a test fails.
#
# Environment: KERNELS, SHMDEV_CACHE, SHMDEV_BUILD, VM_TIMEOUT as for
# vm-check.sh; PKG_CHECK_VM=0 skips the VM part, PKG_CHECK_CHROOT=0 the
# chroot part.
set -euo pipefail

PROG="pkg-check"
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib-quickstart.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-quickstart.sh"

ROOT=$SHMDEV_ROOT
WORK=$SHMDEV_BUILD/pkg-check
SID_KVERS=()
VERSION=$(cat "$ROOT/VERSION")
CHROOT_SUITE=bookworm
CHROOT_MIRROR=${CHROOT_MIRROR:-http://deb.debian.org/debian}
HOST_PACKAGES=(dkms dh-dkms debhelper dpkg-dev fakeroot lintian debootstrap e2fsprogs
	dh-python pybuild-plugin-pyproject python3-all python3-setuptools
	pkg-config gcc make libc6-dev kmod xz-utils zstd)
# The VM gets no selftests: nothing of them is tested here.
SELFTESTS_OUT=$WORK/no-selftests

# ---------------------------------------------------------------------------
# TAP

TESTS=0
FAILED=0
FAILED_NAMES=()

# ok NAME STATUS [DIAG...]: one TAP line, diagnostics as comments.
ok() {
	local name=$1 status=$2
	shift 2
	TESTS=$((TESTS + 1))
	if ((status == 0)); then
		echo "ok $TESTS - $name"
	else
		echo "not ok $TESTS - $name"
		FAILED=$((FAILED + 1))
		FAILED_NAMES+=("$name")
	fi
	if (($#)); then
		printf '%s\n' "$@" | sed 's/^/# /'
	fi
}

# run_test NAME CMD...: run CMD (a function) in a subshell, output to
# $WORK/logs/NAME.log; the log is shown when it fails.
run_test() {
	local name=$1 log rc=0
	shift
	log=$WORK/logs/$name.log
	mkdir -p "$WORK/logs"
	# A test is a list of checks, each of which must hold: errexit in its
	# subshell. bash ignores errexit throughout a command whose status is
	# tested ("(...) || rc=$?"), so the status is taken with errexit off
	# in this shell instead.
	set +e
	(
		set -e
		trap 'echo "failed: \"$BASH_COMMAND\" (status $?) at ${BASH_SOURCE[0]##*/}:$LINENO"' ERR
		"$@"
	) >"$log" 2>&1
	rc=$?
	set -e
	if ((rc)); then
		ok "$name" 1 "$(tail -n 40 "$log")"
	else
		ok "$name" 0
	fi
	return 0
}

skip() {
	TESTS=$((TESTS + 1))
	echo "ok $TESTS - $1 # SKIP $2"
}

# expect_same WHAT EXPECTED-FILE ACTUAL-FILE: diff, fail if they differ.
expect_same() {
	if ! diff -u "$2" "$3"; then
		echo "$1 differs (- expected, + actual)"
		return 1
	fi
}

# ---------------------------------------------------------------------------
# Cleanup: everything this script may add to the system.

GROUP_EXISTED=1
MOK_EXISTED=1
# Kernels whose module tree had no depmod index before (the headers
# packages make only /lib/modules/KVER/build): the index dkms makes goes.
NO_DEPMOD_INDEX=()
CHROOT_DIR=

chroot_umount() {
	local dir=$1 m
	[[ -n $dir ]] || return 0
	for m in var/cache/apt/archives proc; do
		if mountpoint -q "$dir/$m" 2>/dev/null; then
			umount "$dir/$m" || umount -l "$dir/$m" || true
		fi
	done
}

# chroot_remove DIR: unmount and delete a chroot, never while anything is
# still mounted below it (a bind mount of the host's apt cache).
chroot_remove() {
	local dir=$1
	[[ -n $dir && -d $dir ]] || return 0
	chroot_umount "$dir"
	if awk -v d="$dir/" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
		log "still mounted below $dir; not removing it"
		return 1
	fi
	rm -rf "$dir"
}

# Removes shmdev from DKMS, /usr/src, the module trees and /etc, as
# make dkms-uninstall does, whatever state a failed run left.
system_cleanup() {
	local kver v
	if [[ -d /var/lib/dkms/shmdev ]] && command -v dkms >/dev/null; then
		for v in /var/lib/dkms/shmdev/*/; do
			v=${v%/}
			v=${v##*/}
			[[ $v == '*' ]] || dkms remove -m shmdev -v "$v" --all >/dev/null 2>&1 || true
		done
	fi
	rm -rf /var/lib/dkms/shmdev /usr/src/shmdev-*
	for kver in "${KVERS[@]}"; do
		if compgen -G "/lib/modules/$kver/updates/dkms/shmdev.ko*" >/dev/null; then
			rm -f "/lib/modules/$kver/updates/dkms/shmdev.ko"*
			depmod -a "$kver" || true
		fi
	done
	for kver in "${NO_DEPMOD_INDEX[@]}"; do
		if [[ ! -d /lib/modules/$kver/kernel && ! -d /lib/modules/$kver/updates ]]; then
			rm -f "/lib/modules/$kver"/modules.*
		fi
	done
	rm -f /etc/udev/rules.d/60-shmdev.rules /etc/modprobe.d/shmdev.conf \
		/etc/modules-load.d/shmdev.conf
	if ((GROUP_EXISTED == 0)) && getent group shmdev >/dev/null; then
		groupdel shmdev || true
	fi
	# dkms 3.0 makes a module signing key on first use; one this run made
	# goes again.
	if ((MOK_EXISTED == 0)); then
		rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub
	fi
}

on_exit() {
	local rc=$?
	chroot_remove "$CHROOT_DIR" || true
	system_cleanup
	exit "$rc"
}

# ---------------------------------------------------------------------------
# Tests on this machine

# A copy of the tree without build output, so that nothing here races
# with in-tree builds.
copy_tree() {
	local dest=$1
	rm -rf "$dest"
	mkdir -p "$dest"
	if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		(cd "$ROOT" && git ls-files -z -c -o --exclude-standard |
			while IFS= read -r -d '' f; do
				[[ $f == build/* || ! -e $f ]] || printf '%s\0' "$f"
			done | tar --null -T - -cf -) | tar -xf - -C "$dest"
	else
		tar -C "$ROOT" --exclude=./build --exclude-vcs -cf - . | tar -xf - -C "$dest"
	fi
}

t_versions_agree() {
	local v
	echo "VERSION: $VERSION"
	[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "VERSION is not X.Y.Z"; return 1; }
	v=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$ROOT/dkms.conf")
	[[ $v == "$VERSION" ]] || { echo "dkms.conf PACKAGE_VERSION=$v"; return 1; }
	v=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
	[[ $v == "$VERSION" ]] || { echo "debian/changelog version $v"; return 1; }
	grep -q 'SHMDEV_VERSION.*VERSION' "$ROOT/module/Kbuild" ||
		{ echo "module/Kbuild does not define SHMDEV_VERSION from VERSION"; return 1; }
	grep -q '^MODULE_VERSION(SHMDEV_VERSION);' "$ROOT"/module/*.c ||
		{ echo "no MODULE_VERSION(SHMDEV_VERSION)"; return 1; }
}

# dkms.conf: module only, no CLEAN, oldest kernel 6.1 (MIN for dkms >= 3.0.11,
# the regular expression for bookworm's 3.0.10).
t_dkms_conf() {
	local k
	(
		set +u
		# shellcheck disable=SC1091
		. "$ROOT/dkms.conf"
		[[ $BUILD_EXCLUSIVE_KERNEL_MIN == 6.1 ]] || { echo "BUILD_EXCLUSIVE_KERNEL_MIN=$BUILD_EXCLUSIVE_KERNEL_MIN"; exit 1; }
		[[ -z ${CLEAN:-} ]] || { echo "CLEAN is set"; exit 1; }
		[[ ${BUILT_MODULE_NAME[0]} == shmdev && ${#BUILT_MODULE_NAME[@]} == 1 ]] ||
			{ echo "builds more than the module"; exit 1; }
		[[ ${MAKE[0]} != *userspace* ]] || { echo "MAKE builds userspace"; exit 1; }
		for k in 6.1.0-56-amd64 6.1.0 6.12.117+deb12-amd64 6.18.44-fc 7.0.0 10.1.2; do
			[[ $k =~ $BUILD_EXCLUSIVE_KERNEL ]] || { echo "regex rejects $k"; exit 1; }
		done
		for k in 5.10.0-30-amd64 6.0.12-1-amd64 4.19.0 3.16.0; do
			[[ ! $k =~ $BUILD_EXCLUSIVE_KERNEL ]] || { echo "regex accepts $k"; exit 1; }
		done
	)
}

# make dkms-install for the first kernel: sources in /usr/src exactly as
# listed, module built and installed, udev rule and group in place.
t_dkms_install() {
	local kver=${KVERS[0]} src=/usr/src/shmdev-$VERSION
	make -C "$WORK/tree" dkms-install KVER="$kver"
	(cd "$src" && find . -type f | sort) >"$WORK/dkms-src.actual"
	{
		printf '%s\n' ./Kbuild ./VERSION ./dkms.conf ./include/uapi/linux/shmdev.h
		(cd "$ROOT" && find module -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' -o -name Kbuild \) |
			sed 's|^|./|')
	} | sort >"$WORK/dkms-src.expected"
	expect_same "/usr/src/shmdev-$VERSION" "$WORK/dkms-src.expected" "$WORK/dkms-src.actual"
	grep -q "^PACKAGE_VERSION=\"$VERSION\"$" "$src/dkms.conf"
	[[ -f /etc/udev/rules.d/60-shmdev.rules ]]
	getent group shmdev
}

# keep_module ROOT KVER KO: keep the module DKMS installed at ROOT/KO
# (KO starts /lib/modules/KVER/) for the VM: its place in the module
# tree as a tar archive, and uncompressed for /init's insmod. Kept outside
# the tree until the VM runs: a `make clean` (kbuild's clean of M=<tree>)
# deletes every *.ko below the tree, build/ included.
keep_module() {
	local root=$1 kver=$2 ko=$3 bin=$WORK/$2/shmdev-ko.bin

	mkdir -p "$WORK/$kver"
	tar -C "$root/lib/modules/$kver" -cf "$WORK/$kver/modtree.tar" \
		"${ko#/lib/modules/"$kver"/}"
	case $ko in
	*.xz) xz -dc "$root$ko" >"$bin" ;;
	*.zst) zstd -qdc "$root$ko" >"$bin" ;;
	*.gz) gzip -dc "$root$ko" >"$bin" ;;
	*) cp "$root$ko" "$bin" ;;
	esac
}

# forget_module KVER: no module of an earlier run is booted in its place.
forget_module() {
	rm -f "$WORK/$1/shmdev-ko.bin" "$WORK/$1/modtree.tar"
}

# dkms build + dkms install for KVER (the first kernel was built by
# dkms-install); the module in updates/dkms carries VERSION and KVER.
t_dkms_build_install() {
	local kver=$1 ko
	forget_module "$kver"
	if [[ $kver != "${KVERS[0]}" ]]; then
		dkms build -m shmdev -v "$VERSION" -k "$kver"
		dkms install -m shmdev -v "$VERSION" -k "$kver"
	fi
	dkms status -m shmdev -v "$VERSION" -k "$kver"
	dkms status -m shmdev -v "$VERSION" -k "$kver" | grep -q ': installed'
	ko=$(compgen -G "/lib/modules/$kver/updates/dkms/shmdev.ko*" | head -n 1)
	[[ -n $ko ]] || { echo "no /lib/modules/$kver/updates/dkms/shmdev.ko*"; return 1; }
	echo "module: $ko"
	[[ $(modinfo -F version "$ko") == "$VERSION" ]] ||
		{ echo "modinfo version: $(modinfo -F version "$ko")"; return 1; }
	[[ $(modinfo -F vermagic "$ko") == "$kver "* ]] ||
		{ echo "vermagic: $(modinfo -F vermagic "$ko")"; return 1; }
	grep -q 'updates/dkms/shmdev.ko' "/lib/modules/$kver/modules.dep"
	keep_module "" "$kver" "$ko"
}

# ---------------------------------------------------------------------------
# DKMS in the sid chroot (lib-sid.sh), for the kernels of sid and
# experimental, whose headers bookworm cannot build against.

# t_sid_dkms KVER: make dkms-install there builds and installs the module
# for KVER, which carries VERSION and KVER's vermagic, and make
# dkms-uninstall leaves nothing of shmdev in the chroot. The module is kept
# for the VM, as t_dkms_build_install keeps its own.
t_sid_dkms() {
	local kver=$1 tree=$WORK/sid-tree ko
	forget_module "$kver"
	copy_tree "$tree"
	sid_run make -C "$tree" dkms-install KVER="$kver"
	sid_run dkms status -m shmdev -v "$VERSION" -k "$kver" | tee "$WORK/sid-dkms-status"
	grep -q ': installed' "$WORK/sid-dkms-status"
	ko=$(cd "$SID_ROOT" && compgen -G "lib/modules/$kver/updates/dkms/shmdev.ko*" | head -n 1)
	[[ -n $ko ]] || { echo "no /lib/modules/$kver/updates/dkms/shmdev.ko* in the chroot"; return 1; }
	echo "module: /$ko"
	[[ $(sid_run modinfo -F version "/$ko") == "$VERSION" ]] ||
		{ echo "modinfo version: $(sid_run modinfo -F version "/$ko")"; return 1; }
	[[ $(sid_run modinfo -F vermagic "/$ko") == "$kver "* ]] ||
		{ echo "vermagic: $(sid_run modinfo -F vermagic "/$ko")"; return 1; }
	keep_module "$SID_ROOT" "$kver" "/$ko"
	sid_run make -C "$tree" dkms-uninstall
	if compgen -G "$SID_ROOT/usr/src/shmdev-*" >/dev/null ||
		[[ -e $SID_ROOT/var/lib/dkms/shmdev ]] ||
		compgen -G "$SID_ROOT/lib/modules/*/updates/dkms/shmdev.ko*" >/dev/null; then
		echo "make dkms-uninstall left shmdev in the chroot"
		return 1
	fi
}

# Nothing of shmdev left in DKMS, /usr/src, the module trees or /etc.
leftovers() {
	local kver found=0 f
	for f in /usr/src/shmdev-* /var/lib/dkms/shmdev /lib/modules/*/updates/dkms/shmdev.ko* \
		/etc/udev/rules.d/60-shmdev.rules /etc/modprobe.d/shmdev.conf \
		/etc/modules-load.d/shmdev.conf; do
		if [[ -e $f ]]; then
			echo "left over: $f"
			found=1
		fi
	done
	for kver in "${KVERS[@]}"; do
		if grep -qs shmdev "/lib/modules/$kver/modules.dep"; then
			echo "left over: shmdev in /lib/modules/$kver/modules.dep"
			found=1
		fi
	done
	if [[ -n $(dkms status -m shmdev 2>/dev/null) ]]; then
		echo "left over: $(dkms status -m shmdev)"
		found=1
	fi
	return "$found"
}

t_dkms_uninstall() {
	make -C "$WORK/tree" dkms-uninstall
	leftovers
}

# The files make install must put under DESTDIR for PREFIX=/usr/local.
expected_install_list() {
	local kver=$1 f
	{
		printf '%s\n' /etc/modprobe.d/shmdev.conf /etc/modules-load.d/shmdev.conf \
			/etc/udev/rules.d/60-shmdev.rules \
			/usr/local/bin/shmdev-ctl \
			/usr/local/include/libshmdev.h /usr/local/include/linux/shmdev.h \
			/usr/local/lib/libshmdev.a /usr/local/lib/libshmdev.so \
			/usr/local/lib/libshmdev.so.1 \
			"/usr/local/lib/libshmdev.so.1.${VERSION#*.}" \
			/usr/local/lib/pkgconfig/libshmdev.pc
		if grep -q '^CONFIG_MODULE_COMPRESS_XZ=y' "/usr/src/linux-headers-$kver/.config"; then
			echo "/lib/modules/$kver/updates/module/shmdev.ko.xz"
		else
			echo "/lib/modules/$kver/updates/module/shmdev.ko"
		fi
		for f in "$ROOT"/userspace/include/libshmdev/*.h; do
			[[ -e $f ]] && echo "/usr/local/include/libshmdev/${f##*/}"
		done
		for f in "$ROOT"/userspace/man/*.[137]; do
			[[ -e $f ]] && echo "/usr/local/share/man/man${f##*.}/${f##*/}"
		done
	} | sort
}

t_make_install() {
	local kver=${KVERS[0]} dest=$WORK/destdir
	rm -rf "$dest"
	make -C "$WORK/tree" install DESTDIR="$dest" KDIR="/lib/modules/$kver/build"
	expected_install_list "$kver" >"$WORK/install.expected"
	(cd "$dest" && find . ! -type d | sed 's|^\.||' | sort) >"$WORK/install.actual"
	expect_same "make install file list" "$WORK/install.expected" "$WORK/install.actual"
	[[ $(stat -c %a "$dest/usr/local/bin/shmdev-ctl") == 755 ]]
	[[ $(modinfo -F version "$dest/lib/modules/$kver/updates/module/"shmdev.ko*) == "$VERSION" ]]
	# Nothing was installed into the system itself.
	[[ ! -e /lib/modules/$kver/updates/module/shmdev.ko && ! -e /lib/modules/$kver/updates/module/shmdev.ko.xz ]]
}

# A program built against the installed library with pkg-config.
t_pkg_config_program() {
	local dest=$WORK/destdir lib=$WORK/destdir/usr/local/lib cflags libs out
	export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
	cflags=$(pkg-config --cflags libshmdev)
	libs=$(pkg-config --libs libshmdev)
	[[ $(pkg-config --modversion libshmdev) == "$VERSION" ]]
	echo "cflags: $cflags libs: $libs"
	cat >"$WORK/pc-test.c" <<-'EOF'
		#include <stdio.h>
		#include <string.h>
		#include <libshmdev.h>
		#include <linux/shmdev.h>

		int main(void)
		{
			printf("%s %d\n", shmdev_lib_version(), SHMDEV_NAME_MAX > 0);
			return 0;
		}
	EOF
	# shellcheck disable=SC2086
	gcc -Wall -Werror -o "$WORK/pc-test" "$WORK/pc-test.c" $cflags $libs
	out=$(LD_LIBRARY_PATH=$lib "$WORK/pc-test")
	echo "pc-test: $out"
	[[ $out == "$VERSION 1" ]]
	# The program needs the library under its SONAME, nothing else.
	readelf -d "$WORK/pc-test" | grep -q 'NEEDED.*\[libshmdev\.so\.1\]'
	# shellcheck disable=SC2086
	gcc -static -o "$WORK/pc-test-static" "$WORK/pc-test.c" $cflags \
		$(pkg-config --libs --static libshmdev | tr -d '\n')
	[[ $("$WORK/pc-test-static") == "$VERSION 1" ]]
	out=$(LD_LIBRARY_PATH=$lib "$dest/usr/local/bin/shmdev-ctl" --version)
	echo "shmdev-ctl --version: $out"
	[[ $out == *"$VERSION"* ]]
}

t_make_uninstall() {
	local kver=${KVERS[0]} dest=$WORK/destdir left
	make -C "$WORK/tree" uninstall DESTDIR="$dest" KDIR="/lib/modules/$kver/build"
	left=$(cd "$dest" && find . ! -type d)
	[[ -z $left ]] || { echo "left after make uninstall:"; echo "$left"; return 1; }
}

# The Quick start's install-userspace, for real (no DESTDIR): shmdev-ctl
# must start without LD_LIBRARY_PATH, which needs the ldconfig the install
# runs; uninstalling takes the library out of the linker's cache again.
t_install_userspace_live() {
	local out rc=0
	make -C "$WORK/tree" install-userspace
	out=$(env -u LD_LIBRARY_PATH /usr/local/bin/shmdev-ctl --version) || rc=1
	echo "shmdev-ctl --version: $out"
	[[ $out == *"$VERSION"* ]] || rc=1
	make -C "$WORK/tree" uninstall-userspace || rc=1
	if /sbin/ldconfig -p | grep -q 'libshmdev\.so\.1 '; then
		echo "libshmdev.so.1 still in the linker's cache"
		rc=1
	fi
	return $rc
}

DEBS=()
t_make_deb() {
	local pkg deb
	SHMDEV_BUILD=$WORK make -C "$ROOT" deb
	for pkg in shmdev-dkms libshmdev1 libshmdev-dev shmdev-utils python3-shmdev; do
		deb=$(compgen -G "$WORK/deb/${pkg}_${VERSION}_*.deb")
		[[ -n $deb ]] || { echo "no ${pkg}_${VERSION}_*.deb"; return 1; }
		echo "$deb"
		dpkg-deb -c "$deb" | awk '{print "  " $6}'
	done
	# lintian ran in make deb (fails on errors); show what it said.
	echo "lintian:"
	cat "$WORK/deb/lintian.txt"
}

# ---------------------------------------------------------------------------
# The Debian chroot: debootstrap minbase with dkms, pkg-config and the
# headers of the first kernel, made once and cached as a tarball.

# What the chroot gets besides debootstrap's minbase: what shmdev-dkms
# needs to build the module, and what libshmdev-dev's users need.
chroot_packages() {
	printf '%s\n' adduser dkms pkg-config libc6-dev python3 python3-venv \
		python3-wheel-whl "linux-headers-$1"
}

# The cache file for kernel KVER; its name changes with the package list.
chroot_tarball() {
	local sum
	sum=$(chroot_packages "$1" | md5sum | cut -c1-8)
	printf '%s\n' "$SHMDEV_CACHE/chroot/$CHROOT_SUITE-dkms-$1-$sum.tar.zst"
}

make_chroot_tarball() {
	local kver=$1 tarball dir
	tarball=$(chroot_tarball "$kver")
	if [[ -s $tarball ]]; then
		log "cached: $tarball"
		return
	fi
	mkdir -p "$SHMDEV_CACHE/chroot"
	# Chroots of earlier kernels or package lists are of no more use.
	find "$SHMDEV_CACHE/chroot" -maxdepth 1 -name "$CHROOT_SUITE-dkms-*.tar.zst" -delete
	dir=$(mktemp -d "$SHMDEV_CACHE/chroot/tmp.XXXXXX")
	# This runs in a subshell (run_test): clean up here on any exit.
	# shellcheck disable=SC2064
	trap "chroot_remove '$dir'" EXIT
	log "debootstrap $CHROOT_SUITE into $dir (once; cached as $tarball)"
	# The host's apt cache spares downloads of what it already has.
	debootstrap --variant=minbase --include=adduser \
		--cache-dir=/var/cache/apt/archives \
		"$CHROOT_SUITE" "$dir" "$CHROOT_MIRROR" >"$WORK/logs/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$WORK/logs/debootstrap.log" >&2; return 1; }
	# The kernel headers come from the same suites as the host's (security).
	rm -f "$dir/etc/apt/sources.list"
	cp /etc/apt/sources.list.d/debian.sources "$dir/etc/apt/sources.list.d/" 2>/dev/null ||
		printf 'deb %s %s main\n' "$CHROOT_MIRROR" "$CHROOT_SUITE" >"$dir/etc/apt/sources.list"
	# shellcheck disable=SC2046
	INITRD=No chroot_apt_install "$dir" "$WORK/logs/debootstrap.log" \
		$(chroot_packages "$kver")
	rm -rf "$dir"/var/lib/apt/lists/*
	chroot_pack "$dir" "$tarball"
}

# chroot_apt_install DIR LOG PACKAGE...: apt-get install in the chroot DIR
# (its own package lists, the host's download cache), output to LOG.
chroot_apt_install() {
	local dir=$1 log=$2
	shift 2
	mount -t proc proc "$dir/proc"
	mount --bind /var/cache/apt/archives "$dir/var/cache/apt/archives"
	chroot "$dir" apt-get update -q >>"$log" 2>&1
	DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -q \
		--no-install-recommends "$@" >>"$log" 2>&1 ||
		{ tail -n 30 "$log" >&2; return 1; }
}

# chroot_pack DIR TARBALL: the chroot DIR, unmounted, into the cache.
chroot_pack() {
	local dir=$1 tarball=$2
	chroot_umount "$dir"
	rm -f "$dir"/var/cache/apt/*.bin
	tar -C "$dir" --zstd -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
	log "cached: $tarball ($(du -h "$tarball" | cut -f1))"
}

t_chroot_install() {
	local kver=${KVERS[0]} dir=$WORK/chroot
	chroot_remove "$dir"
	mkdir -p "$dir"
	tar -C "$dir" --zstd -xf "$(chroot_tarball "$kver")"
	mount -t proc proc "$dir/proc"
	mkdir -p "$dir/tmp/debs"
	cp "${DEBS[@]}" "$dir/tmp/debs/"
	(cd "$dir/tmp/debs" && ls)
	chroot "$dir" sh -c 'dpkg -i /tmp/debs/*.deb'
	chroot "$dir" dpkg -s shmdev-dkms libshmdev1 libshmdev-dev shmdev-utils python3-shmdev | grep -E '^(Package|Status|Version):'
}

t_chroot_utils() {
	local dir=$WORK/chroot out
	out=$(chroot "$dir" shmdev-ctl --version)
	echo "shmdev-ctl --version: $out"
	[[ $out == *"$VERSION"* ]]
	# No device in the chroot: an operation fails cleanly, no crash.
	if chroot "$dir" shmdev-ctl list; then
		echo "shmdev-ctl list succeeded without /dev/shmdev"
		return 1
	else
		[[ $? == 1 ]]
	fi
}

t_chroot_dev_program() {
	local dir=$WORK/chroot out
	cp "$WORK/pc-test.c" "$dir/tmp/"
	# shellcheck disable=SC2016
	chroot "$dir" sh -c 'gcc -Wall -Werror -o /tmp/pc-test /tmp/pc-test.c $(pkg-config --cflags --libs libshmdev)'
	out=$(chroot "$dir" /tmp/pc-test)
	echo "pc-test: $out"
	[[ $out == "$VERSION 1" ]]
}

# python3-shmdev: the module imports with Debian's python3, finds
# libshmdev.so.1 of libshmdev1, carries VERSION, and says that the device
# is missing (there is none in the chroot).
PY_CHROOT_CHECK='
import shmdev, sys
print(shmdev.__version__, shmdev.lib_version(), shmdev.__file__)
assert shmdev.__version__ == sys.argv[1] and shmdev.lib_version() == sys.argv[1]
try:
    shmdev.Segment.create(None, 4096)
except shmdev.DeviceNotAvailableError as err:
    print("without /dev/shmdev:", err)
else:
    sys.exit("created a segment without /dev/shmdev")
'
t_chroot_python() {
	local dir=$WORK/chroot
	chroot "$dir" python3 -c "$PY_CHROOT_CHECK" "$VERSION"
}

# The README's pip install ./python, in a venv of the chroot's python3,
# offline: setuptools and wheel from Debian's wheel packages (on a machine
# that reaches PyPI, a plain "pip install ./python" fetches them there).
t_chroot_pip_install() {
	local dir=$WORK/chroot
	rm -rf "$dir/tmp/python-src"
	cp -a "$ROOT/python" "$dir/tmp/python-src"
	chroot "$dir" python3 -m venv /tmp/venv
	chroot "$dir" /tmp/venv/bin/pip install -q --no-index \
		--find-links /usr/share/python-wheels /tmp/python-src
	chroot "$dir" /tmp/venv/bin/python -c "$PY_CHROOT_CHECK" "$VERSION" |
		tee "$WORK/logs/pip-install.log"
	grep -q "/tmp/venv/lib/python3.*/site-packages/shmdev/__init__.py" \
		"$WORK/logs/pip-install.log"
	chroot "$dir" /tmp/venv/bin/pip uninstall -y -q shmdev
	rm -rf "$dir/tmp/venv" "$dir/tmp/python-src"
}

t_chroot_dkms_postinst() {
	local kver=${KVERS[0]} dir=$WORK/chroot ko
	chroot "$dir" getent group shmdev
	[[ -f $dir/lib/udev/rules.d/60-shmdev.rules ]]
	chroot "$dir" dkms status
	chroot "$dir" dkms status -m shmdev -v "$VERSION" -k "$kver" | grep -q ': installed'
	ko=$(compgen -G "$dir/lib/modules/$kver/updates/dkms/shmdev.ko*" | head -n 1)
	[[ -n $ko ]] || { echo "no shmdev.ko in the chroot's /lib/modules/$kver/updates/dkms"; return 1; }
	[[ $(modinfo -F version "$ko") == "$VERSION" ]]
}

t_chroot_purge() {
	local dir=$WORK/chroot f found=0
	chroot "$dir" dpkg --purge python3-shmdev shmdev-utils libshmdev-dev \
		libshmdev1 shmdev-dkms
	for f in "$dir"/usr/src/shmdev-* "$dir"/var/lib/dkms/shmdev \
		"$dir"/lib/modules/*/updates/dkms/shmdev.ko* \
		"$dir"/lib/udev/rules.d/60-shmdev.rules "$dir"/etc/modprobe.d/shmdev.conf \
		"$dir"/etc/modules-load.d/shmdev.conf "$dir"/usr/bin/shmdev-ctl \
		"$dir"/usr/lib/*/libshmdev* "$dir"/usr/include/libshmdev.h \
		"$dir"/usr/lib/python3/dist-packages/shmdev*; do
		if [[ -e $f ]]; then
			echo "left over: ${f#"$dir"}"
			found=1
		fi
	done
	return "$found"
}

# ---------------------------------------------------------------------------
# The VM: scripts/vm/pkg-check.sh with the DKMS-installed module tree, the
# udev rule, modprobe.d and modules-load.d files, kmod, and the contents of
# the libshmdev1 and shmdev-utils packages.

VM_TAP=()
run_pkg_vm() {
	local kver=$1 work debroot=$WORK/debroot deb kind text
	local status='' problems=() line

	work=$WORK/$kver/vm
	rm -rf "$work/modtree"
	mkdir -p "$work/modtree"
	tar -C "$work/modtree" -xf "$WORK/$kver/modtree.tar"
	cp "$WORK/$kver/shmdev-ko.bin" "$work/shmdev.ko"
	rm -rf "$debroot"
	mkdir -p "$debroot"
	for deb in "$WORK"/deb/libshmdev1_*.deb "$WORK"/deb/shmdev-utils_*.deb; do
		dpkg-deb -x "$deb" "$debroot"
	done
	printf '%s\n' "$VERSION" >"$WORK/version"

	# The /shmdev.ko that /init loads is the DKMS-built one (see
	# t_dkms_build_install); the payload unloads it and uses modprobe.
	module_path() { printf '%s\n' "$WORK/$1/vm/shmdev.ko"; }
	run_vm "$kver" "$work" "$SHMDEV_SCRIPTS/vm/pkg-check.sh" \
		"$work/modtree/updates:/lib/modules/$kver/updates" \
		"$ROOT/packaging/udev/60-shmdev.rules:/etc/udev/rules.d/60-shmdev.rules" \
		"$ROOT/packaging/modprobe.d/shmdev.conf:/etc/modprobe.d/shmdev.conf" \
		"$ROOT/packaging/modules-load.d/shmdev.conf:/etc/modules-load.d/shmdev.conf" \
		"$(command -v kmod):/usr/local/sbin/kmod" \
		"$debroot:/pkgroot" \
		"$WORK/version:/etc/shmdev-version"

	VM_TAP=()
	while IFS= read -r line; do
		VM_TAP+=("$line")
	done < <(console_output "$work/console.log" "$VM_NONCE")
	while read -r kind text; do
		case $kind in
		STATUS) [[ $text != payload\ * ]] || status=${text#payload } ;;
		PROBLEM | DMESG) problems+=("$kind $text") ;;
		esac
	done < <(parse_console "$work/console.log" "$VM_NONCE" "")
	if ((VM_STATUS != 0)); then
		problems+=("QEMU exited with status $VM_STATUS")
	fi
	[[ -n $status ]] || problems+=("the payload did not run (console log: $work/console.log)")
	VM_PROBLEMS=("${problems[@]}")
	VM_PAYLOAD_STATUS=${status:-none}
}

report_vm() {
	local kver=$1 line n=0 name
	for line in "${VM_TAP[@]}"; do
		if [[ $line =~ ^(not )?ok\ [0-9]+\ -\ (.*)$ ]]; then
			name="vm $kver: ${BASH_REMATCH[2]}"
			if [[ -n ${BASH_REMATCH[1]} ]]; then ok "$name" 1; else ok "$name" 0; fi
			n=$((n + 1))
		elif [[ $line == '#'* ]]; then
			echo "$line"
		fi
	done
	if ((${#VM_PROBLEMS[@]})) || [[ $VM_PAYLOAD_STATUS != 0 ]] || ((n == 0)); then
		ok "vm $kver: payload finished cleanly" 1 "payload status: $VM_PAYLOAD_STATUS" \
			"${VM_PROBLEMS[@]}" "console log: $WORK/$kver/vm/console.log"
	else
		ok "vm $kver: payload finished cleanly" 0
	fi
}

# ---------------------------------------------------------------------------

main() {
	local kver start=$EPOCHREALTIME
	require_root
	[[ -n $VERSION ]] || die "VERSION is empty"

	phase_begin "resolve kernels"
	resolve_kernels
	# Debian's packages are tested for this host's architecture only
	# (vm-check.sh passes no other entries).
	mapfile -t KVERS < <(for kver in "${KVERS[@]}"; do
		kernel_foreign "$kver" || echo "$kver"
	done)
	# This host's DKMS builds for bookworm's kernels; sid's and
	# experimental's are built in the sid chroot.
	mapfile -t SID_KVERS < <(sid_kvers)
	mapfile -t KVERS < <(host_kvers)
	NO_HOST_KERNEL="no bookworm kernel among KERNELS: the host's DKMS, make install and the bookworm chroot need one"
	phase_end
	mkdir -p "$WORK/logs"

	phase_begin "host packages"
	ensure_packages "${HOST_PACKAGES[@]}" "${KVERS[@]/#/linux-headers-}"
	phase_end
	if [[ ${PKG_CHECK_VM:-1} != 0 ]]; then
		prepare_host
		for kver in "${SID_KVERS[@]}"; do
			fetch_kernel "$kver"
		done
	fi

	getent group shmdev >/dev/null || GROUP_EXISTED=0
	[[ -e /var/lib/dkms/mok.key ]] || MOK_EXISTED=0
	for kver in "${KVERS[@]}"; do
		[[ -e /lib/modules/$kver/modules.dep ]] || NO_DEPMOD_INDEX+=("$kver")
	done
	trap on_exit EXIT
	trap 'exit 130' INT TERM
	if ! leftovers >/dev/null; then
		log "removing shmdev left in the system by an earlier run"
		system_cleanup
	fi

	echo "TAP version 13"
	phase_begin "host tests"
	copy_tree "$WORK/tree"
	run_test versions_agree t_versions_agree
	run_test dkms_conf_module_only_kernel_min_6_1 t_dkms_conf
	if ((${#KVERS[@]})); then
		run_test dkms_install_sources_and_first_kernel t_dkms_install
		for kver in "${KVERS[@]}"; do
			run_test "dkms_build_install_$kver" t_dkms_build_install "$kver"
		done
		run_test dkms_uninstall_leaves_nothing t_dkms_uninstall
		run_test make_install_destdir_file_list t_make_install
		run_test pkg_config_program_links_and_runs t_pkg_config_program
		run_test make_uninstall_removes_all t_make_uninstall
		run_test install_userspace_runs_without_ld_library_path \
			t_install_userspace_live
	else
		skip host_dkms_and_make_install "$NO_HOST_KERNEL"
	fi
	phase_end

	if ((${#SID_KVERS[@]})); then
		phase_begin "DKMS in the sid chroot"
		sid_chroot_prepare
		sid_ensure_packages dkms "${SID_KVERS[@]/#/linux-headers-}"
		for kver in "${SID_KVERS[@]}"; do
			run_test "sid_chroot_dkms_build_install_uninstall_$kver" t_sid_dkms "$kver"
		done
		phase_end
	fi

	phase_begin "make deb + lintian"
	run_test make_deb_five_packages_lintian_clean t_make_deb
	phase_end
	mapfile -t DEBS < <(for p in shmdev-dkms libshmdev1 libshmdev-dev shmdev-utils python3-shmdev; do
		compgen -G "$WORK/deb/${p}_${VERSION}_*.deb" || true; done)

	if [[ ${PKG_CHECK_CHROOT:-1} == 0 ]]; then
		skip deb_install_in_chroot "PKG_CHECK_CHROOT=0"
	elif ((${#KVERS[@]} == 0)); then
		skip deb_install_in_chroot "$NO_HOST_KERNEL"
	elif ((${#DEBS[@]} != 5)); then
		skip deb_install_in_chroot "the packages were not built"
	else
		phase_begin "Debian chroot"
		run_test "chroot_prepare_${CHROOT_SUITE}_dkms_${KVERS[0]}" make_chroot_tarball "${KVERS[0]}"
		if [[ -s $(chroot_tarball "${KVERS[0]}") ]]; then
			CHROOT_DIR=$WORK/chroot
			run_test deb_dpkg_install_in_chroot t_chroot_install
			run_test deb_shmdev_ctl_runs_in_chroot t_chroot_utils
			run_test deb_dev_package_builds_program_in_chroot t_chroot_dev_program
			run_test deb_dkms_postinst_builds_module_and_group t_chroot_dkms_postinst
			run_test deb_python3_shmdev_imports_in_chroot t_chroot_python
			run_test pip_install_python_in_chroot_venv t_chroot_pip_install
			run_test deb_purge_leaves_nothing t_chroot_purge
		fi
		chroot_remove "$CHROOT_DIR"
		CHROOT_DIR=
		phase_end
	fi

	if [[ ${PKG_CHECK_QUICKSTART:-1} == 0 ]]; then
		skip quickstart "PKG_CHECK_QUICKSTART=0"
	elif ((${#KVERS[@]} == 0)); then
		skip quickstart "$NO_HOST_KERNEL"
	else
		phase_begin "README Quick start on a booted Debian 12"
		run_test "quickstart_image_${CHROOT_SUITE}_${KVERS[0]}" qs_prepare "${KVERS[0]}"
		if [[ -s $(qs_tarball "${KVERS[0]}") ]]; then
			run_test quickstart_vm_boots_and_powers_off qs_run "${KVERS[0]}"
			qs_report
		fi
		phase_end
	fi

	if [[ ${PKG_CHECK_VM:-1} == 0 ]]; then
		skip vm_modprobe_udev_group "PKG_CHECK_VM=0"
	else
		for kver in "${KVERS[@]}" "${SID_KVERS[@]}"; do
			if [[ ! -s $WORK/$kver/shmdev-ko.bin ]] || ((${#DEBS[@]} != 5)); then
				skip "vm $kver" "no DKMS-built module or packages"
				continue
			fi
			run_pkg_vm "$kver"
			report_vm "$kver"
		done
	fi

	echo "1..$TESTS"
	phase_report
	log "$((TESTS - FAILED)) passed, $FAILED failed in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s"
	if ((FAILED)); then
		log "failed: ${FAILED_NAMES[*]}"
		return 1
	fi
}

main "$@"
