# Shared helpers for the peer scripts (sourced by postfix.sh, haraka.sh, mailgate.sh, compare.sh).

PEERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$PEERS_DIR/../.." && pwd)

# retire PATH...: get rid of a spent spool or queue. With RETIRE_DIR set (compare.sh sets it) the paths are
# renamed into it and deleted only when the whole comparison is over. Why: on ext4 without a journal (this
# machine's root file system) every inode allocation skips inodes freed in the last 1-5 minutes, checking each
# one in the inode table (ext4 ialloc.c recently_deleted()); after an rm -rf of tens of thousands of queue files
# the next server's file creations spent most of their CPU there (perf: recently_deleted, find_inode_bit,
# find_get_block_common), whichever server it was.
retire() {
  local p
  for p in "$@"; do
    [ -e "$p" ] || continue
    if [ -n "${RETIRE_DIR:-}" ]; then
      mkdir -p "$RETIRE_DIR"
      mv "$p" "$(mktemp -u "$RETIRE_DIR/$(basename "$p").XXXXXX")"
    else
      rm -rf "$p"
    fi
  done
}

# wait_smtp PORT PID [TRIES]: wait until 127.0.0.1:PORT answers with a 220 greeting (0.1 s steps); fails if
# PID dies first.
wait_smtp() {
  local port=$1 pid=$2 tries=${3:-300}
  for _ in $(seq 1 "$tries"); do
    if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && read -r l <&3 && [[ \$l == 220* ]] && printf 'QUIT\r\n' >&3" 2>/dev/null; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# cg_setup NAME: make a CPU-accounting cgroup for one server (cgroup v2 cpu.stat, else v1 cpuacct), export
# CGDIR and record it in $WORK/server.cgroup; CGDIR stays empty when none can be made or PEER_CGROUP=off.
# Everything the server forks inherits the cgroup, so its CPU counter covers the whole process tree,
# exited processes included, with no rounding.
cg_setup() {
  local name="mailgate-peers-$1-$$" base
  CGDIR=""
  if [ "${PEER_CGROUP:-on}" != off ]; then
    for base in /sys/fs/cgroup/unified /sys/fs/cgroup; do
      if [ "$(stat -fc %T "$base" 2>/dev/null)" = cgroup2fs ] && mkdir "$base/$name" 2>/dev/null; then
        if [ -f "$base/$name/cpu.stat" ]; then CGDIR="$base/$name"; break; fi
        rmdir "$base/$name"
      fi
    done
    if [ -z "$CGDIR" ] && [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ] \
       && mkdir "/sys/fs/cgroup/cpuacct/$name" 2>/dev/null; then
      CGDIR="/sys/fs/cgroup/cpuacct/$name"
    fi
  fi
  export CGDIR
  echo "$CGDIR" > "$WORK/server.cgroup"
}

# cg_remove: remove the cgroup recorded in $WORK/server.cgroup once it is empty.
cg_remove() {
  local d
  d=$(cat "$WORK/server.cgroup" 2>/dev/null || true)
  [ -n "$d" ] && [ -d "$d" ] || { rm -f "$WORK/server.cgroup"; return 0; }
  for _ in $(seq 1 50); do
    [ -s "$d/cgroup.procs" ] || { rmdir "$d" 2>/dev/null && break; }
    sleep 0.1
  done
  [ -d "$d" ] && echo "note: cgroup $d still has processes: $(tr '\n' ' ' <"$d/cgroup.procs")" >&2
  rm -f "$WORK/server.cgroup"
}

# launch OUTFILE CMD...: start CMD in a new session (setsid), inside $CGDIR when set, with stdout and stderr
# to OUTFILE; its pid (CMD is exec'd, so the pid is the server's own) goes to $PIDF.
launch() {
  local out=$1; shift
  setsid bash -c '[ -n "${CGDIR:-}" ] && { echo $$ > "$CGDIR/cgroup.procs" || echo "cannot join $CGDIR" >&2; }; exec "$@"' \
    _ "$@" </dev/null >"$out" 2>&1 &
  echo $! > "$PIDF"
}

# stop_pid PIDFILE NAME_PATTERN: SIGTERM the pid in PIDFILE if it is alive and its command line matches,
# wait up to 10 s, then SIGKILL its process group (the scripts start each server with setsid, so that group
# is only what the start made).
stop_pid() {
  local pidf=$1 pat=$2 pid
  [ -f "$pidf" ] || { echo "no $pidf" >&2; return 0; }
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pat"; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"; fi
  fi
  rm -f "$pidf"
}

# mailgate jars: compare.sh and mailgate.sh run a private copy of dist/target/lib (MAILGATE_LIB), so a
# rebuild that someone starts in the work tree during a run cannot swap classes under a running JVM.
# snapshot_mailgate DIR: build if needed (bin/mailgate does that), copy the jars to DIR, print DIR.
snapshot_mailgate() {
  local dir=$1
  "$REPO_DIR/bin/mailgate" help >/dev/null 2>"$dir.build.log" \
    || echo "warning: bin/mailgate build failed (see $dir.build.log); using the jars already in dist/target/lib" >&2
  ls "$REPO_DIR"/dist/target/lib/mailgate-reactor-*.jar >/dev/null 2>&1 || { echo "no mailgate jars in dist/target/lib" >&2; return 1; }
  rm -rf "$dir"; mkdir -p "$dir"; cp "$REPO_DIR"/dist/target/lib/*.jar "$dir/"
  echo "$dir"
}

# mg ROLE ARGS...: exec a mailgate role (run | load) from $MAILGATE_LIB with bin/mailgate's JVM flags
# (JDK 17 set, docs/tuning.md); keep in step with bin/mailgate.
mg() {
  local role=$1; shift
  local cls
  case "$role" in
    run) cls=mailgate.reactor.SmtpdMain; role=smtpd ;;
    load) cls=mailgate.bench.LoadGenerator ;;
    *) echo "mg: unknown role $role" >&2; return 64 ;;
  esac
  exec -a "mailgate: $role" "${JAVA_HOME:+$JAVA_HOME/bin/}java" \
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED -Xms256m -Xmx256m -XX:MaxDirectMemorySize=512m \
    -XX:+AlwaysPreTouch -XX:+PerfDisableSharedMem -XX:+ExitOnOutOfMemoryError -Xss512k \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=10 -Dmailgate.role="$role" -cp "$MAILGATE_LIB/*" "$cls" "$@"
}
