#!/usr/bin/env bash
# Private Postfix instance for benchmarks (never touches /etc/postfix or the system instance).
#   postfix.sh start PORT WORKDIR   -> smtpd on 127.0.0.1:PORT, config in WORKDIR/etc, queue in WORKDIR/queue
#   postfix.sh stop  PORT WORKDIR   -> stops the master started here (pid in WORKDIR/server.pid)
# Mode: accept any recipient, every message is put on the HOLD queue (so nothing is ever delivered);
# cleanup(8) fsync()s the queue file before it answers smtpd, which only then sends 250.
# No DNS (smtpd_peername_lookup=no, smtp_dns_support_level=disabled), no milters, no TLS, no
# greylisting/policy, in_flow_delay=0 (nothing is ever delivered, so flow control would only throttle).
# PEER_TLS=may: smtpd offers STARTTLS (smtpd_tls_security_level=may) with a self-signed EC P-256 certificate
# made by openssl for CN postfix-peer.localdomain, subjectAltName DNS:localhost, IP:127.0.0.1; the
# certificate is WORKDIR/etc/tls-cert.pem (a trust file for clients that verify), and tlsmgr runs.
# The master runs in the foreground (master -s) as a child of this script's setsid, so every Postfix
# process is a descendant of the pid in server.pid. Logging: PEER_LOGS=file (default) writes the usual
# Postfix log to WORKDIR/maillog through postlogd(8); PEER_LOGS=min leaves it on syslog, which is
# discarded when no syslog daemon runs (the case here).
set -euo pipefail
cmd="${1:?usage: postfix.sh start|stop PORT WORKDIR}"; PORT="${2:?PORT}"; WORK="${3:?WORKDIR}"
mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
CONF="$WORK/etc"; PIDF="$WORK/server.pid"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DAEMON_DIR=$(postconf -d -h daemon_directory)

stop() { stop_pid "$PIDF" master; cg_remove; }

start() {
  if [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; then
    echo "postfix.sh: already running (pid $(cat "$PIDF"))" >&2; exit 1
  fi
  rm -rf "$CONF" "$WORK/maillog"; retire "$WORK/queue" "$WORK/data"
  mkdir -p "$CONF" "$WORK/queue" "$WORK/data"
  chown postfix "$WORK/data"
  local tls="smtpd_tls_security_level = none" tlsmgr=""
  if [ "${PEER_TLS:-none}" = may ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
      -subj "/CN=postfix-peer.localdomain" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$CONF/tls-key.pem" -out "$CONF/tls-cert.pem" >"$WORK/openssl.log" 2>&1 \
      || { cat "$WORK/openssl.log" >&2; exit 1; }
    chmod 600 "$CONF/tls-key.pem"
    tls="smtpd_tls_security_level = may
smtpd_tls_cert_file = $CONF/tls-cert.pem
smtpd_tls_key_file = $CONF/tls-key.pem
smtpd_tls_received_header = yes"
    tlsmgr="tlsmgr    unix  -       -       n       1000?   1       tlsmgr"
  fi
  local maillog=""
  [ "${PEER_LOGS:-file}" = file ] && maillog="maillog_file_prefixes = $WORK
maillog_file = $WORK/maillog"
  cat > "$CONF/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $WORK/queue
data_directory = $WORK/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-peer.localdomain
mydomain = localdomain
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# any recipient: no local domains, nothing to verify, relay for everyone
mydestination =
local_recipient_maps =
relay_domains =
relay_recipient_maps =
alias_maps =
alias_database =
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
# (Postfix insists on a reject_unauth_destination or reject here; all load comes from loopback = mynetworks)
smtpd_relay_restrictions = permit_mynetworks, reject
# every message goes to the hold queue: written and fsync'd by cleanup, never delivered
smtpd_recipient_restrictions = check_client_access static:HOLD, permit
smtpd_data_restrictions =
smtpd_end_of_data_restrictions =
smtpd_milters =
non_smtpd_milters =
header_checks =
body_checks =
content_filter =
# no DNS anywhere
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
# TLS only with PEER_TLS=may; no SASL
$tls
smtp_tls_security_level = none
smtpd_sasl_auth_enable = no
# capacity / flow control
default_process_limit = 200
in_flow_delay = 0s
smtpd_client_connection_count_limit = 0
smtpd_client_event_limit_exceptions = 127.0.0.0/8
message_size_limit = 52428800
biff = no
append_dot_mydomain = no
$maillog
CF
  cat > "$CONF/master.cf" <<CF
127.0.0.1:$PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
$tlsmgr
CF
  # creates and sets ownership of the queue directories, and checks the configuration
  postfix -c "$CONF" check >"$WORK/postfix-check.log" 2>&1 || { cat "$WORK/postfix-check.log" >&2; exit 1; }
  # foreground master in its own session: all Postfix processes are its descendants
  cg_setup postfix
  launch "$WORK/master.out" "$DAEMON_DIR/master" -c "$CONF" -s
  if wait_smtp "$PORT" "$(cat "$PIDF")"; then
    echo "postfix.sh: listening on 127.0.0.1:$PORT (master pid $(cat "$PIDF"))" >&2; return 0
  fi
  echo "postfix.sh: did not start; master.out:" >&2; cat "$WORK/master.out" >&2; stop; exit 1
}

case "$cmd" in start) start ;; stop) stop ;; *) echo "usage: postfix.sh start|stop PORT WORKDIR" >&2; exit 64 ;; esac
