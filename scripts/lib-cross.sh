# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# Kernels of another architecture than the host's (the matrix entries with
# an ARCH column: arm64 with 4 KiB and with 16 KiB pages), sourced by
# lib.sh. Nothing here runs on its own.
#
# Everything for such a kernel is made in the sid chroot (lib-sid.sh),
# which gets the architecture (dpkg --add-architecture), a cross compiler
# and the architecture's C library:
#
#   module      built against linux-headers-<kver>:<arch>, whose
#               .kernelvariables set ARCH and CROSS_COMPILE; the build line
#               is the one of every other kernel (build_module)
#   programs    the selftests, the library tests, the ring and sync tests,
#               the examples and the benchmark program, built with the
#               cross compiler from a copy of the tree under
#               $SHMDEV_BUILD/cross-<arch> (build_cross)
#   initramfs   the architecture's busybox-static and make from its
#               packages, the C library and loader of the cross compiler's
#               (cross_add_elf, in place of the host's ldd)
#   QEMU        the whole machine emulated: qemu-system-aarch64 -M virt
#               -cpu max, console ttyAMA0, swap made for the kernel's page
#               size (kernel_page_size)
#
# Whole-machine emulation of another instruction set is about twice as
# slow as of the host's: such a kernel runs a shorter payload
# (CROSS_SKIP_SECTIONS, CROSS_KNOBS), as README.md's "Architectures" says.

# shellcheck disable=SC2034 # the settings below are read in lib.sh too
declare -gA CROSS_TRIPLET=([arm64]=aarch64-linux-gnu)
declare -gA CROSS_QEMU=([arm64]=qemu-system-aarch64)
declare -gA CROSS_QEMU_PACKAGE=([arm64]=qemu-system-arm)
declare -gA CROSS_MACHINE=([arm64]="-M virt -cpu max")
declare -gA CROSS_CONSOLE=([arm64]=ttyAMA0)
# The ELF machine readelf names for the architecture.
declare -gA CROSS_ELF_MACHINE=([arm64]=AArch64)

# Sections of vm/check.sh that an emulated architecture leaves out, each
# one skipped test, to keep make check within its time budget (README.md,
# Architectures): the selftests as uid 1000 (the permission checks, the
# same code on every architecture; as root they all run), the Python tests
# (the rig stages the host's x86-64 interpreter), the 32-bit programs
# (compat_ptr_ioctl: the 64-bit handlers), the benchmark's smoke run and
# the lifecycle section (load/unload cycles and global memory exhaustion;
# the rig section's rmmod, page-count and reload checks still run).
CROSS_SKIP_SECTIONS="selftests-tester python selftests-m32 libtests-m32 demo-m32 bench lifecycle"
CROSS_SKIP_REASON="left out on an emulated architecture (make check's time budget: README.md, Architectures)"
# Shorter stress and fuzz runs and ring and sync tests of 10^5 messages,
# as on the debug kernel (vm/knobs.sh), unless the environment sets them.
CROSS_KNOBS=(SHMDEV_STRESS_SECS=20 SHMDEV_FUZZ_SECS=10
	SHMDEV_TEST_MESSAGES=100000)
# Seconds one VM of an emulated architecture may run.
CROSS_VM_TIMEOUT=${CROSS_VM_TIMEOUT:-1200}

declare -gA CROSS_READY=()

# cross_prepare ARCH: the sid chroot knows ARCH and has its cross compiler
# and C library.
cross_prepare() {
	local arch=$1 triplet=${CROSS_TRIPLET[$1]:-}

	[[ -n $triplet ]] || die "architecture $arch is not known to the rig (lib-cross.sh)"
	((${CROSS_READY[$arch]:-0} == 0)) || return 0
	sid_chroot_prepare
	if ! sid_run dpkg --print-foreign-architectures | grep -q -x "$arch"; then
		log "adding $arch to the sid chroot"
		sid_run dpkg --add-architecture "$arch" ||
			die "dpkg --add-architecture $arch in the sid chroot failed"
		sid_apt apt-get update -q >&2 || die "apt-get update in the sid chroot failed"
	fi
	sid_ensure_packages "gcc-$triplet" "libc6-dev-$arch-cross"
	CROSS_READY[$arch]=1
}

# The host packages the foreign kernels of KVERS need (QEMU).
cross_host_packages() {
	local kver

	for kver in "$@"; do
		! kernel_foreign "$kver" ||
			printf '%s\n' "${CROSS_QEMU_PACKAGE[$(kernel_arch "$kver")]}"
	done | sort -u
}

# The foreign architectures among KVERS, one a line.
cross_arches() {
	local kver

	for kver in "${KVERS[@]}"; do
		! kernel_foreign "$kver" || kernel_arch "$kver"
	done | sort -u
}

cross_out() {
	printf '%s\n' "$SHMDEV_BUILD/cross-$1"
}

# programs_root KVER: the directory whose selftests/, examples/, libtests/,
# hosttests/vm/ and benchprog/ hold the programs for KVER's architecture.
programs_root() {
	if kernel_foreign "$1"; then
		cross_out "$(kernel_arch "$1")"
	else
		printf '%s\n' "$SHMDEV_BUILD"
	fi
}

# kernel_page_size KVER: the page size the kernel was built with, from its
# configuration (CONFIG_PAGE_SHIFT; 4096 where the kernel predates it and
# its architecture has nothing else).
kernel_page_size() {
	local config shift=12 dir

	dir=$(kernel_build_dir "$1")
	for config in "$SID_ROOT$dir/.config" "$dir/.config" \
		"$SHMDEV_CACHE/kernels/$1/config"; do
		[[ -f $config ]] || continue
		shift=$(sed -n 's/^CONFIG_PAGE_SHIFT=\([0-9]*\)$/\1/p' "$config")
		[[ -n $shift ]] || shift=12
		break
	done
	echo $((1 << shift))
}

