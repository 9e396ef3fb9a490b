#!/usr/bin/env bash
# Installs the Debian packages that `make images` and the real node need: podman and
# buildah (build the images from the repository's Dockerfiles), mmdebstrap (the stand-in
# base images), skopeo/umoci (image plumbing), containerd + runc + the CNI plugins
# (the node's container runtime and pod network), iptables and conntrack (kube-proxy).
# Idempotent: installs only what is missing; needs root (CI and these machines run as root).
set -euo pipefail

# package -> a file it installs (present = installed)
declare -A probe=(
  [podman]=/usr/bin/podman
  [buildah]=/usr/bin/buildah
  [skopeo]=/usr/bin/skopeo
  [umoci]=/usr/bin/umoci
  [mmdebstrap]=/usr/bin/mmdebstrap
  [containerd]=/usr/bin/containerd
  [runc]=/usr/sbin/runc
  [containernetworking-plugins]=/usr/lib/cni/bridge
  [iptables]=/usr/sbin/iptables
  [conntrack]=/usr/sbin/conntrack
  [uidmap]=/usr/bin/newuidmap
)
need=()
for pkg in "${!probe[@]}"; do [[ -e ${probe[$pkg]} ]] || need+=("$pkg"); done
((${#need[@]} == 0)) && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "node-deps: please install: ${need[*]} (sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "node-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The package starts the host's own containerd; the node runs its own (own socket/root).
systemctl disable --now containerd >/dev/null 2>&1 || service containerd stop >/dev/null 2>&1 || true
