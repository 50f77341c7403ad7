# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian sid chroot of the QEMU test rig, sourced by lib.sh. Nothing
# here runs on its own.
#
# Kernels of sid and experimental cannot be built against on bookworm: their
# kbuild needs glibc >= 2.38 and their headers gcc-16. The rig keeps a
# minimal sid chroot for them, and for the debug kernel (lib-debug.sh):
#
#   sid_chroot_prepare    the chroot, from the cache or debootstrap; its
#                         package lists refreshed once per run
#   sid_run CMD...        CMD inside it, in a private mount namespace
#   sid_ensure_packages   apt-get install inside it what is missing
#   sid_apt ARGS...       apt-get/apt-cache inside it (the archive of sid and
#                         experimental, a private configuration: the host's
#                         sources never name them)
#
# Cache: $SHMDEV_CACHE/sid/root.tar.gz, the chroot as debootstrap made it
# (with the rig's apt configuration), and $SHMDEV_CACHE/sid/root, the
# chroot in use, unpacked from the tarball when it is missing. Packages the
# rig installs later (headers, kernel sources) stay in root/ between runs;
# delete root/ to start again from the tarball, the directory to start again
# from debootstrap.
#
# sid_run bind-mounts $SHMDEV_BUILD and $SHMDEV_CACHE/debug-kernel at the
# same paths inside the chroot, so builds there and on the host name the
# same files; the mounts live in a mount namespace of their own and vanish
# with the command.

