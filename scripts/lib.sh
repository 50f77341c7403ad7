# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared code of the shmdev QEMU test rig, sourced by vm-check.sh and
# vm-run.sh. Nothing here runs on its own.
#
# Host side, in order of use:
#   resolve_kernels    kernel matrix from the Debian archive (or $KERNELS)
#   sid_chroot_prepare the sid chroot for 7.x kernels (lib-sid.sh)
#   ensure_packages    apt-get install only what dpkg says is missing
#   fetch_kernel       vmlinuz of linux-image-<kver>, cached
#   fetch_source_files kselftest headers and checkpatch, cached
#   build_module       Kbuild + module/ + include/ against the kernel headers
#   build_selftests    make -C selftests (static binaries, any kernel)
#   make_initramfs     busybox, make, module, selftests, payload, /init
#   boot_vm            QEMU TCG boot with console to a log file
#   parse_console      results between the VM's markers (parse-console.awk)

# Where things are; every one of these may be overridden from the environment.
SHMDEV_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SHMDEV_ROOT=$(cd "$SHMDEV_SCRIPTS/.." && pwd)
SHMDEV_CACHE=${SHMDEV_CACHE:-/var/cache/shmdev-vm}
SHMDEV_BUILD=${SHMDEV_BUILD:-$SHMDEV_ROOT/build}
VM_TIMEOUT=${VM_TIMEOUT:-900}
VM_MEM=${VM_MEM:-2G}
VM_SMP=${VM_SMP:-2}

# The kernel matrix, one entry a line: NAME SUITE META [ARCH]. NAME is what
# KERNELS="..." selects; SUITE the Debian suite (bookworm from the host's
# apt, sid and experimental from the sid chroot of lib-sid.sh); META the
# linux-image-* meta package whose dependency names the kernel, resolved at
# run time; ARCH the Debian architecture (default amd64; any other is
# cross-built in the sid chroot and emulated whole, lib-cross.sh). An
# experimental entry is skipped, with the reason, when experimental offers
# nothing newer than sid for its META. A new kernel line is one more entry
# here. The debug kernel (lib-debug.sh) is the entry "debug", built from
# sid's linux-source of the "sid" entry's line.
KERNEL_MATRIX=(
	"6.1       bookworm     linux-image-amd64"
	"6.12      bookworm     linux-image-6.12-amd64"
	"6.12-rt   bookworm     linux-image-6.12-rt-amd64"
	"sid       sid          linux-image-amd64"
	"sid-rt    sid          linux-image-rt-amd64"
	"rc        experimental linux-image-amd64"
	"arm64     sid          linux-image-arm64      arm64"
	"arm64-16k sid          linux-image-arm64-16k  arm64"
)
# The kselftest harness headers and checkpatch come from this source package,
# unpacked (only these files) under $SHMDEV_CACHE/linux-source.
KSFT_SOURCE_PACKAGE=linux-source-6.12
KSFT_SOURCE_TARBALL=/usr/src/$KSFT_SOURCE_PACKAGE.tar.xz
SOURCE_FILES=(tools/testing/selftests/kselftest_harness.h
	tools/testing/selftests/kselftest.h
	scripts/checkpatch.pl scripts/spelling.txt
	scripts/const_structs.checkpatch)
KSFT_DIR=$SHMDEV_CACHE/linux-source/tools/testing/selftests
CHECKPATCH=$SHMDEV_CACHE/linux-source/scripts/checkpatch.pl

# Lines of the kernel log that fail a run (extended regular expression).
# "pages leaked" is shmdev's own unload check; the kmemleak lines are its
# reports (a bare "leak" would match kmemleak's boot banner).
DMESG_BAD_PATTERN='BUG:|WARNING:|Oops|general protection|KASAN|possible circular locking|pages leaked|suspected memory leak|unreferenced object|Busy inodes|Call Trace|Kernel panic'
# arm64 spells it "Call trace:".
DMESG_BAD_PATTERN+='|Call trace:'
# The debug kernel's detectors (lib-debug.sh). Their headers start with
# "BUG:" or "WARNING:" (lockdep, RCU, might_sleep, refcount_t and ODEBUG
# warnings) and are matched above already; named here as well so that a
# change of prefix does not let one through. "kernel BUG at" is BUG_ON() and
# VM_BUG_ON(), which "BUG:" does not match.
DMESG_BAD_PATTERN+='|kernel BUG at|possible recursive locking|inconsistent lock state|irq lock inversion|bad unlock balance|held lock freed|suspicious RCU usage|sleeping function called from invalid context|scheduling while atomic|non-static key|refcount_t:|ODEBUG:|list_(add|del) corruption'
# Warnings printed without a "WARNING:" header: work queued on a workqueue
# the kernel has deprecated (system_wq, system_unbound_wq from 7.x on).
DMESG_BAD_PATTERN+='|enqueued on deprecated workqueue'

PROG=${PROG:-$(basename "$0")}

# With set -e a failing command ends the script; say which one it was
# (once, from the main shell, not again from each subshell on the way).
set -E
trap '((BASH_SUBSHELL)) || log "error: \"$BASH_COMMAND\" failed (status $?) at ${BASH_SOURCE[0]##*/}:$LINENO"' ERR

log() {
	printf '[%s] %s\n' "$PROG" "$*" >&2
}

die() {
	log "error: $*"
	exit 1
}

# ---------------------------------------------------------------------------
# Phase timing: phase_begin NAME ... phase_end; phase_report prints them all.

PHASE_NAMES=()
PHASE_SECONDS=()
_phase_name=
_phase_start=

phase_begin() {
	_phase_name=$1
	_phase_start=$EPOCHREALTIME
	log "== $_phase_name"
}

phase_end() {
	local elapsed
	elapsed=$(awk -v a="$_phase_start" -v b="$EPOCHREALTIME" \
		'BEGIN { printf "%.1f", b - a }')
	PHASE_NAMES+=("$_phase_name")
	PHASE_SECONDS+=("$elapsed")
	log "   $_phase_name: ${elapsed} s"
}

phase_report() {
	local i
	log "elapsed time per phase:"
	for i in "${!PHASE_NAMES[@]}"; do
		printf '  %8s s  %s\n' "${PHASE_SECONDS[i]}" "${PHASE_NAMES[i]}" >&2
	done
}

# ---------------------------------------------------------------------------
# Packages

APT_UPDATED=0

apt_update() {
	if ((APT_UPDATED == 0)); then
		log "apt-get update"
		apt-get update -q >&2
		APT_UPDATED=1
	fi
}

# apt_retry CMD...: run an apt command; on failure refresh the package lists
# once (they may be missing or stale on a fresh machine) and try again.
apt_retry() {
	if "$@"; then
		return 0
	fi
	if ((APT_UPDATED)); then
		return 1
	fi
	apt_update
	"$@"
}

# Print the kernel version that a meta package depends on, or nothing.
kernel_of_meta() {
	{ apt-cache depends "$1" 2>/dev/null || true; } |
		sed -n 's/^ *Depends: linux-image-\([^ ]*\)$/\1/p' |
		sed 's/-unsigned$//' | head -n 1
}

# matrix_entry NAME: print "SUITE META ARCH" of entry NAME, or fail.
matrix_entry() {
	local line name suite meta arch

	for line in "${KERNEL_MATRIX[@]}"; do
		read -r name suite meta arch <<<"$line"
		if [[ $name == "$1" ]]; then
			echo "$suite $meta ${arch:-amd64}"
			return 0
		fi
	done
	return 1
}

matrix_names() {
	local line

	for line in "${KERNEL_MATRIX[@]}"; do
		echo "${line%% *}"
	done
	echo debug
}

# Per kernel release: its suite (bookworm, sid, experimental, or "debug"),
# the entry that named it and its Debian architecture (amd64 if unset).
declare -gA KERNEL_SUITE=() KERNEL_ENTRY=() KERNEL_ARCH=()
# Entries left out, each "NAME: reason", and whether "debug" was asked for.
SKIPPED_ENTRIES=()
DEBUG_WANTED=0

# kernel_in_sid KVER: the kernel is built against inside the sid chroot.
kernel_in_sid() {
	[[ ${KERNEL_SUITE[$1]:-bookworm} != bookworm ]]
}

