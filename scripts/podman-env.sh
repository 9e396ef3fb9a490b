#!/usr/bin/env bash
# Sourced by the scripts that run podman/buildah (images.sh, realnode.sh, skaffold):
# podman's configuration and storage under the cache, never the host's defaults.
#   - this machine lacks CAP_SYS_RESOURCE, so no runtime may raise an rlimit: the
#     default ulimits are set below the current hard limits;
#   - crun refuses the hybrid cgroup layout: runc;
#   - containers (build steps) share the host's network: podman creates no bridge and no
#     iptables rules (the real node's tests own the host's network state);
#   - storage (images, build cache) in ${UNDERSTUDY_CACHE}/containers (outside git).
# shellcheck disable=SC2034
UNDERSTUDY_CACHE=${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}
PODMAN_DIR=$UNDERSTUDY_CACHE/podman
mkdir -p "$PODMAN_DIR" "$UNDERSTUDY_CACHE/containers/storage"
# Each file is written to a temporary name of this process and renamed into place only if it
# changed: several scripts source this at once (skaffold runs three builders in parallel).
_podman_env_new=$(mktemp -d "$PODMAN_DIR/.new.XXXXXX")
cat >"$_podman_env_new/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
# Build steps use the host's network: no podman bridge, no iptables rules of podman's.
netns = "host"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat >"$_podman_env_new/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$UNDERSTUDY_CACHE/containers/storage"
runroot = "/run/understudy/containers"
CONF
cat >"$_podman_env_new/registries.conf" <<CONF
# Nothing is pulled: every base image is made locally (scripts/images.sh).
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
CONF
for f in containers.conf storage.conf registries.conf; do
  cmp -s "$_podman_env_new/$f" "$PODMAN_DIR/$f" || mv "$_podman_env_new/$f" "$PODMAN_DIR/$f"
done
rm -rf "$_podman_env_new"
unset _podman_env_new
export CONTAINERS_CONF=$PODMAN_DIR/containers.conf
export CONTAINERS_STORAGE_CONF=$PODMAN_DIR/storage.conf
export CONTAINERS_REGISTRIES_CONF=$PODMAN_DIR/registries.conf
export BUILDAH_ISOLATION=oci