SID_DIR=$SHMDEV_CACHE/sid
SID_ROOT=$SID_DIR/root
SID_TARBALL=$SID_DIR/root.tar.gz
SID_MIRROR=${SID_MIRROR:-http://deb.debian.org/debian}
# What every build in the chroot needs: the module build with sparse, and
# the debug kernel's build (lib-debug.sh).
SID_BASE_PACKAGES=(gcc make libc6-dev bc kmod libelf-dev sparse perl bison
	flex libssl-dev dwarves cpio python3 xz-utils)
# Part of the cache: bump it when the chroot's recipe changes.
SID_RECIPE=1

SID_UPDATED=0

# sid_run CMD...: run CMD in the chroot with /proc, /dev and the bind
# mounts above, in a private mount namespace.
sid_run() {
	mkdir -p "$SHMDEV_BUILD" "$SHMDEV_CACHE/debug-kernel"
	unshare --mount --propagation private -- /bin/bash -c '
		set -e
		root=$1 build=$2 cache=$3
		shift 3
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		for dir in "$build" "$cache"; do
			mkdir -p "$root$dir"
			mount --bind "$dir" "$root$dir"
		done
		exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
	' sid_run "$SID_ROOT" "$SHMDEV_BUILD" "$SHMDEV_CACHE/debug-kernel" "$@"
}

sid_apt() {
	sid_run "$@"
}

# sid_download DIR PKG: apt-get download PKG (NAME or NAME:ARCH) into DIR,
# which the chroot sees at the same path ($SHMDEV_BUILD); output to stderr.
sid_download() {
	sid_run /bin/sh -c 'cd "$1" && apt-get download -q \
		-o APT::Sandbox::User=root "$2"' sh "$1" "$2" >&2
}

# Writes the chroot's apt configuration: sid and experimental from the same
# archive, their Release files accepted past Valid-Until, no recommends.
sid_configure_apt() {
	local root=$1

	mkdir -p "$root/etc/apt/sources.list.d" "$root/etc/apt/apt.conf.d"
	cat >"$root/etc/apt/sources.list" <<-EOF
		deb $SID_MIRROR sid main
		deb $SID_MIRROR experimental main
	EOF
	cat >"$root/etc/apt/apt.conf.d/90shmdev-rig" <<-'EOF'
		Acquire::Check-Valid-Until "false";
		APT::Install-Recommends "false";
		Acquire::Languages "none";
	EOF
}

# sid_make_tarball: debootstrap into a temporary directory, configure apt,
# pack it as SID_TARBALL.
sid_make_tarball() {
	local tmp include

	tmp=$(mktemp -d "$SHMDEV_CACHE/tmp.XXXXXX")
	include=$(
		IFS=,
		echo "${SID_BASE_PACKAGES[*]}"
	)
	log "debootstrap sid (about a minute; log: $SID_DIR/debootstrap.log)"
	if ! debootstrap --variant=minbase --include="$include" sid "$tmp/root" \
		"$SID_MIRROR" >"$SID_DIR/debootstrap.log" 2>&1; then
		tail -n 20 "$SID_DIR/debootstrap.log" >&2
		rm -rf "$tmp"
		die "debootstrap of sid failed ($SID_DIR/debootstrap.log)"
	fi
	sid_configure_apt "$tmp/root"
	echo "$SID_RECIPE" >"$tmp/root/.shmdev-recipe"
	tar -C "$tmp/root" -czf "$tmp/root.tar.gz" . || die "cannot pack the sid chroot"
	mv "$tmp/root.tar.gz" "$SID_TARBALL"
	rm -rf "$tmp"
}

# sid_chroot_prepare: the chroot in $SID_ROOT, its package lists fresh and
# SID_BASE_PACKAGES installed.
sid_chroot_prepare() {
	local tmp

	mkdir -p "$SID_DIR"
	if [[ ! -f $SID_ROOT/.shmdev-complete ||
		$(cat "$SID_ROOT/.shmdev-recipe" 2>/dev/null) != "$SID_RECIPE" ]]; then
		ensure_packages debootstrap
		if [[ ! -s $SID_TARBALL ||
			$(tar -xzOf "$SID_TARBALL" ./.shmdev-recipe 2>/dev/null) != "$SID_RECIPE" ]]; then
			sid_make_tarball
		fi
		log "unpacking $SID_TARBALL"
		tmp=$(mktemp -d "$SID_DIR/root.XXXXXX")
		tar -C "$tmp" -xzf "$SID_TARBALL" || die "cannot unpack $SID_TARBALL"
		chmod 0755 "$tmp"
		rm -rf "$SID_ROOT"
		mv "$tmp" "$SID_ROOT"
		: >"$SID_ROOT/.shmdev-complete"
	fi
	if ((SID_UPDATED == 0)); then
		# Written again each time, so that SID_MIRROR holds for a cached
		# chroot too.
		sid_configure_apt "$SID_ROOT"
		log "apt-get update in the sid chroot"
		sid_apt apt-get update -q >&2 || die "apt-get update in the sid chroot failed"
		SID_UPDATED=1
	fi
	sid_ensure_packages "${SID_BASE_PACKAGES[@]}"
	sid_fix_checker
}

# sid_ensure_packages PKG...: install those the chroot does not have.
sid_ensure_packages() {
	local missing=()

	# A package of another architecture is asked for as NAME:ARCH, which
	# is ${binary:Package}; one of the chroot's own as NAME.
	mapfile -t missing < <(sid_run dpkg-query -W \
		-f='${Package} ${binary:Package} ${db:Status-Status}\n' \
		"$@" 2>/dev/null | awk -v want="$*" '$3 == "installed" { have[$1] = 1; have[$2] = 1 }
		END { n = split(want, w, " "); for (i = 1; i <= n; i++) if (!(w[i] in have)) print w[i] }')
	((${#missing[@]})) || return 0
	log "installing in the sid chroot: ${missing[*]}"
	sid_apt apt-get install -y -q "${missing[@]}" >&2 ||
		die "apt-get install in the sid chroot failed: ${missing[*]}"
	# New headers may have come in.
	sid_fix_checker
}

# sid_ensure_newest PKG...: install PKG, or upgrade it where the chroot
# has an older version than apt's candidate: for packages that keep their
# name across updates (linux-source-7.2 from 7.2.13 to 7.2.14).
sid_ensure_newest() {
	local pkg have want old=()

	for pkg in "$@"; do
		have=$(sid_run dpkg-query -W -f='${db:Status-Status} ${Version}' "$pkg" 2>/dev/null || true)
		want=$(sid_apt apt-cache policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
		[[ -n $want && $want != "(none)" ]] || die "no candidate for $pkg in the sid chroot"
		[[ $have == "installed $want" ]] || old+=("$pkg")
	done
	((${#old[@]})) || return 0
	log "installing or upgrading in the sid chroot: ${old[*]}"
	sid_apt apt-get install -y -q "${old[@]}" >&2 ||
		die "apt-get install in the sid chroot failed: ${old[*]}"
}

# Debian's linux-headers packages of 7.x leave out scripts/checker-valid.sh,
# which kbuild runs before C=1 to see that sparse works; without it sparse
# is silently skipped. Supply one that answers the same question.
sid_fix_checker() {
	local dir

	for dir in "$SID_ROOT"/usr/src/linux-headers-*-common; do
		[[ -d $dir/scripts && ! -e $dir/scripts/checker-valid.sh ]] || continue
		cat >"$dir/scripts/checker-valid.sh" <<-'EOF'
			#!/bin/sh
			# Added by the shmdev test rig: the headers package lacks it.
			# Prints 1 if the checker given as arguments preprocesses C.
			"$@" -E -x c /dev/null >/dev/null 2>&1 && echo 1
			exit 0
		EOF
		chmod 0755 "$dir/scripts/checker-valid.sh"
	done
}

# sid_candidate SUITE PKG: the version of PKG that SUITE (sid or
# experimental) offers, or nothing.
sid_candidate() {
	sid_apt apt-cache madison "$2" 2>/dev/null |
		awk -F' *[|] *' -v suite="$1" '$3 ~ " " suite "/" { print $2; exit }'
}

# sid_kernel_of_meta SUITE META: the kernel release that META (a
# linux-image-* meta package, META:ARCH for another architecture) of SUITE
# depends on, or nothing.
sid_kernel_of_meta() {
	local version

	version=$(sid_candidate "$1" "$2")
	[[ -n $version ]] || return 0
	sid_apt apt-cache depends "$2=$version" 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([^ ]*\)$/\1/p' |
		sed 's/:[a-z0-9]*$//; s/-unsigned$//' | head -n 1
}