# kernel_arch KVER: its Debian architecture.
kernel_arch() {
	printf '%s\n' "${KERNEL_ARCH[$1]:-amd64}"
}

# kernel_foreign KVER: the kernel is not the host's architecture.
kernel_foreign() {
	[[ $(kernel_arch "$1") != amd64 ]]
}

# resolve_entry NAME: add the kernel of entry NAME to KVERS, or its reason
# to SKIPPED_ENTRIES. Returns 1 if the archive does not answer.
resolve_entry() {
	local name=$1 suite meta arch kver sidver expver

	read -r suite meta arch < <(matrix_entry "$name")
	if [[ $arch != amd64 ]]; then
		[[ $suite != bookworm ]] ||
			die "kernel matrix entry $name: $arch kernels come from sid or experimental"
		# The chroot's apt must know the architecture first.
		sid_chroot_prepare
		cross_prepare "$arch"
		meta=$meta:$arch
	fi
	case $suite in
	bookworm)
		kver=$(kernel_of_meta "$meta")
		;;
	sid)
		sid_chroot_prepare
		kver=$(sid_kernel_of_meta sid "$meta")
		;;
	experimental)
		sid_chroot_prepare
		sidver=$(sid_candidate sid "$meta")
		expver=$(sid_candidate experimental "$meta")
		if [[ -z $expver ]] || { [[ -n $sidver ]] &&
			dpkg --compare-versions "$expver" le "$sidver"; }; then
			SKIPPED_ENTRIES+=("$name: experimental has nothing newer than sid ($meta: sid ${sidver:-none}, experimental ${expver:-none})")
			return 0
		fi
		kver=$(sid_kernel_of_meta experimental "$meta")
		;;
	*)
		die "kernel matrix entry $name: unknown suite $suite"
		;;
	esac
	[[ -n $kver ]] || return 1
	[[ $arch == amd64 ]] || KERNEL_VM_TIMEOUT[$kver]=$CROSS_VM_TIMEOUT
	KVERS+=("$kver")
	KERNEL_SUITE[$kver]=$suite
	KERNEL_ENTRY[$kver]=$name
	KERNEL_ARCH[$kver]=$arch
	if [[ $suite == experimental ]]; then
		KERNEL_LABEL[$kver]="$kver ($name, $suite $expver)"
	else
		KERNEL_LABEL[$kver]="$kver ($name)"
	fi
}

