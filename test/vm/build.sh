#!/usr/bin/env bash
# test/vm/build.sh OUT_DIR JOBLET_BINARY
#
# Builds everything the cgroup v2 test VM boots (see test/vm/run.sh):
#   OUT_DIR/kernel/<version>/vmlinuz        Debian cloud kernel (from the linux-image-cloud-amd64
#   OUT_DIR/kernel/<version>/modules/*.ko   meta package) and the few modules the VM loads
#   OUT_DIR/initramfs.cpio.gz               busybox + test/vm/guest-init.sh as /init + modules
#   OUT_DIR/guest-root.img                  ext4: the guest root (joblet, its libraries, busybox,
#                                           static test programs, test/vm/guest-checks.sh)
# Idempotent: the kernel package is downloaded once into OUT_DIR/debs and reused (also when apt
# has no lists or no network); the initramfs and the disk image are rebuilt on every run, so
# each boot starts from a clean guest root. Needs: apt-get, dpkg-deb, busybox-static, gcc
# (static libc), mke2fs (e2fsprogs), gzip.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 OUT_DIR JOBLET_BINARY" >&2; exit 2; }
OUT=$(realpath -m "$1")
JOBLET=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

# Modules the guest loads, in load order (their depends= are added in front automatically).
# virtio_blk for the data disk; bridge/veth/overlay so later network and runtime checks can run.
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk llc stp bridge veth overlay)
KERNEL_META=linux-image-cloud-amd64
ROOT_SIZE=640M

log() { echo "vm-build: $*" >&2; }
die() { echo "vm-build: error: $*" >&2; exit 1; }

for tool in dpkg-deb gcc mke2fs gzip; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || die "busybox is missing (apt-get install busybox-static)"
case "$(ldd "$BUSYBOX" 2>&1 || true)" in *"not a dynamic"*) ;; *) 
  die "$BUSYBOX is not statically linked (apt-get install busybox-static)" ;; esac
[ -x "$JOBLET" ] || die "$JOBLET is not an executable (npm run build)"

