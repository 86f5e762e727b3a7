#!/bin/busybox sh
# /init of the cgroup v2 test VM (PID 1 in the initramfs built by test/vm/build.sh).
# Mounts the kernel filesystems and a unified cgroup v2 hierarchy (nothing else: the kernel is
# booted with cgroup_no_v1=all), loads the virtio modules, mounts the ext4 guest root from
# /dev/vda, runs /vm/guest-checks.sh chrooted into it, prints the end marker and powers off.
# Every line it prints starts with "VM:" except the checks' own output.
/bin/busybox --install -s /bin
export PATH=/bin
up() { cut -d' ' -f1 /proc/uptime; }
fatal() {
  echo "VM: FATAL $*"
  poweroff -f
  sleep 10
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "VM: init at uptime $(up)s, kernel $(uname -r), $(nproc) cpus, $(grep MemTotal /proc/meminfo | tr -s ' ')"

for m in $(cat /lib/modules/load-order); do
  insmod "/lib/modules/$m.ko" || echo "VM: insmod $m failed"
done

mount -t cgroup2 cgroup2 /sys/fs/cgroup || fatal "cannot mount cgroup2"
echo "VM: cgroup2 at /sys/fs/cgroup, controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"

i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || fatal "no /dev/vda (virtio_blk not loaded?)"
mount -t ext4 -o rw,noatime /dev/vda /newroot || fatal "cannot mount /dev/vda"

# hand the kernel filesystems (with the cgroup2 mount under /sys) to the guest root
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /newroot/tmp
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run
mkdir -p /newroot/dev/shm /newroot/dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
hostname joblet-vm
ip link set lo up || echo "VM: cannot bring up lo"

echo "VM: guest root mounted, running the checks at uptime $(cut -d' ' -f1 /newroot/proc/uptime)s"
chroot /newroot /bin/sh /vm/guest-checks.sh
rc=$?
sync
echo "VM: JOBLET-VM END checks-exit=$rc uptime=$(cut -d' ' -f1 /newroot/proc/uptime)s"
umount /newroot/tmp 2>/dev/null
mount -o remount,ro /newroot 2>/dev/null
poweroff -f
sleep 10
