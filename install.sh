#!/usr/bin/env bash
# install.sh: installs, upgrades or removes the joblet daemon and the rnx client on this host.
#
#   sudo ./install.sh                     install into /opt/joblet and start the daemon
#   sudo ./install.sh --uninstall         stop it and remove it, keeping config and certificates
#   sudo ./install.sh --uninstall --purge remove everything the installer created
#   ./install.sh --detect-distro          print the detected distribution family and exit
#
# Run ./install.sh --help for every option. Re-running the installer upgrades the binary and
# restarts the daemon; the configuration, the certificate authority and the node id are kept.
set -euo pipefail
umask 022

readonly DEFAULT_PREFIX=/opt/joblet
readonly DEFAULT_LOG_DIR=/var/log/joblet
readonly SERVICE_NAME=joblet
readonly UNIT_FILE=/etc/systemd/system/joblet.service
readonly SUPPORTED_DISTROS="Ubuntu, Debian, Linux Mint (family ubuntu); RHEL, CentOS, Rocky Linux, AlmaLinux, Amazon Linux 2 (family rhel); Fedora, Amazon Linux 2023+ (family fedora); Alpine Linux (family alpine)"
# Directories under PREFIX. The "ephemeral" ones hold nothing worth keeping once the daemon is
# gone; the "data" ones are removed by --uninstall only when empty (and always by --purge).
readonly EPHEMERAL_DIRS=(bin run jobs tmp network)
readonly DATA_DIRS=(logs volumes runtimes state metrics events)