mkdir -p "$OUT/debs" "$OUT/kernel"
TMP=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# ---------------------------------------------------------------------------------------------
# Kernel: the package the cloud meta package depends on now, downloaded once.
resolve_kernel() {
  apt-cache depends "$KERNEL_META" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
KPKG=$(resolve_kernel)
if [ -z "$KPKG" ] && [ "$(id -u)" = 0 ]; then
  log "apt knows no $KERNEL_META: apt-get update"
  apt-get update -qq >/dev/null 2>&1 || true
  KPKG=$(resolve_kernel)
fi
if [ -n "$KPKG" ]; then
  DEB=$(ls "$OUT/debs/${KPKG}_"*.deb 2>/dev/null | tail -n 1 || true)
  if [ -z "$DEB" ]; then
    log "downloading $KPKG"
    mkdir -p "$TMP/dl"
    (cd "$TMP/dl" && apt-get download -qq -o APT::Sandbox::User=root "$KPKG" >/dev/null) ||
      die "apt-get download $KPKG failed"
    DEB=$(ls "$TMP/dl/${KPKG}_"*.deb | tail -n 1)
    mv "$DEB" "$OUT/debs/"
    DEB="$OUT/debs/$(basename "$DEB")"
    # keep one kernel in the cache
    find "$OUT/debs" -name 'linux-image-*.deb' ! -name "$(basename "$DEB")" -delete
  fi
else
  DEB=$(ls "$OUT/debs/"linux-image-*.deb 2>/dev/null | tail -n 1 || true)
  [ -n "$DEB" ] || die "cannot resolve $KERNEL_META (apt-get update?) and no kernel is cached in $OUT/debs"
  KPKG=$(basename "$DEB" | cut -d_ -f1)
  log "apt cannot resolve $KERNEL_META: using the cached $KPKG"
fi
KVER=${KPKG#linux-image-}
KDIR="$OUT/kernel/$KVER"
STAMP="$(basename "$DEB") ${MODULES[*]}"

if [ "$(cat "$KDIR/.stamp" 2>/dev/null)" != "$STAMP" ]; then
  log "extracting $(basename "$DEB")"
  rm -rf "$KDIR"
  mkdir -p "$TMP/deb" "$TMP/kernel/modules"
  dpkg-deb -x "$DEB" "$TMP/deb"
  MODROOT="$TMP/deb/lib/modules/$KVER"
  [ -d "$MODROOT" ] || MODROOT="$TMP/deb/usr/lib/modules/$KVER"
  cp "$TMP/deb/boot/vmlinuz-$KVER" "$TMP/kernel/vmlinuz"
  declare -A SEEN=()
  ORDER=()
  add_module() {
    local m=$1 f deps d
    [ -n "${SEEN[$m]:-}" ] && return 0
    SEEN[$m]=1
    f=$(find "$MODROOT/kernel" \( -name "$m.ko" -o -name "${m//_/-}.ko" \) -print -quit)
    if [ -z "$f" ]; then
      if grep -Eq "/(${m}|${m//_/-})\.ko$" "$MODROOT/modules.builtin" 2>/dev/null; then return 0; fi
      die "module $m not found in $KPKG (compressed modules are not supported)"
    fi
    deps=$(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | tr ',' ' ')
    for d in $deps; do add_module "$d"; done
    cp "$f" "$TMP/kernel/modules/$m.ko"
    ORDER+=("$m")
  }
  for m in "${MODULES[@]}"; do add_module "$m"; done
  printf '%s\n' "${ORDER[@]}" >"$TMP/kernel/modules/load-order"
  echo "$STAMP" >"$TMP/kernel/.stamp"
  mv "$TMP/kernel" "$KDIR"
  rm -rf "$TMP/deb"
fi
ln -sfn "kernel/$KVER/vmlinuz" "$OUT/vmlinuz"

# ---------------------------------------------------------------------------------------------
# Initramfs: busybox, /init and the modules.
IR="$TMP/initramfs"
mkdir -p "$IR/bin" "$IR/lib/modules" "$IR/proc" "$IR/sys" "$IR/dev" "$IR/tmp" "$IR/run" "$IR/newroot"
cp "$BUSYBOX" "$IR/bin/busybox"
ln -s busybox "$IR/bin/sh"
cp "$HERE/guest-init.sh" "$IR/init"
chmod 0755 "$IR/init"
cp "$KDIR/modules/"* "$IR/lib/modules/"
(cd "$IR" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null) | gzip -1 >"$TMP/initramfs.cpio.gz"
mv "$TMP/initramfs.cpio.gz" "$OUT/initramfs.cpio.gz"

# ---------------------------------------------------------------------------------------------
# Guest root.
R="$TMP/root"
mkdir -p "$R"/{bin,etc,lib64,opt/joblet/bin,usr/local/bin,vm,proc,sys,dev,tmp,run,root,var/log,var/lib/joblet,var/tmp}
chmod 1777 "$R/tmp" "$R/var/tmp"
chmod 0700 "$R/root"

# busybox and every applet as a symlink in /bin
cp "$BUSYBOX" "$R/bin/busybox"
for a in $("$BUSYBOX" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"
done

# the daemon/client binary, its libraries (exactly what ldd lists) and the dynamic loader
cp "$JOBLET" "$R/opt/joblet/bin/joblet"
ln -s joblet "$R/opt/joblet/bin/rnx"
LIBS=$(ldd "$JOBLET" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }')
for lib in $LIBS /lib64/ld-linux-x86-64.so.2; do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib"
done

# static test programs
for p in busy memhog forkcount; do
  gcc -static -O2 -Wall -o "$R/usr/local/bin/$p" "$HERE/programs/$p.c"
done
gcc -static -O2 -o "$R/usr/local/bin/probe" "$REPO/test/fixtures/probe/probe.c"
strip "$R/usr/local/bin/"* 2>/dev/null || true

# a minimal /etc
cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$R/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
cat >"$R/etc/hosts" <<'EOF'
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
EOF
cat >"$R/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files
EOF
echo joblet-vm >"$R/etc/hostname"
: >"$R/etc/resolv.conf"

cp "$HERE/guest-checks.sh" "$R/vm/guest-checks.sh"
chmod 0755 "$R/vm/guest-checks.sh"

mke2fs -q -F -t ext4 -L joblet-vm -d "$R" "$TMP/guest-root.img" "$ROOT_SIZE" >/dev/null
mv "$TMP/guest-root.img" "$OUT/guest-root.img"
log "kernel $KVER, initramfs $(du -h "$OUT/initramfs.cpio.gz" | cut -f1), guest root $(du -h "$OUT/guest-root.img" | cut -f1) used of $ROOT_SIZE"
