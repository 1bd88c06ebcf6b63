#!/bin/bash
# Builds the import fixtures with real tools from a root file system tree (the cached
# Debian image): Usage: make-oci-images.sh ROOTFS_DIR OUT_DIR [NAME]
#   OUT/oci                 OCI layout (umoci), tag NAME: layer 1 = ROOTFS; layer 2
#                           overwrites /etc/motd, deletes /usr/share/doc, adds /opt/hpai
#                           (files, a symlink, a hard link, a setuid file); config with
#                           Env, WorkingDir and Cmd
#   OUT/oci.tar             the same layout as an OCI archive
#   OUT/docker.tar          docker-save archive (skopeo copy ... docker-archive:)
#   OUT/rootfs.tar.gz       ROOTFS as a flat tar.gz (docker export style)
#   OUT/umoci-ref/rootfs    what `umoci unpack --rootless` makes of OUT/oci
# Cached: nothing is rebuilt while OUT/.complete exists.
set -euo pipefail
rootfs=$1
out=$2
name=${3:-fixture}
[ -f "$out/.complete" ] && { echo "make-oci-images: using cached $out"; exit 0; }
for tool in umoci skopeo tar; do
  command -v $tool >/dev/null || { echo "make-oci-images: $tool is not installed" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out"
work="$out/work"
umoci init --layout "$out/oci"
umoci new --image "$out/oci:$name"
umoci unpack --rootless --image "$out/oci:$name" "$work"
tar -C "$rootfs" --exclude=./.hpai-complete -cf - . | tar -C "$work/rootfs" -xf -
umoci repack --refresh-bundle --image "$out/oci:$name" "$work"

echo "changed by layer 2" > "$work/rootfs/etc/motd"
rm -rf "$work/rootfs/usr/share/doc"
mkdir -p "$work/rootfs/opt/hpai/sub"
echo "added by layer 2" > "$work/rootfs/opt/hpai/file"
head -c 100000 /dev/urandom > "$work/rootfs/opt/hpai/sub/random.bin"
ln -s ../etc/motd "$work/rootfs/opt/hpai/motd-link"
ln "$work/rootfs/opt/hpai/file" "$work/rootfs/opt/hpai/hardlink"
cp "$work/rootfs/bin/true" "$work/rootfs/opt/hpai/setuid-true" && chmod 4755 "$work/rootfs/opt/hpai/setuid-true"
umoci repack --image "$out/oci:$name" "$work"
umoci config --image "$out/oci:$name" --config.env HPAI_FIXTURE=layered --config.workingdir /opt/hpai \
  --config.cmd cat --config.cmd /opt/hpai/file --config.label org.hpai.fixture=yes
umoci gc --layout "$out/oci"
rm -rf "$work"

(cd "$out/oci" && tar -cf ../oci.tar .)
skopeo copy --quiet "oci:$out/oci:$name" "docker-archive:$out/docker.tar:hpai/$name:latest"
tar -C "$rootfs" --exclude=./.hpai-complete -czf "$out/rootfs.tar.gz" .
umoci unpack --rootless --image "$out/oci:$name" "$out/umoci-ref"
chmod -R a+rX "$out"
touch "$out/.complete"
echo "make-oci-images: built $out"