# The directory holding this script (and config/, dist/ of the repository). Builtins only.
case ${BASH_SOURCE[0]} in
  */*) SCRIPT_DIR=${BASH_SOURCE[0]%/*} ;;
  *) SCRIPT_DIR=. ;;
esac
SCRIPT_DIR=$(cd "$SCRIPT_DIR" && pwd)
readonly SCRIPT_DIR

PREFIX=$DEFAULT_PREFIX
BIN_LINK_DIR=""
BINARY=""
ADDRESS=""
PORT=""
NAMES=""
OS_RELEASE=/etc/os-release
NO_START=0
NO_SYSTEMD=0
SKIP_DEPS=0
UNINSTALL=0
PURGE=0
DETECT_ONLY=0

usage() {
  cat <<EOF
Usage: install.sh [options]
       install.sh --uninstall [--purge] [--prefix DIR] [--bin-link-dir DIR]
       install.sh --detect-distro [--os-release FILE]

Installs joblet (the daemon) and rnx (its client, the same executable) with a certificate
authority, a server certificate and an admin client configuration, then starts the daemon
(a systemd service when systemd runs, otherwise a background process with a pid file).

Options:
  --prefix DIR         installation directory (default: $DEFAULT_PREFIX)
  --bin-link-dir DIR   where the rnx and joblet symlinks go (default: /usr/local/bin)
  --binary FILE        install this prebuilt joblet executable (default: dist/joblet next to
                       install.sh, built from source with npm when it is missing)
  --address HOST       address clients use to reach the server: put into the server
                       certificate and rnx-config.yml (default: the first non-loopback IPv4
                       address of this host, else 127.0.0.1)
  --port N             port the daemon listens on (default: 50051)
  --names N1,N2        more DNS names or IP addresses for the server certificate
  --no-start           install, but do not start (or restart) the daemon
  --no-systemd         run the daemon in the background with a pid file even if systemd runs
  --skip-deps          do not install packages (iproute2, iptables, ca-certificates, openssl)
  --uninstall          stop the daemon and remove the service, binaries, symlinks and runtime
                       directories; keep the configuration, certificates and logs
  --purge              with --uninstall: also remove configuration, certificates, logs and data
  --detect-distro      print the distribution family and its runtime config file, then exit
  --os-release FILE    read FILE instead of /etc/os-release (with --detect-distro)
  -h, --help           show this help

Distribution detection reads ID, ID_LIKE and VERSION_ID from os-release; when the file is
missing or names an unknown distribution, the package manager decides (apt-get: ubuntu,
dnf: fedora, yum: rhel, apk: alpine). Supported: $SUPPORTED_DISTROS.

The configuration lives in PREFIX/config (mode 0700): joblet-config.yml (server settings and
certificates), runtime-config.yml (distribution specific), rnx-config.yml (admin client
credentials, mode 0600) and ca/ (the certificate authority). Logs go to $DEFAULT_LOG_DIR for
the default prefix, otherwise to PREFIX/log.
EOF
}

info() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() {
  printf 'install.sh: error: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Options

parse_args() {
  local opt value
  while [ $# -gt 0 ]; do
    opt=$1
    case $opt in
      --prefix=* | --bin-link-dir=* | --binary=* | --address=* | --port=* | --names=* | --os-release=*)
        value=${opt#*=}
        opt=${opt%%=*}
        shift
        ;;
      --prefix | --bin-link-dir | --binary | --address | --port | --names | --os-release)
        [ $# -ge 2 ] || die "$opt needs a value (see --help)"
        value=$2
        shift 2
        ;;
      --no-start) NO_START=1; shift; continue ;;
      --no-systemd) NO_SYSTEMD=1; shift; continue ;;
      --skip-deps) SKIP_DEPS=1; shift; continue ;;
      --uninstall) UNINSTALL=1; shift; continue ;;
      --purge) PURGE=1; shift; continue ;;
      --detect-distro) DETECT_ONLY=1; shift; continue ;;
      -h | --help) usage; exit 0 ;;
      *) die "unknown option \"$opt\" (see --help)" ;;
    esac
    [ -n "$value" ] || die "$opt needs a non-empty value"
    case $opt in
      --prefix) PREFIX=$value ;;
      --bin-link-dir) BIN_LINK_DIR=$value ;;
      --binary) BINARY=$value ;;
      --address) ADDRESS=$value ;;
      --port) PORT=$value ;;
      --names) NAMES=$value ;;
      --os-release) OS_RELEASE=$value ;;
    esac
  done
}

# A path the installer writes into config files and unit files: absolute, no spaces or quotes.
check_path() {
  local what=$1 path=$2
  [[ $path == /* ]] || die "$what must be an absolute path, got \"$path\""
  [[ $path =~ ^/[A-Za-z0-9._/+@-]*$ ]] || die "$what may only contain letters, digits and . _ / + @ -, got \"$path\""
}

# Strips trailing slashes ("/opt/joblet/" -> "/opt/joblet").
trim_slashes() {
  local p=$1
  while [ "${#p}" -gt 1 ] && [ "${p%/}" != "$p" ]; do p=${p%/}; done
  printf '%s' "$p"
}

check_options() {
  if [ "$PURGE" = 1 ] && [ "$UNINSTALL" = 0 ]; then die "--purge only goes with --uninstall"; fi
  PREFIX=$(trim_slashes "$PREFIX")
  check_path "--prefix" "$PREFIX"
  case $PREFIX in
    / | /bin | /boot | /dev | /etc | /home | /lib | /lib64 | /opt | /proc | /root | /run | /sbin | /srv | /sys | /tmp | /usr | /usr/* | /var | /var/lib | /var/log)
      die "--prefix $PREFIX is a system directory; use a directory of its own such as $DEFAULT_PREFIX" ;;
  esac
  if [ -n "$BIN_LINK_DIR" ]; then
    BIN_LINK_DIR=$(trim_slashes "$BIN_LINK_DIR")
    check_path "--bin-link-dir" "$BIN_LINK_DIR"
  fi
  if [ -n "$PORT" ]; then
    if ! [[ $PORT =~ ^[0-9]{1,5}$ ]] || [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then
      die "--port: expected a port number 1-65535, got \"$PORT\""
    fi
  fi
  if [ -n "$ADDRESS" ] && ! [[ $ADDRESS =~ ^[A-Za-z0-9.:_-]+$ ]]; then
    die "--address: expected an IP address or host name, got \"$ADDRESS\""
  fi
  if [ -n "$NAMES" ] && ! [[ $NAMES =~ ^[A-Za-z0-9.:_,*-]+$ ]]; then
    die "--names: expected comma-separated host names or IP addresses, got \"$NAMES\""
  fi
  if [ -n "$BINARY" ] && [ "$UNINSTALL" = 1 ]; then warn "--binary has no effect with --uninstall"; fi

  CONFIG_DIR=$PREFIX/config
  RUN_DIR=$PREFIX/run
  PID_FILE=$RUN_DIR/joblet.pid
  JOBLET_BIN=$PREFIX/bin/joblet
  CONFIG_FILE=$CONFIG_DIR/joblet-config.yml
  STATE_FILE=$CONFIG_DIR/install.state
  if [ "$PREFIX" = "$DEFAULT_PREFIX" ]; then LOG_DIR=$DEFAULT_LOG_DIR; else LOG_DIR=$PREFIX/log; fi
}

# ---------------------------------------------------------------------------------------------
# Distribution detection (builtins only, so --detect-distro works with any PATH)

OS_ID=""
OS_ID_LIKE=""
OS_VERSION_ID=""
OS_PRETTY_NAME=""
DISTRO_FAMILY=""
DISTRO_SOURCE=""

# Reads ID, ID_LIKE, VERSION_ID and PRETTY_NAME from an os-release file (without sourcing it).
read_os_release() {
  local file=$1 key value
  OS_ID="" OS_ID_LIKE="" OS_VERSION_ID="" OS_PRETTY_NAME=""
  while IFS='=' read -r key value || [ -n "$key" ]; do
    value=${value%$'\r'}
    case $value in
      \"*\") value=${value#\"}; value=${value%\"} ;;
      \'*\') value=${value#\'}; value=${value%\'} ;;
    esac
    case $key in
      ID) OS_ID=${value,,} ;;
      ID_LIKE) OS_ID_LIKE=${value,,} ;;
      VERSION_ID) OS_VERSION_ID=$value ;;
      PRETTY_NAME) OS_PRETTY_NAME=$value ;;
    esac
  done <"$file"
}

# The family of one os-release ID (and VERSION_ID, for Amazon Linux); empty when unknown.
family_of_id() {
  local id=$1 version=$2 major
  case $id in
    ubuntu | debian | linuxmint) DISTRO_FAMILY=ubuntu ;;
    rhel | centos | rocky | almalinux) DISTRO_FAMILY=rhel ;;
    fedora) DISTRO_FAMILY=fedora ;;
    amzn)
      # Amazon Linux 2023 and later are Fedora based; Amazon Linux 2 (and 1) are RHEL-like.
      major=${version%%.*}
      if [[ $major =~ ^[0-9]+$ ]] && [ "$major" -ge 2023 ]; then DISTRO_FAMILY=fedora; else DISTRO_FAMILY=rhel; fi
      ;;
    alpine) DISTRO_FAMILY=alpine ;;
    *) DISTRO_FAMILY="" ;;
  esac
}

# Sets DISTRO_FAMILY (ubuntu, rhel, fedora or alpine) and DISTRO_SOURCE from an os-release file,
# falling back to the package manager on PATH. Prints why and returns 1 when nothing matches.
detect_distro() {
  local file=${1:-/etc/os-release} word pm
  DISTRO_FAMILY=""
  DISTRO_SOURCE=""
  OS_ID="" OS_ID_LIKE="" OS_VERSION_ID="" OS_PRETTY_NAME=""
  if [ -f "$file" ] && [ -r "$file" ]; then
    read_os_release "$file"
    family_of_id "$OS_ID" "$OS_VERSION_ID"
    if [ -n "$DISTRO_FAMILY" ]; then
      DISTRO_SOURCE="$file: ID=$OS_ID"
      return 0
    fi
    # A derivative: ID_LIKE names its parents ("rhel centos fedora", "ubuntu debian", ...);
    # a RHEL rebuild also names fedora, so rhel and centos win over it.
    local likes=()
    read -r -a likes <<<"$OS_ID_LIKE" || true
    for word in "${likes[@]}"; do
      case $word in rhel | centos) DISTRO_FAMILY=rhel ;; esac
    done
    if [ -z "$DISTRO_FAMILY" ]; then
      for word in "${likes[@]}"; do
        case $word in
          fedora) DISTRO_FAMILY=fedora ;;
          debian | ubuntu) DISTRO_FAMILY=ubuntu ;;
          alpine) DISTRO_FAMILY=alpine ;;
        esac
        [ -z "$DISTRO_FAMILY" ] || break
      done
    fi
    if [ -n "$DISTRO_FAMILY" ]; then
      DISTRO_SOURCE="$file: ID_LIKE=\"$OS_ID_LIKE\""
      return 0
    fi
  fi
  for pm in apt-get dnf yum apk; do
    if command -v "$pm" >/dev/null 2>&1; then
      case $pm in
        apt-get) DISTRO_FAMILY=ubuntu ;;
        dnf) DISTRO_FAMILY=fedora ;;
        yum) DISTRO_FAMILY=rhel ;;
        apk) DISTRO_FAMILY=alpine ;;
      esac
      DISTRO_SOURCE="package manager $pm"
      if [ -f "$file" ]; then
        DISTRO_SOURCE+=" (ID=${OS_ID:-none} in $file is not a known distribution)"
      else
        DISTRO_SOURCE+=" ($file not found)"
      fi
      return 0
    fi
  done
  if [ -f "$file" ]; then
    printf 'install.sh: error: unsupported Linux distribution: ID=%s ID_LIKE=%s in %s, and no known package manager (apt-get, dnf, yum, apk) on PATH.\nSupported distributions: %s.\n' \
      "${OS_ID:-none}" "${OS_ID_LIKE:-none}" "$file" "$SUPPORTED_DISTROS" >&2
  else
    printf 'install.sh: error: cannot detect the Linux distribution: %s not found and no known package manager (apt-get, dnf, yum, apk) on PATH.\nSupported distributions: %s.\n' \
      "$file" "$SUPPORTED_DISTROS" >&2
  fi
  return 1
}

# ---------------------------------------------------------------------------------------------
# Packages

require_root() {
  [ "$(id -u)" = 0 ] || die "this must run as root (try: sudo $0 $*)"
}

# Installs the given packages (names for this family) that are not installed yet.
install_packages() {
  local what=$1 pkg pm
  shift
  local missing=()
  case $DISTRO_FAMILY in
    ubuntu)
      for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
      done
      [ ${#missing[@]} -gt 0 ] || { note "$what already installed: $*"; return 0; }
      info "installing $what: ${missing[*]} (apt-get)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q || die "apt-get update failed; fix the package sources or pass --skip-deps"
      apt-get install -y -q --no-install-recommends "${missing[@]}" || die "apt-get install ${missing[*]} failed"
      ;;
    rhel | fedora)
      if command -v dnf >/dev/null 2>&1; then pm=dnf; elif command -v yum >/dev/null 2>&1; then pm=yum; else die "neither dnf nor yum found; install ${*} yourself and pass --skip-deps"; fi
      for pkg in "$@"; do
        rpm -q --whatprovides "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
      done
      [ ${#missing[@]} -gt 0 ] || { note "$what already installed: $*"; return 0; }
      info "installing $what: ${missing[*]} ($pm)"
      "$pm" install -y "${missing[@]}" || die "$pm install ${missing[*]} failed"
      ;;
    alpine)
      for pkg in "$@"; do
        apk info -e "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
      done
      [ ${#missing[@]} -gt 0 ] || { note "$what already installed: $*"; return 0; }
      info "installing $what: ${missing[*]} (apk)"
      apk add --no-cache "${missing[@]}" || die "apk add ${missing[*]} failed"
      ;;
  esac
}

install_runtime_deps() {
  if [ "$SKIP_DEPS" = 1 ]; then
    info "skipping package installation (--skip-deps)"
    return 0
  fi
  case $DISTRO_FAMILY in
    ubuntu | alpine) install_packages "runtime dependencies" iproute2 iptables ca-certificates openssl ;;
    rhel | fedora) install_packages "runtime dependencies" iproute iptables ca-certificates openssl ;;
  esac
}

install_build_deps() {
  if [ "$SKIP_DEPS" = 1 ]; then
    command -v npm >/dev/null 2>&1 || die "building joblet needs npm (Node.js), gcc and make; install them, or pass --binary FILE, or drop --skip-deps"
    return 0
  fi
  case $DISTRO_FAMILY in
    ubuntu) install_packages "build dependencies" nodejs npm gcc make libc6-dev ;;
    rhel | fedora) install_packages "build dependencies" nodejs npm gcc make glibc-devel ;;
    alpine) install_packages "build dependencies" nodejs npm gcc make musl-dev linux-headers ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Binary, layout, configuration, certificates

resolve_binary() {
  if [ -z "$BINARY" ]; then
    BINARY=$SCRIPT_DIR/dist/joblet
    if [ ! -e "$BINARY" ]; then
      [ -f "$SCRIPT_DIR/package.json" ] || die "$BINARY is missing and $SCRIPT_DIR is not a source tree; pass --binary FILE"
      info "$BINARY is missing: building joblet from source in $SCRIPT_DIR"
      install_build_deps
      (cd "$SCRIPT_DIR" && npm ci --no-audit --no-fund && npm run build) ||
        die "the build failed (npm ci && npm run build in $SCRIPT_DIR); fix it or pass --binary FILE"
    fi
  fi
  [ -f "$BINARY" ] || die "--binary: $BINARY does not exist or is not a file"
  [ -x "$BINARY" ] || die "--binary: $BINARY is not executable"
  local version real
  real=$(readlink -f "$BINARY") # dist/rnx is a symlink; the name selects the mode
  version=$("$real" --version 2>&1) || die "$BINARY does not run ($real --version failed: $version)"
  info "installing $version from $BINARY"
}

# The first non-loopback IPv4 address of this host (no network traffic), else 127.0.0.1.
detect_address() {
  local a
  if command -v hostname >/dev/null 2>&1; then
    for a in $(hostname -I 2>/dev/null || true); do
      if [[ $a =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] && [[ $a != 127.* ]]; then
        printf '%s' "$a"
        return 0
      fi
    done
  fi
  if command -v ip >/dev/null 2>&1; then
    for a in $(ip -4 -o addr show scope global 2>/dev/null | { grep -oE 'inet [0-9.]+' || true; } | cut -d' ' -f2); do
      if [[ $a != 127.* ]]; then
        printf '%s' "$a"
        return 0
      fi
    done
  fi
  printf '127.0.0.1'
}

# The physical path of PREFIX/bin/joblet, as /proc/PID/exe shows it.
real_bin_path() {
  if [ -d "$PREFIX" ]; then
    printf '%s/bin/joblet' "$(cd "$PREFIX" && pwd -P)"
  else
    printf '%s' "$JOBLET_BIN"
  fi
}

make_dir() {
  local mode=$1 dir=$2
  mkdir -p "$dir"
  chmod "$mode" "$dir"
}

create_layout() {
  local d
  if [ ! -d "$PREFIX" ]; then
    PREFIX_CREATED=1
    make_dir 0755 "$PREFIX"
  fi
  make_dir 0755 "$PREFIX/bin"
  make_dir 0700 "$CONFIG_DIR"
  for d in run jobs volumes runtimes network; do make_dir 0755 "$PREFIX/$d"; done
  for d in logs state; do make_dir 0700 "$PREFIX/$d"; done
  make_dir 0750 "$LOG_DIR"
}

install_binary() {
  local src dst tmp
  src=$(readlink -f "$BINARY")
  dst=$(real_bin_path)
  if [ "$src" = "$dst" ]; then
    note "$JOBLET_BIN is already the requested binary"
  else
    # Copy next to the target and rename: a running daemon keeps its (old) file.
    tmp=$(mktemp "$PREFIX/bin/.joblet.XXXXXX")
    cp "$BINARY" "$tmp" || { rm -f "$tmp"; die "cannot copy $BINARY to $PREFIX/bin"; }
    chmod 0755 "$tmp"
    mv -f "$tmp" "$JOBLET_BIN"
    note "installed $JOBLET_BIN"
  fi
  ln -sfn joblet "$PREFIX/bin/rnx"
}

# BIN_LINK_DIR/NAME -> TARGET, without replacing a file that is not a symlink.
link_into_path() {
  local target=$2 link=$BIN_LINK_DIR/$1
  if [ -e "$link" ] && [ ! -L "$link" ]; then
    warn "$link exists and is not a symlink; leaving it alone (use $target)"
    return 0
  fi
  ln -sfn "$target" "$link"
  note "$link -> $target"
}

# Removes DIR/rnx and DIR/joblet when they are this installation's symlinks.
remove_links() {
  local dir=$1 name
  for name in rnx joblet; do
    if [ -L "$dir/$name" ] && [ "$(readlink "$dir/$name")" = "$PREFIX/bin/$name" ]; then
      rm -f "$dir/$name"
      note "removed $dir/$name"
    fi
  done
}

install_links() {
  local old=""
  if [ -f "$STATE_FILE" ]; then old=$(state_value BIN_LINK_DIR "$STATE_FILE"); fi
  if [ -n "$old" ] && [ "$old" != "$BIN_LINK_DIR" ] && [[ $old =~ ^/[A-Za-z0-9._/+@-]*$ ]]; then
    note "the symlinks move from $old to $BIN_LINK_DIR"
    remove_links "$old"
  fi
  if [ ! -d "$BIN_LINK_DIR" ]; then
    mkdir -p "$BIN_LINK_DIR"
    LINK_DIR_CREATED=1
  fi
  link_into_path rnx "$PREFIX/bin/rnx"
  link_into_path joblet "$PREFIX/bin/joblet"
}

# Rewrites /opt/joblet and /var/log/joblet in FILE to PREFIX and LOG_DIR, in one pass so that a
# prefix which itself contains one of them is not rewritten twice.
rewrite_paths() {
  local file=$1
  sed -i -E \
    -e 's#/var/log/joblet([^A-Za-z0-9_.-]|$)#@@JOBLET_LOG_DIR@@\1#g' \
    -e 's#/opt/joblet([^A-Za-z0-9_.-]|$)#@@JOBLET_PREFIX@@\1#g' \
    -e "s#@@JOBLET_LOG_DIR@@#${LOG_DIR}#g" \
    -e "s#@@JOBLET_PREFIX@@#${PREFIX}#g" \
    "$file"
}

# Settings whose defaults live under /opt/joblet, for sections the file does not have yet, so a
# prefix installation keeps all of its state under PREFIX (rewrite_paths turns them into it).
append_prefix_paths() {
  local file=$1 section
  for section in network volume ipc persist state filesystem; do
    if grep -q "^${section}:" "$file"; then
      warn "$file already has a \"$section\" section; check that its paths are under $PREFIX"
      continue
    fi
    case $section in
      network) printf '\nnetwork:\n  state_dir: "/opt/joblet/network"\n' ;;
      volume) printf '\nvolume:\n  state_dir: "/opt/joblet/state"\n  base_path: "/opt/joblet/volumes"\n' ;;
      ipc) printf '\nipc:\n  socket: "/opt/joblet/run/persist-ipc.sock"\n' ;;
      persist)
        printf '\npersist:\n  server:\n    grpc_socket: "/opt/joblet/run/persist-grpc.sock"\n  storage:\n    local:\n'
        printf '      logs:\n        directory: "/opt/joblet/logs"\n      metrics:\n        directory: "/opt/joblet/metrics"\n'
        printf '      events:\n        directory: "/opt/joblet/events"\n'
        ;;
      state) printf '\nstate:\n  socket: "/opt/joblet/run/state-ipc.sock"\n  local:\n    directory: "/opt/joblet/state"\n' ;;
      filesystem) printf '\nfilesystem:\n  baseDir: "/opt/joblet/jobs"\n  tmpDir: "/opt/joblet/tmp"\n' ;;
    esac >>"$file"
  done
}

# Copies SRC to DST (mode MODE) unless DST exists, adapting the paths to PREFIX.
install_config_file() {
  local src=$1 dst=$2 mode=$3 with_paths=$4 tmp
  if [ -e "$dst" ]; then
    note "keeping existing $dst"
    return 0
  fi
  tmp=$(mktemp "$CONFIG_DIR/.install.XXXXXX")
  cat "$src" >"$tmp"
  if [ "$PREFIX" != "$DEFAULT_PREFIX" ]; then
    [ "$with_paths" = 0 ] || {
      printf '\n# State and sockets under the installation prefix (added by install.sh --prefix).\n' >>"$tmp"
      append_prefix_paths "$tmp"
    }
    rewrite_paths "$tmp"
  fi
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dst"
  note "wrote $dst (from $src)"
}

install_config() {
  local src_cfg=$SCRIPT_DIR/config/joblet-config.yml
  local src_rt=$SCRIPT_DIR/config/runtime-config-$DISTRO_FAMILY.yml
  [ -f "$src_cfg" ] || die "$src_cfg not found: run install.sh from a joblet source tree or release archive"
  [ -f "$src_rt" ] || die "$src_rt not found: run install.sh from a joblet source tree or release archive"
  info "configuration in $CONFIG_DIR"
  install_config_file "$src_cfg" "$CONFIG_FILE" 0600 1
  install_config_file "$src_rt" "$CONFIG_DIR/runtime-config.yml" 0644 0
}

# The value of KEY (port, address) directly in the top-level "server:" section of the config.
server_setting() {
  local key=$1 line in_server=0 indent=""
  local key_re='^([[:space:]]+)([A-Za-z_]+):[[:space:]]*["'"'"']?([^"'"'"'#[:space:]]*)'
  [ -f "$CONFIG_FILE" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in
      server:*) in_server=1; continue ;;
      [A-Za-z]*) in_server=0 ;;
    esac
    if [ "$in_server" = 0 ] || ! [[ $line =~ $key_re ]]; then continue; fi
    [ -n "$indent" ] || indent=${BASH_REMATCH[1]}
    if [ "${BASH_REMATCH[1]}" = "$indent" ] && [ "${BASH_REMATCH[2]}" = "$key" ]; then
      printf '%s' "${BASH_REMATCH[3]}"
      return 0
    fi
  done <"$CONFIG_FILE"
}

# The host part of the address in the admin rnx-config.yml ("10.0.0.5" of "10.0.0.5:50051").
client_host() {
  local line re='^[[:space:]]+address:[[:space:]]*["'"'"']?([^"'"'"'#[:space:]]+)'
  [ -f "$CONFIG_DIR/rnx-config.yml" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    if [[ $line =~ $re ]]; then
      line=${BASH_REMATCH[1]}
      line=${line%:*}
      line=${line#[}
      printf '%s' "${line%]}"
      return 0
    fi
  done <"$CONFIG_DIR/rnx-config.yml"
}

install_certificates() {
  local args configured_port
  if [ -f "$CONFIG_DIR/ca/ca-key.pem" ]; then
    info "keeping the existing certificate authority in $CONFIG_DIR/ca (certificates and node id unchanged)"
    configured_port=$(server_setting port)
    if [ -n "$PORT" ] && [ -n "$configured_port" ] && [ "$PORT" != "$configured_port" ]; then
      warn "--port $PORT ignored: $CONFIG_FILE keeps port $configured_port (edit server.port there and in rnx-config.yml to change it)"
    fi
    if [ -n "$NAMES" ] || { [ -n "$ADDRESS" ] && [ "$ADDRESS" != "$(client_host)" ]; }; then
      note "--address/--names only apply to new certificates; to reissue them: $JOBLET_BIN certs init --out $CONFIG_DIR --force ..."
    fi
    [ -f "$CONFIG_DIR/rnx-config.yml" ] || warn "$CONFIG_DIR/rnx-config.yml is missing; create a client configuration with: $JOBLET_BIN certs issue --dir $CONFIG_DIR --role admin --name admin --output $CONFIG_DIR/rnx-config.yml"
    return 0
  fi
  [ -n "$ADDRESS" ] || ADDRESS=$(detect_address)
  info "creating the certificate authority, server certificate (address $ADDRESS) and admin credentials"
  args=(certs init --out "$CONFIG_DIR" --address "$ADDRESS" --port "${PORT:-50051}")
  [ -z "$NAMES" ] || args+=(--names "$NAMES")
  "$JOBLET_BIN" "${args[@]}" | sed 's/^/    /' || die "certificate generation failed ($JOBLET_BIN ${args[*]})"
}

validate_config() {
  local out
  if ! out=$("$JOBLET_BIN" --config="$CONFIG_FILE" --validate 2>&1); then
    printf '%s\n' "$out" | sed 's/^/    /' >&2
    die "the configuration is invalid ($JOBLET_BIN --config=$CONFIG_FILE --validate); fix it and re-run the installer"
  fi
  # --validate accepts a file without usable certificates, but `joblet serve` would refuse it.
  if printf '%s\n' "$out" | grep -Eq 'no certificates configured|refuse to start'; then
    printf '%s\n' "$out" | grep '^warning:' | sed 's/^/    /' >&2
    die "$CONFIG_FILE has no usable server certificates; remove $CONFIG_DIR/ca and re-run the installer, or run $JOBLET_BIN certs init --out $CONFIG_DIR --force"
  fi
  info "configuration is valid"
  printf '%s\n' "$out" | { grep '^warning:' || true; } | sed 's/^/    /'
}

# Remembers what uninstall needs to know (link dir, log dir, what the installer created).
write_state() {
  local old_link_created=0 old_prefix_created=0 tmp
  if [ -f "$STATE_FILE" ]; then
    if [ "$(state_value BIN_LINK_DIR "$STATE_FILE")" = "$BIN_LINK_DIR" ]; then
      old_link_created=$(state_value LINK_DIR_CREATED "$STATE_FILE")
    fi
    old_prefix_created=$(state_value PREFIX_CREATED "$STATE_FILE")
  fi
  if [ "${old_link_created:-0}" = 1 ]; then LINK_DIR_CREATED=1; fi
  if [ "${old_prefix_created:-0}" = 1 ]; then PREFIX_CREATED=1; fi
  tmp=$(mktemp "$CONFIG_DIR/.install.XXXXXX")
  {
    printf '# Written by install.sh; read by install.sh --uninstall.\n'
    printf 'PREFIX=%s\nBIN_LINK_DIR=%s\nLOG_DIR=%s\nSERVICE=%s\n' "$PREFIX" "$BIN_LINK_DIR" "$LOG_DIR" "$SERVICE_MODE"
    printf 'PREFIX_CREATED=%s\nLINK_DIR_CREATED=%s\n' "$PREFIX_CREATED" "$LINK_DIR_CREATED"
  } >"$tmp"
  chmod 0600 "$tmp"
  mv -f "$tmp" "$STATE_FILE"
}

state_value() {
  local key=$1 file=$2 k v
  while IFS='=' read -r k v || [ -n "$k" ]; do
    if [ "$k" = "$key" ]; then
      printf '%s' "$v"
      return 0
    fi
  done <"$file"
}

# ---------------------------------------------------------------------------------------------
# Service: systemd unit, or a background process with a pid file

systemd_running() { [ -d /run/systemd/system ]; }

# True while PID runs (a zombie has no exe any more).
process_alive() { readlink "/proc/$1/exe" >/dev/null 2>&1; }

# True when PID is a joblet started from PREFIX/bin/joblet (also after that file was replaced).
is_our_daemon() {
  local pid=$1 exe
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  exe=${exe% (deleted)}
  [ "$exe" = "$(real_bin_path)" ]
}

# True once PID is no longer our daemon, waiting up to TENTHS tenths of a second.
stopped_within() {
  local pid=$1 tenths=$2 i
  for ((i = 0; i < tenths; i++)); do
    is_our_daemon "$pid" || return 0
    sleep 0.1
  done
  ! is_our_daemon "$pid"
}

# Stops the daemon named by PREFIX/run/joblet.pid, if that pid really is PREFIX/bin/joblet.
stop_background() {
  local pid=""
  [ -f "$PID_FILE" ] || return 0
  read -r pid <"$PID_FILE" || true
  if ! [[ $pid =~ ^[0-9]+$ ]]; then
    warn "$PID_FILE holds no pid; removing it"
    rm -f "$PID_FILE"
    return 0
  fi
  if ! is_our_daemon "$pid"; then
    note "removing stale $PID_FILE (process $pid is not $JOBLET_BIN)"
    rm -f "$PID_FILE"
    return 0
  fi
  info "stopping joblet (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! stopped_within "$pid" 100; then
    warn "joblet (pid $pid) did not stop within 10 s of SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    stopped_within "$pid" 50 || die "cannot stop joblet (pid $pid)"
  fi
  rm -f "$PID_FILE"
  note "stopped"
}

# True when the unit file exists and runs this prefix's binary.
unit_is_ours() {
  [ -f "$UNIT_FILE" ] && grep -q "^ExecStart=$JOBLET_BIN " "$UNIT_FILE"
}

stop_systemd_service() {
  if systemd_running && command -v systemctl >/dev/null 2>&1; then
    info "stopping and disabling $SERVICE_NAME.service"
    systemctl disable --now "$SERVICE_NAME.service" 2>/dev/null || warn "systemctl disable --now $SERVICE_NAME failed"
  fi
}

# The address to probe: the listen address, or 127.0.0.1 when it listens on every address.
probe_host() {
  local a
  a=$(server_setting address)
  case $a in
    "" | 0.0.0.0 | :: | "[::]") printf '127.0.0.1' ;;
    *) printf '%s' "$a" ;;
  esac
}

port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

configured_port() {
  local p
  p=$(server_setting port)
  printf '%s' "${p:-${PORT:-50051}}"
}

write_unit() {
  local tmp
  tmp=$(mktemp /etc/systemd/system/.joblet.service.XXXXXX)
  cat >"$tmp" <<EOF
# Written by install.sh (prefix $PREFIX). Re-run the installer rather than editing it.
[Unit]
Description=Joblet micro-container runtime
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
Environment=JOBLET_CONFIG_PATH=$CONFIG_FILE
ExecStart=$JOBLET_BIN serve --config=$CONFIG_FILE
Restart=on-failure
RestartSec=5s
Delegate=yes
KillMode=mixed
TimeoutStopSec=30s
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
EOF
  chmod 0644 "$tmp"
  mv -f "$tmp" "$UNIT_FILE"
  note "wrote $UNIT_FILE"
}

start_systemd() {
  local port host pid i
  stop_background # an instance from an earlier --no-systemd installation
  write_unit
  systemctl daemon-reload
  if [ "$NO_START" = 1 ]; then
    info "not starting the daemon (--no-start); start it with: systemctl enable --now $SERVICE_NAME"
    return 0
  fi
  systemctl enable "$SERVICE_NAME.service" >/dev/null 2>&1 || die "systemctl enable $SERVICE_NAME failed"
  if systemctl is-active --quiet "$SERVICE_NAME.service"; then
    info "restarting $SERVICE_NAME.service"
    systemctl restart "$SERVICE_NAME.service" || die "systemctl restart $SERVICE_NAME failed; see: journalctl -u $SERVICE_NAME"
  else
    info "starting $SERVICE_NAME.service"
    systemctl start "$SERVICE_NAME.service" || die "systemctl start $SERVICE_NAME failed; see: journalctl -u $SERVICE_NAME"
  fi
  port=$(configured_port)
  host=$(probe_host)
  for ((i = 0; i < 100; i++)); do
    port_open "$host" "$port" && break
    sleep 0.1
  done
  port_open "$host" "$port" || die "$SERVICE_NAME.service did not accept connections on $host:$port within 10 s; see: journalctl -u $SERVICE_NAME"
  pid=$(systemctl show -p MainPID --value "$SERVICE_NAME.service" 2>/dev/null || true)
  info "joblet is running (systemd service $SERVICE_NAME, pid ${pid:-?}, listening on port $port)"
}

start_background() {
  local port host launched pid="" i out=$LOG_DIR/joblet.out
  if systemd_running && unit_is_ours; then
    stop_systemd_service
    rm -f "$UNIT_FILE"
    systemctl daemon-reload 2>/dev/null || true
  fi
  stop_background
  if [ "$NO_START" = 1 ]; then
    info "not starting the daemon (--no-start); start it by re-running the installer without --no-start, or with:"
    note "nohup $JOBLET_BIN serve --config=$CONFIG_FILE --pid-file=$PID_FILE >>$out 2>&1 &"
    return 0
  fi
  port=$(configured_port)
  host=$(probe_host)
  if port_open "$host" "$port"; then
    die "port $port on $host is already in use (by another program, or a joblet started without this installer's pid file); stop it, or install with a free --port into a new --prefix"
  fi
  if [ "$NO_SYSTEMD" = 1 ]; then
    info "starting joblet in the background (--no-systemd)"
  else
    info "starting joblet in the background (systemd is not running)"
  fi
  : >>"$out"
  chmod 0640 "$out"
  local launcher=()
  command -v setsid >/dev/null 2>&1 && launcher=(setsid)
  JOBLET_CONFIG_PATH=$CONFIG_FILE nohup "${launcher[@]}" "$JOBLET_BIN" serve --config="$CONFIG_FILE" --pid-file="$PID_FILE" \
    >>"$out" 2>&1 </dev/null &
  launched=$!
  for ((i = 0; i < 100; i++)); do
    if ! process_alive "$launched"; then
      printf '    %s\n' "--- last lines of $out:" >&2
      tail -n 15 "$out" | sed 's/^/    /' >&2
      die "joblet exited during startup; see $out"
    fi
    if [ -s "$PID_FILE" ] && port_open "$host" "$port"; then
      read -r pid <"$PID_FILE" || true
      break
    fi
    sleep 0.1
  done
  if [ -z "$pid" ]; then
    kill -TERM "$launched" 2>/dev/null || true
    die "joblet did not accept connections on $host:$port within 10 s; see $out"
  fi
  is_our_daemon "$pid" || die "$PID_FILE names pid $pid, which is not $JOBLET_BIN; see $out"
  info "joblet is running (pid $pid, listening on port $port, pid file $PID_FILE, output $out)"
}

# ---------------------------------------------------------------------------------------------
# Install and uninstall

PREFIX_CREATED=0
LINK_DIR_CREATED=0
SERVICE_MODE=background

do_install() {
  require_root "$@"
  detect_distro "$OS_RELEASE" || exit 1
  info "detected ${OS_PRETTY_NAME:-a $DISTRO_FAMILY system}: family $DISTRO_FAMILY ($DISTRO_SOURCE)"
  [ -n "$BIN_LINK_DIR" ] || BIN_LINK_DIR=/usr/local/bin
  if systemd_running && [ "$NO_SYSTEMD" = 0 ]; then SERVICE_MODE=systemd; fi
  [ -f "$SCRIPT_DIR/config/joblet-config.yml" ] || die "$SCRIPT_DIR/config/joblet-config.yml not found: run install.sh from a joblet source tree or release archive"

  install_runtime_deps
  resolve_binary
  info "installing into $PREFIX (logs in $LOG_DIR)"
  create_layout
  install_binary
  install_links
  install_config
  install_certificates
  validate_config
  write_state
  if [ "$SERVICE_MODE" = systemd ]; then start_systemd; else start_background; fi

  local rnx=rnx
  case ":$PATH:" in *":$BIN_LINK_DIR:"*) ;; *) rnx=$BIN_LINK_DIR/rnx ;; esac
  cat <<EOF

joblet is installed in $PREFIX.
  admin client configuration: $CONFIG_DIR/rnx-config.yml (mode 0600: it holds the admin key)
  server configuration:       $CONFIG_FILE
  logs:                       $LOG_DIR
Try it:
  $rnx --config $CONFIG_DIR/rnx-config.yml monitor status
Copy rnx-config.yml to ~/.rnx/rnx-config.yml to drop --config; issue less privileged clients with
  joblet certs issue --dir $CONFIG_DIR --role viewer --name NAME
EOF
}

do_uninstall() {
  require_root "$@"
  local d kept=() recorded
  if [ ! -e "$PREFIX" ]; then
    info "nothing installed in $PREFIX"
    return 0
  fi
  if [ -f "$STATE_FILE" ]; then
    recorded=$(state_value BIN_LINK_DIR "$STATE_FILE")
    if [ -z "$BIN_LINK_DIR" ] && [[ $recorded =~ ^/[A-Za-z0-9._/+@-]*$ ]]; then BIN_LINK_DIR=$recorded; fi
    PREFIX_CREATED=$(state_value PREFIX_CREATED "$STATE_FILE")
    LINK_DIR_CREATED=$(state_value LINK_DIR_CREATED "$STATE_FILE")
  fi
  [ -n "$BIN_LINK_DIR" ] || BIN_LINK_DIR=/usr/local/bin
  info "uninstalling joblet from $PREFIX"

  if unit_is_ours; then
    stop_systemd_service
    rm -f "$UNIT_FILE"
    if systemd_running; then systemctl daemon-reload 2>/dev/null || true; fi
    note "removed $UNIT_FILE"
  fi
  stop_background

  remove_links "$BIN_LINK_DIR"
  if [ "${LINK_DIR_CREATED:-0}" = 1 ] && [ -d "$BIN_LINK_DIR" ] && rmdir "$BIN_LINK_DIR" 2>/dev/null; then
    note "removed $BIN_LINK_DIR"
  fi

  # Never delete through a mount (volumes are loop-mounted file systems).
  if grep -q " $PREFIX/" /proc/self/mounts 2>/dev/null; then
    grep " $PREFIX/" /proc/self/mounts | cut -d' ' -f2 | sed 's/^/    mounted: /' >&2
    die "file systems are still mounted under $PREFIX; unmount them and re-run the uninstaller"
  fi

  for d in "${EPHEMERAL_DIRS[@]}"; do
    [ -e "$PREFIX/$d" ] || continue
    rm -rf "${PREFIX:?}/$d"
    note "removed $PREFIX/$d"
  done

  if [ "$PURGE" = 1 ]; then
    for d in "${DATA_DIRS[@]}" config; do
      [ -e "$PREFIX/$d" ] || continue
      rm -rf "${PREFIX:?}/$d"
      note "removed $PREFIX/$d"
    done
    if [ -e "$LOG_DIR" ]; then
      rm -rf "${LOG_DIR:?}"
      note "removed $LOG_DIR"
    fi
    if [ "${PREFIX_CREATED:-0}" = 1 ] && rmdir "$PREFIX" 2>/dev/null; then
      note "removed $PREFIX"
    fi
    local left=()
    if [ -d "$PREFIX" ]; then
      shopt -s nullglob dotglob
      left=("$PREFIX"/*)
      shopt -u nullglob dotglob
    fi
    [ ${#left[@]} -eq 0 ] || warn "$PREFIX still holds files the installer did not create; left them alone: ${left[*]}"
    info "joblet is uninstalled and purged (configuration, certificates, logs and data removed)"
    return 0
  fi

  for d in "${DATA_DIRS[@]}"; do
    [ -d "$PREFIX/$d" ] || continue
    if rmdir "$PREFIX/$d" 2>/dev/null; then note "removed $PREFIX/$d (empty)"; else kept+=("$PREFIX/$d"); fi
  done
  if [ -d "$LOG_DIR" ]; then kept+=("$LOG_DIR"); fi
  info "joblet is uninstalled"
  note "kept the configuration and certificates in $CONFIG_DIR (CA, server certificate, node id,"
  note "admin rnx-config.yml): installing again reuses them"
  [ ${#kept[@]} -eq 0 ] || note "kept logs and data: ${kept[*]}"
  note "to remove everything: $0 --uninstall --purge --prefix $PREFIX"
}

main() {
  parse_args "$@"
  if [ "$DETECT_ONLY" = 1 ]; then
    detect_distro "$OS_RELEASE" || exit 1
    printf '%s runtime-config-%s.yml\n' "$DISTRO_FAMILY" "$DISTRO_FAMILY"
    exit 0
  fi
  check_options
  if [ "$UNINSTALL" = 1 ]; then do_uninstall "$@"; else do_install "$@"; fi
}

main "$@"
