#!/usr/bin/env bash
# make tools [TOOLS="nats-server nats jaeger"]: builds the pinned tools of
# infra/tools/pins.txt from their Go modules into .tools/bin (git-ignored;
# TOOLS_BIN=dir builds elsewhere). Without TOOLS, only the pins whose set
# column is `default`: bench-only peers (Centrifugo) are built when named.
# A tool whose binary and version stamp are already there is skipped, so a
# second run takes no time. Needs Go (1.24 or newer) and the Go module proxy.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${TOOLS_BIN:-$root/.tools/bin}
pins="$root/infra/tools/pins.txt"
wanted=${TOOLS:-$(awk '$1 !~ /^#/ && $6 == "default" { printf "%s ", $1 }' "$pins")}

need_go() {
  if command -v go >/dev/null 2>&1; then return 0; fi
  if [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; return 0; fi
  cat >&2 <<EOT
make tools: Go is not installed, and $1 $2 is built from its Go module.
  Install Go (https://go.dev/dl/, 1.24 or newer) and run make again, or
  put a $1 binary of version $2 at $bin/$1 (release binaries: https://github.com/$3/releases),
  or point NATS_SERVER_BIN / NATS_CLI_BIN / JAEGER_BIN / CENTRIFUGO_BIN at one.
EOT
  exit 1
}

mkdir -p "$bin"
while read -r name module package version _min _set; do
  case "$name" in "" | \#*) continue ;; esac
  case " $wanted " in *" $name "*) ;; *) continue ;; esac
  stamp="$bin/.$name.version"
  if [ -x "$bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$module@$version" ]; then continue; fi
  need_go "$name" "$version" "${module#github.com/}"
  echo "==> building $name $version ($module) into .tools/bin"
  start=$SECONDS
  # go install refuses modules whose go.mod has replace directives (Jaeger's
  # does), so every tool is built from its module's own directory instead:
  # the same source and go.sum, with the module's replaces honoured.
  dir=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  [ -n "$dir" ] || { echo "make tools: go mod download $module@$version gave no directory" >&2; exit 1; }
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$bin/$name.tmp" "$package")
  mv "$bin/$name.tmp" "$bin/$name"
  echo "$module@$version" >"$stamp"
  echo "    $name $version built in $((SECONDS - start)) s"
done <"$pins"