# cross_make NAME DIR OUT [VAR=VALUE...]: build_programs in the chroot with
# the cross compiler of ARCH (set by the caller).
cross_make() {
	# shellcheck disable=SC2034 # build_programs runs make with it
	local name=$1 dir=$2 out=$3 BUILD_RUNNER=(sid_run)

	shift 3
	build_programs "$name-$arch" "$dir" "$out" \
		CC="${CROSS_TRIPLET[$arch]}-gcc" "$@"
}

# build_cross ARCH: the test programs for ARCH under cross_out ARCH, the
# same directories as the host's under $SHMDEV_BUILD, and the busybox and
# make of the architecture's packages in its stage/.
build_cross() {
	local arch=$1 out src ksft pkg deb

	out=$(cross_out "$arch")
	src=$out/src
	ksft=$out/ksft
	rm -rf "$out"
	mkdir -p "$src" "$ksft" "$out/debs" "$out/stage"
	# The chroot sees $SHMDEV_BUILD only: a copy of what the builds read.
	cp -a "$SHMDEV_ROOT/VERSION" "$SHMDEV_ROOT/include" \
		"$SHMDEV_ROOT/selftests" "$SHMDEV_ROOT/userspace" "$src/"
	cp -a "$KSFT_DIR/kselftest_harness.h" "$KSFT_DIR/kselftest.h" "$ksft/"
	cross_make selftests "$src/selftests" "$out/selftests" KSFT_DIR="$ksft"
	cross_make libtests "$src/userspace/libtests" "$out/libtests" \
		KSFT_DIR="$ksft"
	cross_make examples "$src/userspace/examples" "$out/examples"
	cross_make ringsync "$src/userspace/tests" "$out/hosttests" \
		KSFT_DIR="$ksft" vm
	cross_make bench "$src/userspace/bench" "$out/benchprog"
	readelf -h "$out/selftests/shmdev_test" |
		grep -q "Machine: *${CROSS_ELF_MACHINE[$arch]}" ||
		die "the $arch build made no ${CROSS_ELF_MACHINE[$arch]} shmdev_test"
	for pkg in busybox-static make; do
		sid_download "$out/debs" "$pkg:$arch" ||
			die "cannot download $pkg:$arch in the sid chroot"
		deb=$(find "$out/debs" -maxdepth 1 -name "${pkg}_*_$arch.deb" | head -n 1)
		[[ -n $deb ]] || die "no ${pkg}_*_$arch.deb downloaded"
		dpkg-deb -x "$deb" "$out/stage" || die "cannot unpack $deb"
	done
	[[ -x $out/stage/bin/busybox || -x $out/stage/usr/bin/busybox ]] ||
		die "busybox-static:$arch has no busybox"
	log "built the test programs for $arch in $out"
}

# cross_add_elf ROOT FILE DEST: as add_elf, for a program of the
# architecture ELF_ARCH (set by make_initramfs): the libraries it needs
# (readelf's NEEDED, recursively) from its own directory or the cross
# compiler's C library, under /lib/<triplet>, and its loader at the path it
# names.
cross_add_elf() {
	local root=$1 file=$2 dest=$3

	install -D -m 0755 "$file" "$root$dest"
	cross_add_libs "$root" "$file"
}

# cross_add_libs ROOT FILE: the loader and the libraries FILE needs, unless
# ROOT has them or FILE's directory does (shmdev-ctl's libshmdev.so.1).
cross_add_libs() {
	local root=$1 file=$2 triplet=${CROSS_TRIPLET[$ELF_ARCH]} sysroot lib
	local interp needed

	# Scripts and data files need nothing.
	[[ $(head -c 4 "$file") == $'\x7fELF' ]] || return 0
	sysroot=$SID_ROOT/usr/$triplet/lib
	interp=$(readelf -l "$file" |
		sed -n 's/.*\[Requesting program interpreter: \(.*\)\]$/\1/p')
	if [[ -n $interp && ! -e $root$interp ]]; then
		[[ -e $sysroot/${interp##*/} ]] ||
			die "$file: loader ${interp##*/} not in $sysroot"
		install -D -m 0755 "$(readlink -f "$sysroot/${interp##*/}")" "$root$interp"
	fi
	for needed in $(readelf -d "$file" |
		sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
		[[ ! -e $(dirname "$file")/$needed ]] || continue
		lib=$root/lib/$triplet/$needed
		[[ ! -e $lib ]] || continue
		[[ -e $sysroot/$needed ]] ||
			die "$file: shared library $needed not in $sysroot"
		install -D -m 0755 "$(readlink -f "$sysroot/$needed")" "$lib"
		cross_add_libs "$root" "$lib"
	done
}

# cross_initramfs_base ROOT: busybox (its applets are linked by /init at
# boot: this host cannot run it to ask) and make of ARCH.
cross_initramfs_base() {
	local root=$1 stage busybox

	stage=$(cross_out "$ELF_ARCH")/stage
	busybox=$stage/bin/busybox
	[[ -x $busybox ]] || busybox=$stage/usr/bin/busybox
	install -D -m 0755 "$busybox" "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cross_add_elf "$root" "$stage/usr/bin/make" /usr/bin/make
}

# cross_qemu KVER: the QEMU program and machine options of KVER's
# architecture, one a line.
cross_qemu() {
	local arch

	arch=$(kernel_arch "$1")
	printf '%s\n' "${CROSS_QEMU[$arch]}"
	printf '%s\n' ${CROSS_MACHINE[$arch]}
}
