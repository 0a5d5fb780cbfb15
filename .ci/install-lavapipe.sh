#!/usr/bin/env bash
# Installs Mesa's lavapipe (Vulkan on the CPU) so the webgpu backend's tests run without a GPU.
# Dawn (the `webgpu` package) needs Mesa 25; Debian 12's own mesa-vulkan-drivers (22.3) is too
# old, so on bookworm it comes from bookworm-backports. Idempotent, and it never fails CI: when
# it cannot install, it says so and the webgpu tests skip, naming the missing adapter.
set -u
want_major=25

lavapipe_major() {
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null) || return 1
  ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || return 1
  echo "${v%%.*}"
}

have=$(lavapipe_major || echo 0)
if [ "$have" -ge "$want_major" ] 2>/dev/null; then
  echo "lathe CI: lavapipe $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) present"
  exit 0
fi

give_up() {
  echo "lathe CI: lavapipe >= $want_major not installed ($1); the webgpu backend's tests will skip"
  exit 0
}

command -v apt-get >/dev/null || give_up "no apt-get"
[ "$(id -u)" = 0 ] || give_up "not root"
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
target=()
if [ "$codename" = bookworm ]; then
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    cat > /etc/apt/sources.list.d/lathe-bookworm-backports.sources <<'SRC' || give_up "cannot add the bookworm-backports source"
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  target=(-t bookworm-backports)
fi
apt-get update -q >/dev/null || give_up "apt-get update failed"
apt-get install -y -q "${target[@]}" mesa-vulkan-drivers libvulkan1 >/dev/null || give_up "apt-get install failed"
have=$(lavapipe_major || echo 0)
[ "$have" -ge "$want_major" ] 2>/dev/null || give_up "the archive has mesa-vulkan-drivers $have"
echo "lathe CI: installed lavapipe $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