# Fill the array KVERS with the kernels of the matrix, or of the entries
# (or bookworm kernel releases) that KERNELS names, the first KVERS_LIMIT
# of them if that is set. "debug" among them, or KERNELS unset, sets
# DEBUG_WANTED.
KVERS=()
KVERS_LIMIT=0
KVERS_FROM_ARCHIVE=0
resolve_kernels() {
	local names=() name attempt ok

	if [[ -n ${KERNELS:-} ]]; then
		read -r -a names <<<"$KERNELS"
	else
		mapfile -t names < <(matrix_names)
	fi
	KVERS_FROM_ARCHIVE=1
	for attempt in 1 2; do
		KVERS=()
		SKIPPED_ENTRIES=()
		DEBUG_WANTED=0
		ok=1
		for name in "${names[@]}"; do
			if [[ $name == debug ]]; then
				DEBUG_WANTED=1
			elif matrix_entry "$name" >/dev/null; then
				resolve_entry "$name" || ok=0
			else
				# A kernel release of bookworm, as given.
				KVERS+=("$name")
				KERNEL_SUITE[$name]=bookworm
				KERNEL_ENTRY[$name]=$name
			fi
		done
		((ok)) && break
		((attempt == 1)) && apt_update
	done
	((ok)) || die "cannot resolve the kernel matrix (${names[*]}) from the archive; found: ${KVERS[*]:-nothing}"
	if ((KVERS_LIMIT)); then
		KVERS=("${KVERS[@]:0:KVERS_LIMIT}")
	fi
	log "kernels: ${KVERS[*]:-none}$( ((DEBUG_WANTED)) && echo ' + debug')"
	if ((${#SKIPPED_ENTRIES[@]})); then
		log "left out: ${SKIPPED_ENTRIES[*]}"
	fi
}

# The bookworm kernels of KVERS (built against on this host) and the others
# (in the sid chroot).
host_kvers() {
	local kver

	for kver in "${KVERS[@]}"; do
		kernel_in_sid "$kver" || echo "$kver"
	done
}

sid_kvers() {
	local kver

	for kver in "${KVERS[@]}"; do
		! kernel_in_sid "$kver" || echo "$kver"
	done
}

is_installed() {
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

# missing_packages PKG...: print those not installed.
missing_packages() {
	local pkg

	for pkg in "$@"; do
		is_installed "$pkg" || printf '%s\n' "$pkg"
	done
}

# ensure_packages PKG...: install those that are not installed yet.
# INITRD=No keeps the kernel's postinst hook from building an initrd for the
# linux-image that linux-headers-6.12 depends on; nothing here boots it.
ensure_packages() {
	local missing

	mapfile -t missing < <(missing_packages "$@")
	if ((${#missing[@]} == 0)); then
		log "all $# packages already installed"
		return
	fi
	apt_update
	log "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive INITRD=No \
		apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install failed"
}

# Packages the rig needs for the given kernels, and RIG_EXTRA_PACKAGES
# (the debug-kernel lane's kernel build, lib-debug.sh).
RIG_EXTRA_PACKAGES=()
rig_packages() {
	local kver

	# perl: W=1 runs scripts/kernel-doc, which needs more than perl-base.
	# gcc-multilib: the 32-bit builds of the tests (build_m32).
	printf '%s\n' qemu-system-x86 busybox-static kmod cpio gzip xz-utils zstd \
		util-linux make gcc gcc-multilib libc6-dev perl sparse \
		"$KSFT_SOURCE_PACKAGE" "${RIG_EXTRA_PACKAGES[@]}"
	cross_host_packages "$@"
	for kver in "$@"; do
		kernel_in_sid "$kver" || printf 'linux-headers-%s\n' "$kver"
	done
}

# shellcheck source=SCRIPTDIR/lib-sid.sh
. "$SHMDEV_SCRIPTS/lib-sid.sh"
# shellcheck source=SCRIPTDIR/lib-cross.sh
. "$SHMDEV_SCRIPTS/lib-cross.sh"

# ---------------------------------------------------------------------------
# Cache: kernel images and kselftest headers, fetched once.

# publish NEW DIR FILE: make directory NEW the cache entry DIR, unless a
# concurrent run got there first (DIR/FILE exists then).
publish() {
	[[ -s $2/$3 ]] || rm -rf "$2"
	mv -T "$1" "$2" 2>/dev/null || [[ -s $2/$3 ]] || die "cannot create $2"
}

# A directory apt's unprivileged download user can write into, so that
# apt-get download does not warn about running unsandboxed.
download_dir() {
	local dir

	dir=$(mktemp -d "$SHMDEV_CACHE/tmp.XXXXXX")
	chmod 0755 "$dir"
	if id _apt >/dev/null 2>&1; then
		chown _apt "$dir"
	fi
	printf '%s\n' "$dir"
}

# fetch_kernel KVER: $SHMDEV_CACHE/kernels/KVER/vmlinuz (and config), and
# the modules of the VM's virtio disks (kernel_modules). The .deb is taken
# from apt's own cache when linux-headers-6.12 pulled the image in, else
# downloaded. Only those files are unpacked from it, not its ~400 MB of
# modules.
fetch_kernel() {
	local kver=$1 dir tmp pkg deb=

	dir=$SHMDEV_CACHE/kernels/$kver
	if [[ -s $dir/vmlinuz && -e $dir/modules/order ]]; then
		log "cached: $dir/vmlinuz"
		return
	fi
	# From before the rig took modules along: fetch it again.
	rm -rf "$dir"
	mkdir -p "$SHMDEV_CACHE/kernels"
	if kernel_in_sid "$kver"; then
		fetch_sid_kernel "$kver" "$dir"
		return
	fi
	tmp=$(download_dir)
	for pkg in "linux-image-$kver" "linux-image-$kver-unsigned"; do
		deb=$(find /var/cache/apt/archives -maxdepth 1 \
			-name "${pkg}_*_amd64.deb" 2>/dev/null | sort -V | tail -n 1)
		[[ -z $deb ]] || break
		if (cd "$tmp" && apt_retry apt-get download -q "$pkg" >&2); then
			deb=$(find "$tmp" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)
			break
		fi
	done
	[[ -n $deb ]] || die "cannot download linux-image-$kver"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -x -C "$tmp" "./boot/vmlinuz-$kver" "./boot/config-$kver" ||
		die "no /boot/vmlinuz-$kver in $(basename "$deb")"
	mkdir -p "$tmp/out"
	mv "$tmp/boot/vmlinuz-$kver" "$tmp/out/vmlinuz"
	mv "$tmp/boot/config-$kver" "$tmp/out/config"
	dpkg-deb --fsys-tarfile "$deb" | kernel_modules "$tmp/out/modules"
	basename "$deb" >"$tmp/out/package"
	publish "$tmp/out" "$dir" vmlinuz
	rm -rf "$tmp"
	log "fetched: $dir/vmlinuz"
}

# Modules the VM loads for its disks, with what they need.
VM_MODULES="virtio_pci virtio_blk"

# kernel_modules OUT: from a kernel package's tar on stdin, the modules of
# VM_MODULES and those they depend on, uncompressed, in OUT, and their load
# order in OUT/order (empty where the kernel has them built in).
kernel_modules() {
	local out=$1 name file

	KM_PATH=()
	KM_SEEN=()
	KM_ORDER=()
	mkdir -p "$out/tree"
	tar -x -C "$out/tree" --wildcards \
		'*/modules/*/kernel/drivers/block/virtio_blk.ko*' \
		'*/modules/*/kernel/drivers/virtio/*.ko*' 2>/dev/null || true
	while IFS= read -r -d '' file; do
		name=${file##*/}
		name=${name%%.ko*}
		case $file in
		*.xz) xz -dc "$file" >"$out/$name.ko" ;;
		*.zst) zstd -q -dc "$file" >"$out/$name.ko" ;;
		*) cp "$file" "$out/$name.ko" ;;
		esac
		KM_PATH[$name]=$out/$name.ko
	done < <(find "$out/tree" -name '*.ko*' -print0)
	rm -rf "$out/tree"
	for name in $VM_MODULES; do
		kernel_modules_visit "$name"
	done
	printf '%s\n' "${KM_ORDER[@]}" | sed '/^$/d' >"$out/order"
}

declare -A KM_PATH=() KM_SEEN=()
KM_ORDER=()

# kernel_modules_visit NAME: NAME after what it depends on, depth first.
# A module without a file is built in.
kernel_modules_visit() {
	local dep

	[[ -n ${KM_PATH[$1]:-} && -z ${KM_SEEN[$1]:-} ]] || return 0
	KM_SEEN[$1]=1
	for dep in $(modinfo -F depends "${KM_PATH[$1]}" | tr ',' ' '); do
		kernel_modules_visit "${dep//-/_}"
	done
	KM_ORDER+=("$1")
}

# fetch_sid_kernel KVER DIR: the same for a kernel of sid or experimental,
# downloaded in the sid chroot. From 7.x on linux-image-KVER is a meta
# package and vmlinuz is in linux-binary-KVER, under usr/lib/modules/KVER.
fetch_sid_kernel() {
	local kver=$1 dir=$2 tmp pkg member deb qual=

	tmp=$SHMDEV_BUILD/download-$kver
	rm -rf "$tmp"
	mkdir -p "$tmp"
	! kernel_foreign "$kver" || qual=:$(kernel_arch "$kver")
	for pkg in "linux-binary-$kver" "linux-image-$kver"; do
		sid_run apt-cache show "$pkg$qual" >/dev/null 2>&1 || continue
		sid_download "$tmp" "$pkg$qual" || continue
		break
	done
	deb=$(find "$tmp" -maxdepth 1 -name '*.deb' | head -n 1)
	[[ -n $deb ]] || die "cannot download linux-binary-$kver or linux-image-$kver in the sid chroot"
	member=$(sid_run dpkg-deb -c "$deb" | awk '{ print $NF }' |
		grep -x -F -e "./usr/lib/modules/$kver/vmlinuz" -e "./boot/vmlinuz-$kver" |
		head -n 1)
	[[ -n $member ]] || die "no vmlinuz in $(basename "$deb")"
	mkdir -p "$tmp/out"
	sid_run dpkg-deb --fsys-tarfile "$deb" | tar -xO "$member" >"$tmp/out/vmlinuz" ||
		die "cannot unpack $member from $(basename "$deb")"
	basename "$deb" >"$tmp/out/package"
	# From 7.x on the modules are a package of their own.
	pkg=linux-modules-$kver
	if sid_run apt-cache show "$pkg$qual" >/dev/null 2>&1 &&
		sid_download "$tmp" "$pkg$qual"; then
		deb=$(find "$tmp" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)
	fi
	sid_run dpkg-deb --fsys-tarfile "$deb" | kernel_modules "$tmp/out/modules"
	publish "$tmp/out" "$dir" vmlinuz
	rm -rf "$tmp"
	log "fetched: $dir/vmlinuz"
}

# fetch_source_files: the SOURCE_FILES of the kernel source package, under
# $SHMDEV_CACHE/linux-source.
fetch_source_files() {
	local dir=$SHMDEV_CACHE/linux-source tmp file members=() have=1

	for file in "${SOURCE_FILES[@]}"; do
		[[ -s $dir/$file ]] || have=0
		members+=("$KSFT_SOURCE_PACKAGE/$file")
	done
	if ((have)); then
		log "cached: $dir"
		return
	fi
	[[ -f $KSFT_SOURCE_TARBALL ]] || die "$KSFT_SOURCE_TARBALL missing"
	mkdir -p "$SHMDEV_CACHE"
	rm -rf "$dir"
	tmp=$(mktemp -d "$SHMDEV_CACHE/tmp.XXXXXX")
	tar -xJf "$KSFT_SOURCE_TARBALL" -C "$tmp" --strip-components=1 \
		"${members[@]}" || die "cannot extract ${SOURCE_FILES[*]}"
	chmod 0755 "$tmp"
	publish "$tmp" "$dir" "${SOURCE_FILES[0]}"
	rm -rf "$tmp"
	log "extracted: $dir"
}

# check_style: checkpatch --strict over the kernel sources and the uapi
# header, leaving out what an in-tree module build generates (shmdev.mod.c);
# prints its report and fails on any error, warning or check.
check_style() {
	(cd "$SHMDEV_ROOT" || exit 1
		local files=() f

		for f in module/*.c module/*.h include/uapi/linux/shmdev.h; do
			[[ $f == *.mod.c ]] || files+=("$f")
		done
		perl "$CHECKPATCH" --strict --no-tree --no-summary --terse \
			--show-types -f "${files[@]}")
}

# ---------------------------------------------------------------------------
# Kernels that are not Debian packages (the debug kernel, lib-debug.sh)
# register here by release: the image QEMU boots, the tree modules are built
# against, the name in the summary and the VM timeout. A Debian kernel has
# none of these: its vmlinuz is cached under $SHMDEV_CACHE/kernels, its
# headers are /usr/src/linux-headers-<kver>.
declare -gA KERNEL_IMAGE=() KERNEL_BUILD_DIR=() KERNEL_LABEL=() KERNEL_VM_TIMEOUT=()
# Kernel command-line options one such kernel needs on top of VM_CMDLINE.
declare -gA KERNEL_APPEND=()

# register_kernel KVER IMAGE BUILD_DIR LABEL VM_TIMEOUT
register_kernel() {
	KERNEL_IMAGE[$1]=$2
	KERNEL_BUILD_DIR[$1]=$3
	KERNEL_LABEL[$1]=$4
	KERNEL_VM_TIMEOUT[$1]=$5
}

kernel_image() {
	printf '%s\n' "${KERNEL_IMAGE[$1]:-$SHMDEV_CACHE/kernels/$1/vmlinuz}"
}

kernel_build_dir() {
	printf '%s\n' "${KERNEL_BUILD_DIR[$1]:-/usr/src/linux-headers-$1}"
}

kernel_label() {
	printf '%s\n' "${KERNEL_LABEL[$1]:-$1}"
}

kernel_vm_timeout() {
	printf '%s\n' "${KERNEL_VM_TIMEOUT[$1]:-$VM_TIMEOUT}"
}

# ---------------------------------------------------------------------------
# Build

# build_module KVER [KDIR]: build shmdev.ko for KVER into
# $SHMDEV_BUILD/KVER/src against the build tree KDIR (default: the one KVER
# registered, else /usr/src/linux-headers-KVER).
# Returns 1 (after printing the log) when the build fails or warns.
build_module() {
	local kver=$1 out src headers buildlog

	headers=${2:-$(kernel_build_dir "$kver")}
	if kernel_in_sid "$kver"; then
		[[ -d $SID_ROOT$headers || -d $headers ]] ||
			die "$headers missing in the sid chroot (linux-headers-$kver)"
	else
		[[ -d $headers ]] || die "$headers missing (linux-headers-$kver)"
	fi
	require_module_sources

	out=$SHMDEV_BUILD/$kver
	src=$out/src
	buildlog=$out/build.log
	rm -rf "$src"
	mkdir -p "$src"
	cp -a "$SHMDEV_ROOT/Kbuild" "$SHMDEV_ROOT/VERSION" "$SHMDEV_ROOT/module" \
		"$SHMDEV_ROOT/include" "$src/"
	# Drop objects of any earlier in-tree build; they belong to another kernel.
	find "$src" \( -name '*.o' -o -name '*.ko' -o -name '*.mod' \
		-o -name '*.mod.c' -o -name '.*.cmd' -o -name 'modules.order' \
		-o -name 'Module.symvers' \) -delete

	# W=1 and sparse (C=1): any warning of either fails the build. Kernels
	# of sid and experimental, and the debug kernel, are built against in
	# the sid chroot (lib-sid.sh), which sees $SHMDEV_BUILD at the same path.
	local run=()
	if kernel_in_sid "$kver"; then
		run=(sid_run)
	fi
	if ! "${run[@]}" make -C "$headers" M="$src" W=1 C=1 modules >"$buildlog" 2>&1; then
		log "module build for $kver failed; $buildlog:"
		cat "$buildlog" >&2
		return 1
	fi
	if grep -q -i -E 'warning:|error:|C=1 specified, but' "$buildlog"; then
		log "module build for $kver has warnings; $buildlog:"
		cat "$buildlog" >&2
		return 1
	fi
	[[ -f $src/module/shmdev.ko ]] || {
		log "module build for $kver produced no module/shmdev.ko"
		return 1
	}
	log "built $src/module/shmdev.ko"
}

module_path() {
	printf '%s\n' "$SHMDEV_BUILD/$1/src/module/shmdev.ko"
}

SELFTESTS_DIR=$SHMDEV_ROOT/selftests
# The programs are built here (the selftests Makefile's OUTPUT), not in the
# source tree.
SELFTESTS_OUT=$SHMDEV_BUILD/selftests
EXAMPLES_DIR=$SHMDEV_ROOT/userspace/examples
EXAMPLES_OUT=$SHMDEV_BUILD/examples
# libshmdev's and shmdev-ctl's tests, run in the VM (a self-contained
# directory, put at /libtests), and the ring and sync tests, run on the
# host on memfd and in the VM (/ringsync) on shmdev segments.
LIBTESTS_DIR=$SHMDEV_ROOT/userspace/libtests
LIBTESTS_OUT=$SHMDEV_BUILD/libtests
HOSTTESTS_DIR=$SHMDEV_ROOT/userspace/tests
HOSTTESTS_OUT=$SHMDEV_BUILD/hosttests
# The benchmark program, which vm-check.sh also runs briefly (a smoke test).
BENCHPROG_DIR=$SHMDEV_ROOT/userspace/bench
BENCHPROG_OUT=$SHMDEV_BUILD/benchprog

# build_programs NAME DIR OUT [VAR=VALUE...]: make -C DIR OUTPUT=OUT, run
# by BUILD_RUNNER (empty: here; sid_run: in the sid chroot); a failure or
# any warning ends the run.
BUILD_RUNNER=()
build_programs() {
	local name=$1 dir=$2 out=$3 buildlog=$SHMDEV_BUILD/$1-build.log
	shift 3

	[[ -f $dir/Makefile ]] || die "$dir/Makefile missing"
	mkdir -p "$out"
	if ! "${BUILD_RUNNER[@]}" make -C "$dir" OUTPUT="$out" "$@" >"$buildlog" 2>&1 ||
		grep -q -i -E 'warning:' "$buildlog"; then
		cat "$buildlog" >&2
		die "$name build failed or warned ($buildlog)"
	fi
}

build_selftests() {
	local prog

	build_programs selftests "$SELFTESTS_DIR" "$SELFTESTS_OUT" \
		KSFT_DIR="$KSFT_DIR"
	for prog in shmdev_test shmdev_peer shmdev_race_test shmdev_stress \
		shmdev_fuzz shmdev_memhog; do
		[[ -x $SELFTESTS_OUT/$prog ]] ||
			die "selftests build produced no $SELFTESTS_OUT/$prog"
	done
	log "built selftests in $SELFTESTS_OUT"
}

build_examples() {
	build_programs examples "$EXAMPLES_DIR" "$EXAMPLES_OUT"
	log "built examples in $EXAMPLES_OUT"
}

build_libtests() {
	build_programs libtests "$LIBTESTS_DIR" "$LIBTESTS_OUT" \
		KSFT_DIR="$KSFT_DIR"
	[[ -x $LIBTESTS_OUT/libshmdev_test && -f $LIBTESTS_OUT/run.sh ]] ||
		die "libtests build produced no $LIBTESTS_OUT/libshmdev_test"
	log "built library tests in $LIBTESTS_OUT"
}

build_benchprog() {
	build_programs bench "$BENCHPROG_DIR" "$BENCHPROG_OUT"
	[[ -x $BENCHPROG_OUT/shmdev_bench ]] ||
		die "bench build produced no $BENCHPROG_OUT/shmdev_bench"
	log "built the benchmark program in $BENCHPROG_OUT"
}

# Python in the VM (issue 15): Debian's python3 with its standard library,
# pytest and numpy, taken from the host's packages, and the shmdev package
# with its tests at /python. build_python_stage copies them into
# PYTHON_STAGE, a tree that make_initramfs lays over the VM's root; the
# host's Python matches the host's C library, which the VM's programs use
# anyway. Left out: what the tests never import (tkinter, idlelib, lib2to3,
# the standard library's and numpy's own tests, the static library).
RIG_EXTRA_PACKAGES+=(python3 python3-pytest python3-numpy)
PYTHON_DIR=$SHMDEV_ROOT/python
PYTHON_STAGE=$SHMDEV_BUILD/python-stage
PYTHON_STAGED=0
# The pure-Python packages pytest 7 needs besides itself (dist-packages).
PYTHON_TEST_PACKAGES=(pytest _pytest pluggy iniconfig packaging py py.py
	attr attrs numpy)

build_python_stage() {
	local root=$PYTHON_STAGE python pyver item so

	python=$(readlink -f /usr/bin/python3)
	pyver=$(basename "$python")
	[[ -x $python && $pyver == python3.* ]] ||
		die "no Debian python3 at /usr/bin/python3"
	[[ -f $PYTHON_DIR/shmdev/__init__.py ]] ||
		die "$PYTHON_DIR/shmdev missing"
	rm -rf "$root"
	mkdir -p "$root/usr/lib/python3/dist-packages" "$root/python"
	add_elf "$root" "$python"
	ln -s "$pyver" "$root/usr/bin/python3"
	tar -C / --exclude="usr/lib/$pyver/test" \
		--exclude="usr/lib/$pyver/tkinter" --exclude="usr/lib/$pyver/idlelib" \
		--exclude="usr/lib/$pyver/turtledemo" \
		--exclude="usr/lib/$pyver/config-*" \
		--exclude="usr/lib/$pyver/dist-packages" \
		--exclude="usr/lib/$pyver/lib2to3" \
		--exclude="usr/lib/$pyver/pydoc_data" \
		-cf - "usr/lib/$pyver" | tar -C "$root" -xf -
	for item in "${PYTHON_TEST_PACKAGES[@]}"; do
		[[ ! -e /usr/lib/python3/dist-packages/$item ]] ||
			cp -a "/usr/lib/python3/dist-packages/$item" \
				"$root/usr/lib/python3/dist-packages/"
	done
	find "$root/usr/lib/python3/dist-packages/numpy" -type d -name tests \
		-prune -exec rm -rf {} +
	# Extension modules bring the shared libraries they load (libffi for
	# ctypes, OpenBLAS for numpy ...).
	while read -r so; do
		add_elf "$root" "$so"
	done < <(find "$root/usr/lib" -type f -name '*.so' | sed "s|^$root||")
	cp -a "$PYTHON_DIR/shmdev" "$PYTHON_DIR/tests" "$PYTHON_DIR/pyproject.toml" \
		"$root/python/"
	[[ ! -d $PYTHON_DIR/examples ]] || cp -a "$PYTHON_DIR/examples" "$root/python/"
	[[ ! -d $PYTHON_DIR/bench ]] || cp -a "$PYTHON_DIR/bench" "$root/python/"
	find "$root/python" -name __pycache__ -prune -exec rm -rf {} +
	chmod -R u+rwX,go+rX,go-w "$root"
	chroot "$root" /usr/bin/python3 -c 'import ctypes, pytest, numpy' ||
		die "the staged Python cannot import ctypes, pytest and numpy"
	PYTHON_STAGED=1
	log "staged $pyver, pytest, numpy and the shmdev package ($(du -sh "$root" | cut -f1)) in $root"
}

# run_host_python LOG: the Python package's pytest suite on the host, with
# this tree's libshmdev (the tests that need /dev/shmdev skip, and rings and
# mutexes run in memfd memory); prints "PASS FAIL SKIP" from its TAP (a
# failure without a failing test counts as one).
run_host_python() {
	local out=$1 rc=0 tap=$SHMDEV_BUILD/python-host.tap totals p f s e

	rm -f "$tap"
	(cd "$PYTHON_DIR" && SHMDEV_LIBRARY=$LIBTESTS_OUT/libshmdev.so.1 \
		PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m pytest \
		-p no:cacheprovider -q -rfEs --tap="$tap") >"$out" 2>&1 || rc=$?
	totals=$(sed -n 's/^# Totals: pass:\([0-9]*\) fail:\([0-9]*\) .* skip:\([0-9]*\) error:\([0-9]*\)$/\1 \2 \3 \4/p' \
		"$tap" 2>/dev/null)
	read -r p f s e <<<"${totals:-0 0 0 0}"
	f=$((f + e))
	((rc == 0 || f > 0)) || f=1
	echo "$p $f $s"
}

# The same programs as 32-bit x86 executables, for 32-bit callers of the
# ABI (compat_ioctl): selftests, library and shmdev-ctl tests, examples,
# under M32_OUT; the VM has them at /m32. The ring and sync tests run
# -m32 on the host (run_host_tests): see README.md, "32-bit callers".
M32_OUT=$SHMDEV_BUILD/m32
build_m32() {
	local cc=(CC="gcc -m32")

	build_programs selftests-m32 "$SELFTESTS_DIR" "$M32_OUT/selftests" \
		KSFT_DIR="$KSFT_DIR" "${cc[@]}"
	build_programs libtests-m32 "$LIBTESTS_DIR" "$M32_OUT/libtests" \
		KSFT_DIR="$KSFT_DIR" "${cc[@]}"
	build_programs examples-m32 "$EXAMPLES_DIR" "$M32_OUT/examples" \
		"${cc[@]}"
	file -L "$M32_OUT/selftests/shmdev_test" | grep -q 'ELF 32-bit' ||
		die "the 32-bit build made no 32-bit shmdev_test"
	log "built 32-bit selftests, library tests and examples in $M32_OUT"
}

# m32_to_initramfs ROOT: the 32-bit programs at /m32, with the selftests'
# Makefile, and the 32-bit loader and C library shmdev-ctl needs.
m32_to_initramfs() {
	local root=$1 item lib

	mkdir -p "$root/m32"
	cp -a "$M32_OUT/selftests" "$M32_OUT/libtests" "$M32_OUT/examples" \
		"$root/m32/"
	for item in Makefile settings config; do
		[[ ! -f $SELFTESTS_DIR/$item ]] ||
			cp "$SELFTESTS_DIR/$item" "$root/m32/selftests/"
	done
	chmod -R u+rwX,go+rX,go-w "$root/m32"
	while read -r lib; do
		[[ -e $root$lib ]] || install -D -m 0755 "$lib" "$root$lib"
	done < <(LD_LIBRARY_PATH=$M32_OUT/libtests ldd "$M32_OUT/libtests/shmdev-ctl" |
		awk '$2 == "=>" && $3 ~ /^\// && $1 != "libshmdev.so.1" { print $3 }
			$1 ~ /^\// { print $1 }')
}

# The ring and sync tests, static, for the VM (run there on shmdev).
build_ringsync() {
	build_programs ringsync "$HOSTTESTS_DIR" "$HOSTTESTS_OUT" \
		KSFT_DIR="$KSFT_DIR" vm
	log "built ring and sync tests for the VM in $HOSTTESTS_OUT/vm"
}

# run_host_tests LOG: the ring and sync tests on memfd, plain, under
# ASan+UBSan, under TSan and as 32-bit programs; prints "PASS FAIL SKIP"
# summed over their kselftest totals (a failure without a failing test
# counts as one).
run_host_tests() {
	local out=$1 rc=0 totals

	make -C "$HOSTTESTS_DIR" OUTPUT="$HOSTTESTS_OUT" KSFT_DIR="$KSFT_DIR" \
		run run-asan run-tsan >"$out" 2>&1 || rc=$?
	# And as a 32-bit program, on the host's own CPU (see build_m32).
	make -C "$HOSTTESTS_DIR" OUTPUT="$HOSTTESTS_OUT/m32" KSFT_DIR="$KSFT_DIR" \
		CC="gcc -m32" run >>"$out" 2>&1 || rc=$?
	totals=$(awk '/Totals: pass:/ {
			for (i = 1; i <= NF; i++) {
				split($i, kv, ":")
				if (kv[1] == "pass" || kv[1] == "xfail") p += kv[2]
				if (kv[1] == "fail" || kv[1] == "xpass" || kv[1] == "error") f += kv[2]
				if (kv[1] == "skip") s += kv[2]
			}
		}
		END { print p + 0, f + 0, s + 0 }' "$out")
	if ((rc != 0)) && [[ $totals == *" 0 "* ]]; then
		read -r p f s <<<"$totals"
		totals="$p $((f + 1)) $s"
	fi
	echo "$totals"
}

# ---------------------------------------------------------------------------
# Host fuzzing and the VM's test knobs (stress, fuzz, lifecycle)

# The libFuzzer targets (userspace/fuzz) need clang and libFuzzer.
RIG_EXTRA_PACKAGES+=(clang libclang-rt-dev)
FUZZ_DIR=$SHMDEV_ROOT/userspace/fuzz
FUZZ_OUT=$SHMDEV_BUILD/fuzz

# The Spin model of the SPSC ring's memory ordering (userspace/tests/model).
RIG_EXTRA_PACKAGES+=(spin)

# run_host_model LOG: its check.sh; prints "PASS FAIL SKIP" from its TAP
# totals (a failure without a failing test counts as one).
run_host_model() {
	local out=$1 rc=0 totals p f s e

	bash "$HOSTTESTS_DIR/model/check.sh" -q >"$out" 2>&1 || rc=$?
	totals=$(sed -n 's/^# Totals: pass:\([0-9]*\) fail:\([0-9]*\) .* skip:\([0-9]*\) error:\([0-9]*\)$/\1 \2 \3 \4/p' \
		"$out" | tail -n 1)
	read -r p f s e <<<"${totals:-0 0 0 0}"
	f=$((f + e))
	((rc == 0 || f > 0)) || f=1
	echo "$p $f $s"
}

# run_host_fuzz LOG: make -C userspace/fuzz run (FUZZ_SECS seconds per
# target, default 20); prints "PASS FAIL SKIP" from its TAP (a failure
# without a failing target counts as one: the build broke).
run_host_fuzz() {
	local out=$1 rc=0 pass fail

	make -C "$FUZZ_DIR" OUTPUT="$FUZZ_OUT" FUZZ_SECS="${FUZZ_SECS:-20}" \
		run >"$out" 2>&1 || rc=$?
	pass=$(grep -c -E '^ok [0-9]+ ' "$out" || true)
	fail=$(grep -c -E '^not ok [0-9]+ ' "$out" || true)
	if ((rc != 0 && fail == 0)); then
		fail=1
	fi
	echo "$pass $fail 0"
}

# Knobs of the VM's stress, fuzz and lifecycle tests (scripts/vm/knobs.sh)
# that are set in this environment, passed on as /etc/shmdev-test.env.
TEST_ENV_KNOBS=(SHMDEV_STRESS_SECS SHMDEV_STRESS_PROCS SHMDEV_STRESS_SEED
	SHMDEV_FUZZ_SECS SHMDEV_FUZZ_THREADS SHMDEV_FUZZ_SEED SHMDEV_RACE_SECS
	SHMDEV_LIFECYCLE_CYCLES SHMDEV_RMMOD_ATTEMPTS SHMDEV_EXHAUST
	SHMDEV_EXHAUST_SECS SHMDEV_SETTLE_SECS SHMDEV_SCALE_DEBUG
	SHMDEV_FAULTS_SECS SHMDEV_FAULTS_PROBS SHMDEV_TEST_MESSAGES)

# What each entry of the matrix runs, so that make check keeps within its
# time budget (README.md, Testing). On every kernel: the selftests as root
# (every path of the module), the ring and sync tests, the demo, stress,
# fuzzing, fault injection and the rig's tests (rmmod refused while in
# use, pages back to zero, reload). sid, the newest stable line, runs
# every section; the others leave out some of:
#  - the Python package and the benchmark's smoke run: user space over the
#    same ioctls, on sid only;
#  - the selftests as uid 1000: the permission checks, the same code on
#    every kernel (as root every test runs); on sid only;
#  - the 32-bit programs (the module's compat_ioctl is compat_ptr_ioctl,
#    the 64-bit handlers): on 6.1 and sid, the oldest and the newest line;
#  - the lifecycle section (200 load/unload cycles, global exhaustion,
#    whose outcome depends on the kernel's shmem): on 6.1 and sid (on the
#    debug kernel its 50 cycles took 177 s; the rig section's rmmod and
#    reload still run there, with kmemleak scans);
#  - the library and shmdev-ctl tests: not on the debug kernel, where
#    they took 142 s and reach the module through the same ioctls as the
#    selftests.
# The kernels that run the core only (CORE_ENTRIES) also run shorter
# stress and fuzz tests (SHORT_RUN_KNOBS). lib-cross.sh says what the
# emulated architectures leave out.
LEFT_OUT_SID_ONLY="python bench selftests-tester"
LEFT_OUT_CORE="$LEFT_OUT_SID_ONLY selftests-m32 libtests-m32 demo-m32 lifecycle"
CORE_ENTRIES="6.12 6.12-rt sid-rt rc debug"
declare -gA ENTRY_LEFT_OUT=([6.1]=$LEFT_OUT_SID_ONLY
	[debug]="$LEFT_OUT_CORE libtests")
for _entry in $CORE_ENTRIES; do
	: "${ENTRY_LEFT_OUT[$_entry]:=$LEFT_OUT_CORE}"
done
unset _entry
LEFT_OUT_REASON="runs on other kernels of the matrix (make check's time budget: README.md, Testing)"
SHORT_RUN_KNOBS=(SHMDEV_STRESS_SECS=30 SHMDEV_FUZZ_SECS=15)

# left_out KVER: the sections of vm/check.sh left out on KVER, then on a
# line of its own why; nothing if it runs them all.
left_out() {
	local entry=${KERNEL_ENTRY[$1]:-}

	if kernel_foreign "$1"; then
		printf '%s\n%s\n' "$CROSS_SKIP_SECTIONS" "$CROSS_SKIP_REASON"
	elif [[ -n $entry && -n ${ENTRY_LEFT_OUT[$entry]:-} ]]; then
		printf '%s\n%s\n' "${ENTRY_LEFT_OUT[$entry]}" "$LEFT_OUT_REASON"
	fi
}

# knobs_env KVER: the knobs of vm/knobs.sh that KVER's kind sets
# (SHORT_RUN_KNOBS, lib-cross.sh's CROSS_KNOBS) and the environment does
# not, as lines of /etc/shmdev-test.env.
knobs_env() {
	local knobs=() knob name

	if kernel_foreign "$1"; then
		knobs=("${CROSS_KNOBS[@]}")
	elif [[ " $CORE_ENTRIES " == *" ${KERNEL_ENTRY[$1]:-} "* ]]; then
		knobs=("${SHORT_RUN_KNOBS[@]}")
	fi
	for knob in "${knobs[@]}"; do
		name=${knob%%=*}
		[[ -n ${!name:-} ]] || printf 'export %s\n' "$knob"
	done
}

# left_out_env KVER: the same as lines of /etc/shmdev-test.env
# (SHMDEV_SKIP_SECTIONS, SHMDEV_SKIP_REASON), read by vm/check.sh.
left_out_env() {
	local sections reason

	{ read -r sections && read -r reason; } < <(left_out "$1") || return 0
	printf 'export SHMDEV_SKIP_SECTIONS=%q\nexport SHMDEV_SKIP_REASON=%q\n' \
		"$sections" "$reason"
}

write_test_env() {
	local knob

	: >"$1"
	for knob in "${TEST_ENV_KNOBS[@]}"; do
		[[ -z ${!knob:-} ]] ||
			printf 'export %s=%q\n' "$knob" "${!knob}" >>"$1"
	done
}

# ---------------------------------------------------------------------------
# Initramfs

# add_elf ROOT FILE [DEST]: copy an executable into ROOT at DEST (default:
# its own path) together with the shared libraries and loader ldd lists,
# each at the path ldd prints; a program of another architecture than the
# host's (ELF_ARCH) with what lib-cross.sh's cross_add_elf finds.
ELF_ARCH=amd64
add_elf() {
	local root=$1 file=$2 dest=${3:-$2} lib libs

	if [[ $ELF_ARCH != amd64 ]]; then
		cross_add_elf "$root" "$file" "$dest"
		return
	fi
	install -D -m 0755 "$file" "$root$dest"
	# A static binary makes ldd say "not a dynamic executable" and fail.
	libs=$(ldd "$file" 2>/dev/null || true)
	if grep -q 'not found' <<<"$libs"; then
		die "$file: shared library not found: $(grep 'not found' <<<"$libs" | tr -s ' \t' ' ')"
	fi
	while read -r lib; do
		[[ -n $lib ]] || continue
		[[ -e $root$lib ]] || install -D -m 0755 "$lib" "$root$lib"
	done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 }
		$1 ~ /^\// { print $1 }' <<<"$libs")
}

# make_initramfs KVER WORKDIR PAYLOAD [EXTRA...]
# Builds WORKDIR/initrd.img with the module for KVER, the built selftests,
# the rig's VM scripts under /rig, PAYLOAD as /run.sh (run by /init after
# insmod) and each EXTRA given as SRC or SRC:DEST (default /opt/<name>).
make_initramfs() {
	local kver=$1 work=$2 payload=$3 root applet item extra src dest mods
	local ELF_ARCH progs
	shift 3

	ELF_ARCH=$(kernel_arch "$kver")
	progs=$(programs_root "$kver")
	root=$work/initramfs
	rm -rf "$root"
	mkdir -p "$root"
	chmod 0755 "$root" # users other than root must be able to enter it
	(
		cd "$root" || exit 1
		mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root rig
		chmod 1777 tmp
		chmod 0700 root
		mknod -m 0600 dev/console c 5 1
		mknod -m 0666 dev/null c 1 3
	)

	if [[ $ELF_ARCH == amd64 ]]; then
		add_elf "$root" /bin/busybox
		for applet in $(/bin/busybox --list); do
			[[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
		done
		add_elf "$root" /usr/bin/make
	else
		cross_initramfs_base "$root"
	fi

	cat >"$root/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		tester:x:1000:1000:shmdev tester:/tmp:/bin/sh
		tester2:x:1001:1001:shmdev tester 2:/tmp:/bin/sh
	EOF
	cat >"$root/etc/group" <<-'EOF'
		root:x:0:
		tester:x:1000:
		tester2:x:1001:
	EOF

	write_test_env "$root/etc/shmdev-test.env"
	{ knobs_env "$kver"; left_out_env "$kver"; } >>"$root/etc/shmdev-test.env"

	install -m 0755 "$SHMDEV_SCRIPTS/vm/init" "$root/init"
	install -m 0755 "$SHMDEV_SCRIPTS"/vm/*.sh "$root/rig/"
	install -m 0644 "$(module_path "$kver")" "$root/shmdev.ko"
	# The disk drivers, where the kernel has them as modules.
	mods=$SHMDEV_CACHE/kernels/$kver/modules
	if [[ -s $mods/order ]]; then
		mkdir -p "$root/modules"
		cp "$mods/order" "$mods"/*.ko "$root/modules/"
	fi
	install -m 0755 "$payload" "$root/run.sh"
	# /selftests: the programs, and the Makefile whose run_tests runs them.
	if [[ -x $progs/selftests/shmdev_test ]]; then
		mkdir -p "$root/selftests"
		cp -a "$progs/selftests/." "$root/selftests/"
		for item in Makefile settings config; do
			[[ ! -f $SELFTESTS_DIR/$item ]] ||
				cp "$SELFTESTS_DIR/$item" "$root/selftests/"
		done
		chmod -R u+rwX,go+rX,go-w "$root/selftests"
	fi
	if [[ $ELF_ARCH == amd64 ]]; then
		[[ ! -x $M32_OUT/selftests/shmdev_test ]] || m32_to_initramfs "$root"
		((PYTHON_STAGED == 0)) || cp -a "$PYTHON_STAGE/." "$root/"
	fi
	for extra in "$@"; do
		src=${extra%%:*}
		dest=${extra#*:}
		[[ $dest != "$extra" ]] || dest=/opt/$(basename "$src")
		[[ -e $src ]] || die "--add: $src does not exist"
		if [[ -f $src && -x $src ]]; then
			add_elf "$root" "$src" "$dest"
		else
			mkdir -p "$(dirname "$root$dest")"
			cp -a "$src" "$root$dest"
			# shmdev-ctl and libshmdev.so.1 of /libtests need the C
			# library of their architecture.
			[[ $ELF_ARCH == amd64 || ! -d $src ]] ||
				while IFS= read -r -d '' item; do
					cross_add_libs "$root" "$item"
				done < <(find "$src" -type f -perm -u+x -print0)
		fi
	done

	(cd "$root" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$work/initrd.img"
}

# ---------------------------------------------------------------------------
# Boot and parse

# Kernel command line. An oops, or a task hung for 120 s, panics the VM so
# that QEMU exits at once (panic=-1, -no-reboot) with the trace on the
# console, instead of the test hanging on a half-dead kernel until timeout.
# x86-64 adds VM_CMDLINE_X86 (another architecture its console,
# lib-cross.sh): the serial console, and tsc=reliable: under a loaded host the emulated TSC drifts from the HPET,
# the clocksource watchdog then marks it unstable, and the kernel patches
# sched_clock's static branch while the tests run; QEMU's TCG once ran a
# stale translation of that patch (an int3 oops in sched_clock_cpu, 6.12,
# in the middle of shmdev_race_test). Without the watchdog the clock is
# never re-patched.
VM_CMDLINE="panic=-1 oops=panic hung_task_panic=1 rdinit=/init loglevel=4"
VM_CMDLINE_X86="console=ttyS0 tsc=reliable"

# vm_numa_args: QEMU options that split VM_MEM (e.g. 2G, 2048M) between two
# NUMA nodes, the CPUs on node 0, so that tests can place pages with mbind()
# and set_mempolicy(). One node (no options) if VM_NUMA=0.
vm_numa_args() {
	local mib

	[[ ${VM_NUMA:-1} != 0 ]] || return 0
	case $VM_MEM in
	*[Gg]) mib=$((${VM_MEM%[Gg]} * 1024)) ;;
	*[Mm]) mib=${VM_MEM%[Mm]} ;;
	*) mib=$VM_MEM ;;
	esac
	printf '%s\n' \
		-object "memory-backend-ram,id=mem0,size=$((mib / 2))M" \
		-object "memory-backend-ram,id=mem1,size=$((mib - mib / 2))M" \
		-numa "node,nodeid=0,cpus=0-$((VM_SMP - 1)),memdev=mem0" \
		-numa "node,nodeid=1,memdev=mem1"
}

# vm_disks WORKDIR PAGESIZE: the VM's two virtio disks, sparse files: vda
# (swap, VM_SWAP_MB, default 256) which /init turns on, its header made for
# the guest's page size (swapon refuses another), and vdb (16 MiB), raw,
# for the O_DIRECT test.
vm_disks() {
	rm -f "$1/swap.img" "$1/direct.img"
	truncate -s "${VM_SWAP_MB:-256}M" "$1/swap.img"
	chmod 0600 "$1/swap.img"
	# Holes in the image are no matter: the VM sees a block device.
	mkswap -p "$2" "$1/swap.img" >/dev/null 2>&1 || die "mkswap $1/swap.img failed"
	truncate -s 16M "$1/direct.img"
}

# Seconds from QEMU's start to the VM's first marker (/init's first line:
# about 15 s here, 33 s for the debug kernel), and seconds a kernel that
# panicked has to end QEMU by itself.
VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-240}
VM_PANIC_GRACE=${VM_PANIC_GRACE:-15}

# vm_watch LOG MARKER PIDFILE PARENT: runs in the background beside a QEMU
# that writes its pid to PIDFILE and its console to LOG, until QEMU or the
# shell PARENT is gone. It stops QEMU (SIGTERM) and says why when
#  - the kernel printed a panic VM_PANIC_GRACE s ago and QEMU still runs:
#    panic=-1 with -no-reboot should have ended it at once, but a panic in
#    interrupt context has been seen to leave the VM spinning until the
#    run's timeout (900 s);
#  - MARKER has not appeared VM_BOOT_TIMEOUT s after the start.
vm_watch() {
	local log=$1 marker=$2 pidfile=$3 parent=$4 pid='' begun=0 panicked=''
	local start=$SECONDS

	while sleep 2 && kill -0 "$parent" 2>/dev/null; do
		if [[ -z $pid ]]; then
			pid=$(cat "$pidfile" 2>/dev/null) || pid=''
			[[ -n $pid ]] || continue
		fi
		kill -0 "$pid" 2>/dev/null || return 0
		if ((!begun)); then
			if grep -aqF "$marker" "$log"; then
				begun=1
			elif ((SECONDS - start >= VM_BOOT_TIMEOUT)); then
				log "no \"$marker\" on the console $VM_BOOT_TIMEOUT s after QEMU started: stopping QEMU"
				kill "$pid" 2>/dev/null || true
				return 0
			fi
		fi
		if [[ -z $panicked ]]; then
			! grep -aqF 'Kernel panic - not syncing' "$log" || panicked=$SECONDS
		elif ((SECONDS - panicked >= VM_PANIC_GRACE)); then
			log "the kernel panicked and QEMU still ran $VM_PANIC_GRACE s later: stopping QEMU"
			kill "$pid" 2>/dev/null || true
			return 0
		fi
	done
}

# qemu_once LOG MARKER TIMEOUT QEMU...: run the QEMU command line under
# `timeout TIMEOUT`, console to LOG, watched by vm_watch for MARKER.
# Returns QEMU's status (124: timed out).
qemu_once() {
	local log=$1 marker=$2 limit=$3 pidfile watcher rc=0

	shift 3
	pidfile=$log.qemu-pid
	rm -f "$pidfile"
	vm_watch "$log" "$marker" "$pidfile" "$BASHPID" &
	watcher=$!
	# --foreground: QEMU stays in our process group, so that interrupting
	# or killing the run stops it too.
	timeout --foreground -k 10 "$limit" "$@" -pidfile "$pidfile" \
		</dev/null >"$log" 2>&1 || rc=$?
	kill "$watcher" 2>/dev/null || true
	wait "$watcher" 2>/dev/null || true
	rm -f "$pidfile"
	return "$rc"
}

# qemu_watched LOG MARKER TIMEOUT QEMU...: qemu_once, and once more if the
# VM died or hung (vm_watch stops it) before MARKER appeared. MARKER is
# the first line of the VM's init, which runs everything of ours (the
# module is loaded after it): a kernel that dies before it ran none of
# it. TCG has been seen to trip over the kernel's own text patching while
# it boots (6.12: an int3 oops in sched_clock_cpu() 1.3 s in; a fault in
# enqueue_timer() 1.6 s in, the VM left spinning). The failed boot's log
# is kept as LOG.boot-failure. Returns QEMU's status (124: timed out).
qemu_watched() {
	local log=$1 marker=$2 rc=0

	qemu_once "$@" || rc=$?
	if ((rc != 124)) && ! grep -aqF "$marker" "$log"; then
		mv "$log" "$log.boot-failure"
		log "the kernel did not reach its init" \
			"($log.boot-failure); booting again"
		rc=0
		qemu_once "$@" || rc=$?
	fi
	return "$rc"
}

# boot_vm KVER WORKDIR NONCE: boot WORKDIR/initrd.img, console to
# WORKDIR/console.log. Returns QEMU's status (124: timed out).
boot_vm() {
	local kver=$1 work=$2 nonce=$3 rc=0 numa=() qemu cmdline

	mapfile -t numa < <(vm_numa_args)
	vm_disks "$work" "$(kernel_page_size "$kver")"
	if kernel_foreign "$kver"; then
		mapfile -t qemu < <(cross_qemu "$kver")
		cmdline="console=${CROSS_CONSOLE[$(kernel_arch "$kver")]} $VM_CMDLINE"
	else
		qemu=(qemu-system-x86_64)
		cmdline="$VM_CMDLINE_X86 $VM_CMDLINE"
	fi
	qemu_watched "$work/console.log" "SHMDEV-VM-BEGIN $nonce" \
		"$(kernel_vm_timeout "$kver")" "${qemu[@]}" \
		-accel tcg,thread=multi -smp "$VM_SMP" -m "$VM_MEM" "${numa[@]}" \
		-nographic -no-reboot -nic none \
		-drive "file=$work/swap.img,if=virtio,format=raw" \
		-drive "file=$work/direct.img,if=virtio,format=raw" \
		-kernel "$(kernel_image "$kver")" \
		-initrd "$work/initrd.img" \
		-append "$cmdline ${KERNEL_APPEND[$kver]:+${KERNEL_APPEND[$kver]} }SHMDEV_NONCE=$nonce" ||
		rc=$?
	return "$rc"
}

new_nonce() {
	od -An -N6 -tx1 /dev/urandom | tr -d ' \n'
}

# parse_console LOG NONCE SECTIONS: print the awk parser's findings, lines of
#   TOTALS pass fail skip    sums of the kselftest "Totals:" lines and rig
#                            checks (one line, always printed last)
#   FAILED text              a failing test line
#   DETAIL text              diagnostics printed before it (up to 8 lines)
#   PROBLEM text             something that counts as one failure
#   DMESG text               an offending kernel log line
#   STATUS section rc        exit status of each section
#   SECTION name pass fail skip   totals of a section that printed some
# SECTIONS lists the sections that must each report kselftest totals.
parse_console() {
	awk -v nonce="$2" -v sections="$3" -v bad="$DMESG_BAD_PATTERN" \
		-f "$SHMDEV_SCRIPTS/parse-console.awk" "$1"
}

# Print the part of a console log between the markers (payload output).
console_output() {
	awk -v nonce="$2" '
		{ sub(/\r+$/, "") }
		$0 ~ "SHMDEV-VM-BEGIN " nonce "$" { on = 1; next }
		$0 ~ "SHMDEV-VM-DMESG-BEGIN " nonce "$" { on = 0 }
		!on || index($0, "SHMDEV-VM-STATUS " nonce " ") == 1 { next }
		# Blank lines are held back: the end marker brings one of its own.
		$0 == "" { blank++; next }
		{ for (; blank > 0; blank--) print ""; print }
	' "$1"
}

# ---------------------------------------------------------------------------
# Steps shared by vm-check.sh and vm-run.sh

require_root() {
	[[ $EUID == 0 ]] ||
		die "run as root: it installs packages, writes $SHMDEV_CACHE and creates device nodes"
}

require_module_sources() {
	local item

	for item in Kbuild module include; do
		[[ -e $SHMDEV_ROOT/$item ]] ||
			die "$SHMDEV_ROOT/$item missing: the module sources are not there yet"
	done
}

# prepare_host: packages, kernel images and kselftest headers for KVERS,
# in two steps: the host's packages and the sid chroot's headers
# (prepare_host_packages), then the kernels and the kernel source files
# (prepare_host_files). If packages are missing the package lists are
# refreshed first, and a matrix read from possibly stale lists is resolved
# again.
prepare_host() {
	prepare_host_packages
	prepare_host_files
}

prepare_host_packages() {
	local pkgs kver

	phase_begin "install packages"
	mapfile -t pkgs < <(rig_packages "${KVERS[@]}")
	if ((KVERS_FROM_ARCHIVE)) && [[ -n $(missing_packages "${pkgs[@]}") ]]; then
		apt_update
		resolve_kernels
		mapfile -t pkgs < <(rig_packages "${KVERS[@]}")
	fi
	ensure_packages "${pkgs[@]}"
	phase_end

	mapfile -t pkgs < <(for kver in $(sid_kvers); do
		echo "linux-headers-$kver$(! kernel_foreign "$kver" ||
			echo ":$(kernel_arch "$kver")")"
	done)
	if ((${#pkgs[@]})); then
		phase_begin "headers in the sid chroot"
		sid_ensure_packages "${pkgs[@]}"
		phase_end
	fi
}

prepare_host_files() {
	local kver

	phase_begin "fetch kernels and kernel source files"
	for kver in "${KVERS[@]}"; do
		fetch_kernel "$kver"
	done
	fetch_source_files
	phase_end
}

# read_payload_findings LOG NONCE: what parse_console found in the console
# log of a boot that ran one payload without sections: its exit status
# (VM_PAYLOAD_STATUS, empty if it did not finish), problems (VM_PROBLEMS)
# and offending kernel log lines (VM_DMESG).
VM_PAYLOAD_STATUS=''
VM_PROBLEMS=()
VM_DMESG=()
# shellcheck disable=SC2034 # read by the scripts that source this file
read_payload_findings() {
	local kind text

	VM_PAYLOAD_STATUS=''
	VM_PROBLEMS=()
	VM_DMESG=()
	while read -r kind text; do
		case $kind in
		STATUS) [[ $text != payload\ * ]] || VM_PAYLOAD_STATUS=${text#payload } ;;
		PROBLEM) VM_PROBLEMS+=("$text") ;;
		DMESG) VM_DMESG+=("$text") ;;
		esac
	done < <(parse_console "$1" "$2" "")
}

# print_list HEADING ITEM...: the heading and the items, indented; nothing
# when there are no items.
print_list() {
	(($# > 1)) || return 0
	echo "$1"
	shift
	printf '  %s\n' "$@"
}

# vm_unfinished LOG: the last boot (run_vm) failed or did not reach the end
# of its payload.
vm_unfinished() {
	((VM_STATUS != 0)) || ! grep -q "SHMDEV-VM-END $VM_NONCE" "$1"
}

# console_tail LOG: the last lines of a console log, without terminal
# escapes and indented, to show why a boot went wrong.
console_tail() {
	tail -n 30 "$1" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/^/  | /'
}

# run_vm KVER WORKDIR PAYLOAD [EXTRA...]: initramfs and boot, each a phase.
# Sets VM_NONCE and VM_STATUS (QEMU's exit status, 124 for a timeout).
run_vm() {
	local kver=$1 work=$2

	mkdir -p "$work"
	phase_begin "initramfs ($kver)"
	make_initramfs "$@"
	phase_end

	VM_NONCE=$(new_nonce)
	VM_STATUS=0
	phase_begin "boot and test in QEMU ($kver)"
	log "console log: $work/console.log (timeout $(kernel_vm_timeout "$kver") s)"
	boot_vm "$kver" "$work" "$VM_NONCE" || VM_STATUS=$?
	phase_end
	if ((VM_STATUS == 124)); then
		log "QEMU timed out after $(kernel_vm_timeout "$kver") s"
	elif ((VM_STATUS != 0)); then
		log "QEMU exited with status $VM_STATUS"
	fi
}
