# OCI image archives from a root filesystem, without a registry or Docker: shared by
# cluster.sh (the bundled cluster's images) and dns-image.sh (a DNS server image of your own).
# shellcheck shell=bash

# make_image <out.tar> <ref> <rootfs> <entrypoint JSON> [user]: one-layer OCI archive whose
# index names the image <ref> (io.containerd.image.name), as `ctr images import` reads it.
make_image() {
  local out=$1 ref=$2 rootfs=$3 entry=$4 user=${5:-} tmp ldig lsize cdig csize mdig msize
  tmp=$(mktemp -d); mkdir -p "$tmp/blobs/sha256"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$tmp/layer.tar" .
  ldig=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1); lsize=$(stat -c %s "$tmp/layer.tar")
  mv "$tmp/layer.tar" "$tmp/blobs/sha256/$ldig"
  jq -cn --arg d "sha256:$ldig" --argjson e "$entry" --arg u "$user" '{
    architecture: "amd64", os: "linux",
    config: ({Entrypoint: $e, Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], WorkingDir: "/"}
             + (if $u == "" then {} else {User: $u} end)),
    rootfs: {type: "layers", diff_ids: [$d]}}' > "$tmp/config.json"
  cdig=$(sha256sum "$tmp/config.json" | cut -d' ' -f1); csize=$(stat -c %s "$tmp/config.json")
  mv "$tmp/config.json" "$tmp/blobs/sha256/$cdig"
  jq -cn --arg c "sha256:$cdig" --argjson cs "$csize" --arg l "sha256:$ldig" --argjson ls "$lsize" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
    layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $l, size: $ls}]}' > "$tmp/manifest.json"
  mdig=$(sha256sum "$tmp/manifest.json" | cut -d' ' -f1); msize=$(stat -c %s "$tmp/manifest.json")
  mv "$tmp/manifest.json" "$tmp/blobs/sha256/$mdig"
  jq -cn --arg m "sha256:$mdig" --argjson ms "$msize" --arg ref "$ref" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
      platform: {architecture: "amd64", os: "linux"},
      annotations: {"io.containerd.image.name": $ref, "org.opencontainers.image.ref.name": ($ref | split(":") | last)}}]}' > "$tmp/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' > "$tmp/oci-layout"
  tar -C "$tmp" -cf "$out.tmp" oci-layout index.json blobs && mv "$out.tmp" "$out"
  rm -rf "$tmp"
}

# copy_with_libs <rootfs> <file>...: copies executables and the shared libraries they load.
copy_with_libs() {
  local root=$1 f lib; shift
  for f in "$@"; do
    mkdir -p "$root$(dirname "$f")"; cp -aL "$f" "$root$f"
    ldd "$f" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
      [ -e "$root$lib" ] || { mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; }
    done
  done
}

base_rootfs() { # minimal /etc, /tmp and a non-root user
  local root=$1
  mkdir -p "$root/etc" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" "$root/run" "$root/var/run"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n' > "$root/etc/group"
  printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
  mkdir -p "$root/home/node"; chown 1000:1000 "$root/home/node"
}


# docker_load_oci <archive>: loads one of make_image's OCI archives into Docker, whose 20.10
# `docker load` reads only the docker-save layout: a copy gets that layout's manifest.json,
# pointing at the same blobs. Nothing happens when Docker has the image already.
docker_load_oci() {
  local tar=$1 ref m cfg layers tmp
  ref=$(tar -xOf "$tar" index.json | jq -r '.manifests[0].annotations["io.containerd.image.name"]')
  docker image inspect "$ref" >/dev/null 2>&1 && return 0
  m=$(tar -xOf "$tar" index.json | jq -r '.manifests[0].digest | sub(":"; "/")')
  cfg=$(tar -xOf "$tar" "blobs/$m" | jq -r '.config.digest | sub(":"; "/")')
  layers=$(tar -xOf "$tar" "blobs/$m" | jq -c '[.layers[].digest | "blobs/" + sub(":"; "/")]')
  tmp=$(mktemp -d)
  cp "$tar" "$tmp/image.tar"
  jq -cn --arg c "blobs/$cfg" --arg ref "$ref" --argjson l "$layers" '[{Config: $c, RepoTags: [$ref], Layers: $l}]' > "$tmp/manifest.json"
  tar -C "$tmp" -rf "$tmp/image.tar" manifest.json
  docker load -q -i "$tmp/image.tar" >/dev/null; local rc=$?
  rm -rf "$tmp"
  return $rc
}

# kind_import_oci <archive> <node container>...: imports one of make_image's OCI archives into
# the containerd of kind node containers, all at once (as `kind load image-archive` does).
kind_import_oci() {
  local tar=$1 n ref; shift
  ref=$(tar -xOf "$tar" index.json | jq -r '.manifests[0].annotations["io.containerd.image.name"]')
  local pids=() failed=0 p
  for n in "$@"; do
    { docker exec -i "$n" ctr -n k8s.io images import --all-platforms - <"$tar" >/dev/null || { echo "importing $ref into the kind node $n failed" >&2; exit 1; }; } &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  return $failed
}
