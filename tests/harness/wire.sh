# wire.sh - starting and steering tests/harness/wireproxy.py from a suite
# (sourced by the 57-wire-* suites, in their working directory).
#   proxy_start PROTO UPSTREAM-PORT [EXTRA-ARGS...]   -> WF_PORT (exported), PPID_
#   proxy_faults ARGS...   the faults from now on (counts start again); waits
#                          until the proxy took them
#   proxy_stop             stops it
#   stat_of KEY            a count of the proxy's stats file
# The pid is added to the array named by WIRE_PIDS (default E2E_PIDS), which
# the suite's cleanup kills.
PPID_=
GEN=0
proxy_start() {
    local proto=$1 port=$2; shift 2
    rm -f proxy.out stats; : >control
    python3 "$SQL2ES_ROOT/tests/harness/wireproxy.py" --proto "$proto" --upstream "127.0.0.1:$port" \
        --stats stats --control control --max-seconds 600 "$@" >proxy.out 2>proxy.err &
    PPID_=$!; GEN=0
    local -n pids=${WIRE_PIDS:-E2E_PIDS}
    pids+=("$PPID_")
    local i
    for i in $(seq 1 200); do
        WF_PORT=$(sed -n 's/^PROXY //p' proxy.out 2>/dev/null)
        [ -n "$WF_PORT" ] && break
        sleep 0.05
    done
    export WF_PORT
}
proxy_stop() { [ -n "$PPID_" ] || return 0; kill "$PPID_" 2>/dev/null; wait "$PPID_" 2>/dev/null; PPID_=; }
stat_of() { sed -n "s/^$1=//p" stats 2>/dev/null; }
proxy_faults() {
    local i
    echo "$*" >control
    GEN=$((GEN + 1))
    kill -HUP "$PPID_"
    for i in $(seq 1 200); do [ "$(stat_of generation)" = "$GEN" ] && return 0; sleep 0.02; done
    echo "#   the proxy did not take the faults $*"
    return 1
}
