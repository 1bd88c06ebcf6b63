#!/bin/bash
# Run Charliecloud 0.31's own ch-run bats tests (Debian package
# charliecloud-tests) twice: once with the real ch-run, once with hpai-run
# behind a `ch-run` shim that passes its arguments through unchanged. Prints
# a per-file table and writes the TAP output of both runs into the work dir.
#
# Usage (as root: it builds images with debootstrap and drops to the test
# user for the bats runs):
#
#   tests/chrun-bats/run.sh [WORKDIR]          # default WORKDIR /tmp/chrun-bats
#
# Environment knobs:
#   HPAI_RUN              hpai-run to test (default: build/bin/hpai-run of this source tree)
#   CHRUN_BATS_USER       unprivileged user to run bats as (default hpai-test)
#   CHRUN_BATS_GROUP2     supplementary gid given to that user for the bats
#                         process only (default 100, "users"; "none" for none).
#                         ch-run_escalated.bats and the permission fixtures
#                         need one; /etc/group is not modified.
#   CHRUN_BATS_IMGDIR     where the per-run unpacked images go (default
#                         WORKDIR/img, or /var/tmp/BASENAME-img (BASENAME of
#                         WORKDIR) if WORKDIR is under /tmp: ch-run binds host
#                         /tmp at guest /tmp,
#                         which would hide the default bind destinations)
#   CHRUN_BATS_FILES      bats files to run, relative to the tests directory
#   CHRUN_BATS_UIDGID_ALL 1 (default): also run ch-run_uidgid.bats for the 9
#                         GUEST_USER/GUEST_GROUP pairs ch-test's run phase uses
#   CHRUN_BATS_TIMEOUT    seconds per bats file (default 300)
#   CHRUN_BATS_RUNS       which runs (default "real hpai")
#   CHRUN_BATS_MIRROR     Debian mirror for debootstrap
#   CHRUN_BATS_WAIT       seconds to wait for $HPAI_RUN to exist and be stable
#                         (default 600; the build tree may be mid-rebuild)
#   CHRUN_BATS_SNAPSHOT   1 (default): the shim execs a copy of $HPAI_RUN taken
#                         at start (WORKDIR/hpai-run.snapshot), so a rebuild of
#                         the build tree during the run can't change or break
#                         the binary under test; 0: exec $HPAI_RUN itself
#
# It is a measurement, not a gate: it exits 0 whether tests pass or fail
# (non-zero only if it can't set up at all).

set -u
set -o pipefail

WORK=${1:-/tmp/chrun-bats}
HPAI_RUN=${HPAI_RUN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin/hpai-run}
TUSER=${CHRUN_BATS_USER:-hpai-test}
GROUP2=${CHRUN_BATS_GROUP2:-100}
TIMEOUT=${CHRUN_BATS_TIMEOUT:-300}
RUNS=${CHRUN_BATS_RUNS:-real hpai}
UIDGID_ALL=${CHRUN_BATS_UIDGID_ALL:-1}
MIRROR=${CHRUN_BATS_MIRROR:-http://deb.debian.org/debian}
TESTDIR=/usr/libexec/installed-tests/charliecloud
EXDIR=/usr/share/doc/charliecloud/examples
REAL_CHRUN=/usr/bin/ch-run
FILES=${CHRUN_BATS_FILES:-run_first.bats run/ch-run_isolation.bats run/ch-run_misc.bats run/ch-run_join.bats run/ch-run_uidgid.bats run/ch-run_escalated.bats}

log () { printf '[chrun-bats] %s\n' "$*" >&2; }
die () { log "error: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (builds images, then runs bats as ${TUSER})"
[[ -d $TESTDIR ]] || die "not found: $TESTDIR (install charliecloud-tests)"
[[ -x $REAL_CHRUN ]] || die "not found: $REAL_CHRUN (install charliecloud)"
command -v bats > /dev/null || die "bats not installed"
TUID=$(id -u "$TUSER") || die "no user $TUSER"
TGID=$(id -g "$TUSER")
THOME=$(getent passwd "$TUSER" | cut -d: -f6)

mkdir -p "$WORK"
WORK=$(readlink -f "$WORK")
chmod 755 "$WORK"
CACHE=$WORK/cache          # root-owned build products (reused across runs)
TARDIR=$WORK/tar           # packed images, as ch-test's CH_TEST_TARDIR
mkdir -p "$CACHE" "$TARDIR"
chmod 755 "$CACHE" "$TARDIR"

if [[ -n ${CHRUN_BATS_IMGDIR:-} ]]; then
    IMGROOT=$CHRUN_BATS_IMGDIR
elif [[ $WORK == /tmp || $WORK == /tmp/* ]]; then
    IMGROOT=/var/tmp/$(basename "$WORK")-img
else
    IMGROOT=$WORK/img
fi
mkdir -p "$IMGROOT"
IMGROOT=$(readlink -f "$IMGROOT")
chmod 755 "$IMGROOT"


### Images ###################################################################

# chtest: examples/chtest/Build starts from Alpine 3.9 (not reachable here).
# Substitute: Debian bookworm minbase (debootstrap) + python3, mount, procps;
# the C helpers are compiled on the host with the Makefile's flags (static);
# every fixture of the Build script is reproduced. The packed result is
# unpacked per run with ch-convert exactly as ch-test's unpack step does.
build_chtest () {
    local out=$TARDIR/chtest.tar.gz
    if [[ -s $out ]]; then log "chtest: cached ($out)"; return 0; fi
    local rootfs=$CACHE/debootstrap-bookworm
    if [[ ! -e $CACHE/debootstrap-bookworm.done ]]; then
        log "chtest: debootstrap bookworm minbase into $rootfs (a minute or two)"
        rm -rf --one-file-system "$rootfs"
        debootstrap --variant=minbase --include=python3,mount,procps \
                    bookworm "$rootfs" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 \
            || { log "debootstrap failed; see $CACHE/debootstrap.log"; return 1; }
        touch "$CACHE/debootstrap-bookworm.done"
    fi
    local b=$CACHE/chtest-build
    rm -rf --one-file-system "$b"
    mkdir -p "$b"
    cp -a "$rootfs" "$b/img" || return 1
    (
        set -ex
        cd "$b"
        rm -rf img/var/cache/apt/*.bin img/var/lib/apt/lists/* img/var/log/*
        find img/dev -mindepth 1 -delete      # device nodes debootstrap made
        mkdir -p img/{dev,etc,proc,sys,tmp,home,mnt}
        touch img/etc/{group,hosts,passwd,resolv.conf}
        # The test "distro differs" expects the guest's PRETTY_NAME to be
        # "Alpine Linux v3.9" (the real chtest's distro) and the host's to
        # differ. This substitute is Debian, like the host, so it declares
        # the expected string; the test still checks that the guest reads
        # the image's /etc/os-release and not the host's.
        rm -f img/etc/os-release
        printf '%s\n' 'NAME="Alpine Linux"' 'ID=alpine' 'VERSION_ID=3.9.0' \
               'PRETTY_NAME="Alpine Linux v3.9"' \
               '# chrun-bats substitute: really Debian bookworm minbase' \
               > img/etc/os-release
        chmod -R u+rw,ug-s img
        ## Install our test stuff (as in chtest/Build).
        echo "tmpfs and host home are not overmounted" > img/home/overmount-me
        touch img/usr/bin/ch-ssh
        cp -r "$EXDIR/chtest" img/test
        for p in chroot-escape mknods setgroups setuid; do
            gcc -std=c11 -Wall -Werror -static -o "img/test/$p" "img/test/$p.c"
        done
        touch img/dev/deleteme            # removed again by ch-convert
        mkdir -p img/mnt/dev
        touch img/mnt/dev/dontdeleteme
        touch img/.hiddenfile1 img/..hiddenfile2 img/...hiddenfile3
        ln -s ../bind4 img/mnt/bind4
        ln -s ./doesnotexist img/mnt/link-b0rken-rel
        ln -s /doesnotexist img/mnt/link-b0rken-abs
        ln -s /tmp img/mnt/link-bad-abs
        ln -s ../.. img/mnt/link-bad-rel
        mv img/etc/resolv.conf img/etc/resolv.conf.real
        ln -s /etc/resolv.conf.real img/etc/resolv.conf
        touch img/maxperms_file
        chmod 0777 img/maxperms_file
        mkdir img/maxperms_dir
        chmod 1777 img/maxperms_dir
        tar czf chtest.tar.gz.tmp -- img
    ) > "$CACHE/chtest-build.log" 2>&1 \
        || { log "chtest build failed; see $CACHE/chtest-build.log"; return 1; }
    mv "$b/chtest.tar.gz.tmp" "$out"
    rm -rf --one-file-system "$b"
    log "chtest: built $out"
}

# argenv: test/Dockerfile.argenv (FROM 00_tiny, i.e. alpine:3.9, + two ENV)
# built with ch-image. Substitute: busybox-static root with the
# /ch/environment that ch-image would write for it (Alpine's PATH plus the
# two ENV variables). Only "ch-run --set-env from Dockerfile" uses it.
build_argenv () {
    local out=$TARDIR/argenv.tar.gz
    if [[ -s $out ]]; then log "argenv: cached ($out)"; return 0; fi
    rm -f "$TARDIR/argenv.pq_missing"
    local bb
    bb=$(command -v busybox) || true
    if [[ -z $bb ]] || ! file -L "$bb" | grep -q 'statically linked'; then
        echo 'chrun-bats: no static busybox to build argenv' \
             > "$TARDIR/argenv.pq_missing"
        log "argenv: no static busybox; test will be skipped"
        return 0
    fi
    local b=$CACHE/argenv-build
    rm -rf --one-file-system "$b"
    (
        set -ex
        mkdir -p "$b/img"
        cd "$b/img"
        mkdir -p bin dev etc home proc sys tmp usr/bin ch
        cp "$bb" bin/busybox
        for a in sh env grep true cat ls sort; do ln -s busybox "bin/$a"; done
        echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd
        echo 'root:x:0:' > etc/group
        printf '%s\n' \
            'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            'chse_env1_df=env1' 'chse_env2_df=env2 env1' > ch/environment
        tar czf ../argenv.tar.gz.tmp .
    ) > "$CACHE/argenv-build.log" 2>&1 \
        || { log "argenv build failed; see $CACHE/argenv-build.log"; return 1; }
    mv "$b/argenv.tar.gz.tmp" "$out"
    rm -rf --one-file-system "$b"
    log "argenv: built $out"
}

# Filesystem-permission fixtures (ch-test mk-perm-dirs). make-perms-test needs
# the user to have a supplementary group in NSS; /etc/group is not changed:
# it runs in a private mount namespace with an edited copy bound over it.
build_permdirs () {
    PERMDIR=$WORK/perms/perms_test
    if [[ $GROUP2 == none ]]; then PERMDIR=skip; return 0; fi
    if [[ -e $WORK/perms/done ]]; then log "perm dirs: cached"; return 0; fi
    rm -rf --one-file-system "$WORK/perms"
    mkdir -p "$WORK/perms"
    chmod 755 "$WORK/perms"
    local g2name
    g2name=$(getent group "$GROUP2" | cut -d: -f1)
    if [[ -z $g2name ]]; then
        log "perm dirs: gid $GROUP2 has no group entry; skipping"
        PERMDIR=skip; return 0
    fi
    awk -F: -v g="$g2name" -v u="$TUSER" 'BEGIN{OFS=":"}
         $1==g { $4 = ($4=="" ? u : $4","u) } {print}' /etc/group \
        > "$CACHE/group.perms"
    if unshare -m sh -c "mount --bind '$CACHE/group.perms' /etc/group && \
            '$TESTDIR/make-perms-test' '$PERMDIR' '$TUSER' nobody" \
            > "$CACHE/perms.log" 2>&1; then
        touch "$WORK/perms/done"
        log "perm dirs: built $PERMDIR"
    else
        log "perm dirs: make-perms-test failed (see $CACHE/perms.log); skipping"
        PERMDIR=skip
    fi
}

build_chtest || die "can't build the chtest image; nothing to test"
build_argenv || log "argenv not built; its test will fail"
[[ -s $TARDIR/argenv.tar.gz || -e $TARDIR/argenv.pq_missing ]] \
    || echo 'chrun-bats: argenv build failed' > "$TARDIR/argenv.pq_missing"
build_permdirs
[[ -n ${PERMDIR:-} ]] || PERMDIR=skip


### Shim and bin dirs ########################################################

# Each run gets its own ch_bin directory (ch-test puts $ch_bin first on PATH
# and tests call "$ch_bin/..." and copy "$(command -v ch-run)"): a real copy
# of ch-run (or the shim) plus links to the other ch-* tools.
make_bindir () {  # $1 = run name, $2 = bin dir
    local run=$1 bin=$2 t
    rm -rf "$bin"
    mkdir -p "$bin"
    for t in /usr/bin/ch-*; do
        [[ $(basename "$t") == ch-run ]] && continue
        # ELF tools are copied ("/usr/bin/ch-ssh" compares the size of
        # $ch_bin/ch-ssh with stat(1), which doesn't follow links); the
        # scripts find their library through $0, so they are linked.
        if file -L "$t" | grep -q ELF; then
            cp "$t" "$bin/$(basename "$t")"
        else
            ln -s "$t" "$bin/$(basename "$t")"
        fi
    done
    local target=$HPAI_RUN
    [[ ${CHRUN_BATS_SNAPSHOT:-1} == 1 ]] && target=$WORK/hpai-run.snapshot
    case $run in
        real)
            cp "$REAL_CHRUN" "$bin/ch-run"
            ;;
        hpai)
            # A compiled shim rather than a shell script so that a test that
            # copies ch-run and makes the copy setgid (ch-run_escalated.bats)
            # passes those credentials on to hpai-run, and so "PATH unset"
            # reaches hpai-run as it is. argv[0] becomes the hpai-run path,
            # as with `exec "$HPAI_RUN" "$@"`.
            cat > "$CACHE/ch-run-shim.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
   (void)argc;
   argv[0] = (char *)HPAI_RUN_PATH;
   execv(HPAI_RUN_PATH, argv);
   fprintf(stderr, "ch-run shim: can't exec %s: %s\n", HPAI_RUN_PATH,
           strerror(errno));
   return 127;
}
EOF
            if ! gcc -O2 -Wall -DHPAI_RUN_PATH="\"$target\"" \
                     -o "$bin/ch-run" "$CACHE/ch-run-shim.c"; then
                log "can't compile the shim; using a shell script"
                printf '#!/bin/sh\nexec %q "$@"\n' "$target" > "$bin/ch-run"
            fi
            ;;
    esac
    chmod 755 "$bin/ch-run"
}


### Bats runs ################################################################

LC=C
if locale -a 2> /dev/null | grep -qx 'en_US.utf8'; then LC=en_US.utf8; fi

if [[ $GROUP2 == none ]]; then
    GROUPS_ARG=(--init-groups)
else
    GROUPS_ARG=(--groups "$GROUP2")
fi

# Run one bats file as the test user; TAP to $3. Extra env in $4.. (K=V).
bats_as_user () {
    local run=$1 file=$2 tap=$3; shift 3
    local rd=$WORK/runs/$run
    env -i \
        HOME="$THOME" USER="$TUSER" LOGNAME="$TUSER" SHELL=/bin/bash \
        PATH="$rd/bin:/usr/local/bin:/usr/bin:/bin" LC_ALL="$LC" TERM=dumb \
        TMP_="$(tmp_of "$run")" \
        ch_bin="$rd/bin" ch_lib=/usr/lib/charliecloud ch_libc=glibc \
        ch_base=/usr CHTEST_INSTALLED=yes CHTEST_GITWD= \
        CHTEST_DIR="$TESTDIR" CHTEST_EXAMPLES_DIR="$EXDIR" \
        CH_TEST_SCOPE=standard CH_TEST_BUILDER=none CH_TEST_SUDO= \
        CH_TEST_IMGDIR="$IMGROOT/$run" CH_TEST_TARDIR="$TARDIR" \
        CH_TEST_PACK_FMT=tar-unpack CH_TEST_PERMDIRS="$PERMDIR" \
        CH_TEST_LUSTREDIR=skip CH_IMAGE_DEBUG=true ch_pedantic= \
        "$@" \
        setpriv --reuid="$TUID" --regid="$TGID" "${GROUPS_ARG[@]}" -- \
        timeout -k 10 "$TIMEOUT" bats --tap "$file" > "$tap" 2> "${tap%.tap}.stderr"
    local rc=$?
    [[ $rc -eq 124 || $rc -eq 137 ]] && echo "# chrun-bats: TIMED OUT after ${TIMEOUT}s" >> "$tap"
    return 0
}

as_user () {  # run a command as the test user in $WORK/runs/$run context
    setpriv --reuid="$TUID" --regid="$TGID" --init-groups -- "$@"
}

# ch-test's TMP_ (holds BATS_TMPDIR). It must be under /tmp with $TMPDIR
# unset: the join tests have the guest write to $BATS_TMPDIR/join.N.ns and
# rely on host /tmp being the guest's /tmp.
tmp_of () { echo "/tmp/chrun-bats.tmp_.$1.$TUSER"; }

prepare_run () {
    local run=$1 rd=$WORK/runs/$1
    rm -rf --one-file-system "$rd" "${IMGROOT:?}/$run" "$(tmp_of "$run")"
    mkdir -p "$rd/tap"
    make_bindir "$run" "$rd/bin"
    chown "$TUID:$TGID" "$rd"
    as_user mkdir -m 700 "$rd/tmp" "$(tmp_of "$run")"
    mkdir "$IMGROOT/$run"
    chown "$TUID:$TGID" "$IMGROOT/$run"
    as_user touch "$IMGROOT/$run/WEIRD_AL_YANKOVIC"
    # unpack as ch-test's "unpack chtest" step: ch-convert tar -> dir, as the user
    local tag
    for tag in chtest argenv; do
        [[ -s $TARDIR/$tag.tar.gz ]] || continue
        if ! env -i PATH=/usr/bin:/bin HOME="$THOME" USER="$TUSER" TMPDIR="$rd/tmp" \
                setpriv --reuid="$TUID" --regid="$TGID" --init-groups -- \
                ch-convert -i tar -o dir "$TARDIR/$tag.tar.gz" "$IMGROOT/$run/$tag" \
                > "$rd/unpack-$tag.log" 2>&1; then
            log "$run: ch-convert of $tag failed; see $rd/unpack-$tag.log"
        fi
    done
}

# Bats files + optional GUEST pairs -> list of "label|file|extra env".
JOBS=()
for f in $FILES; do
    JOBS+=("$(basename "$f")|$f|")
    if [[ $f == */ch-run_uidgid.bats && $UIDGID_ALL == 1 ]]; then
        tgname=$(id -gn "$TUSER")
        nogroup=$(id -gn nobody)
        for gu in "$TUSER" root nobody; do
            for gg in "$tgname" root "$nogroup"; do
                JOBS+=("ch-run_uidgid.bats[$gu:$gg]|$f|GUEST_USER=$gu GUEST_GROUP=$gg")
            done
        done
    fi
done

for run in $RUNS; do
    case $run in real|hpai) ;; *) die "unknown run: $run";; esac
    if [[ $run == hpai ]]; then
        # The build tree may be mid-rebuild: wait (CHRUN_BATS_WAIT, 600 s)
        # for a binary that runs and hasn't changed for 20 s.
        for ((w = 0; w < ${CHRUN_BATS_WAIT:-600}; w += 5)); do
            if [[ -x $HPAI_RUN ]] \
               && (( $(date +%s) - $(stat -c %Y "$HPAI_RUN") >= 20 )) \
               && "$HPAI_RUN" --version > /dev/null 2>&1; then
                break
            fi
            (( w % 60 == 0 )) && log "hpai: waiting for $HPAI_RUN (missing, not executable or just rebuilt)"
            sleep 5
        done
        if [[ ! -x $HPAI_RUN ]]; then
            log "hpai: $HPAI_RUN not executable; skipping that run"; continue
        fi
        if [[ ${CHRUN_BATS_SNAPSHOT:-1} == 1 ]]; then
            cp "$HPAI_RUN" "$WORK/hpai-run.snapshot.tmp" \
                && chmod 755 "$WORK/hpai-run.snapshot.tmp" \
                && mv "$WORK/hpai-run.snapshot.tmp" "$WORK/hpai-run.snapshot" \
                || die "can't copy $HPAI_RUN"
            "$WORK/hpai-run.snapshot" --version > /dev/null 2>&1 \
                || die "the copy of $HPAI_RUN doesn't run (mid-rebuild?)"
            HPAI_DESC="$HPAI_RUN ($("$WORK/hpai-run.snapshot" --version 2>&1), sha256 $(sha256sum "$WORK/hpai-run.snapshot" | cut -c1-16), mtime $(stat -c %y "$HPAI_RUN" | cut -d. -f1); run from the copy $WORK/hpai-run.snapshot)"
        else
            HPAI_DESC="$HPAI_RUN ($("$HPAI_RUN" --version 2>&1))"
        fi
        log "hpai: testing $HPAI_DESC"
    fi
    log "$run: preparing $WORK/runs/$run and $IMGROOT/$run"
    prepare_run "$run"
    chmod 755 "$WORK/runs"
    leftover=$(find /dev/shm -maxdepth 1 -name '*ch-run*' 2> /dev/null)
    [[ -n $leftover ]] && log "$run: note: /dev/shm has ch-run IPC leftovers: $leftover"
    leftover=$(find /tmp -maxdepth 1 -name 'ch-run_passwd*' -o -maxdepth 1 -name 'ch-run_group*' 2> /dev/null)
    [[ -n $leftover ]] && log "$run: note: /tmp has ch-run passwd/group leftovers (test \"broken image errors\" counts them): $leftover"
    for j in "${JOBS[@]}"; do
        IFS='|' read -r label file extra <<< "$j"
        tap=$WORK/runs/$run/tap/$(echo "$label" | tr '[]:' '__-').tap
        log "$run: bats $label"
        start=$SECONDS
        # shellcheck disable=SC2086
        (cd "$TESTDIR" && bats_as_user "$run" "$file" "$tap" $extra)
        log "$run:   $(grep -c '^ok' "$tap") ok, $(grep -c '^not ok' "$tap") not ok ($((SECONDS-start)) s)"
    done
    # Joining tests leave background peers (and hpai's join keeper, which
    # waits up to $HPAI_JOIN_TIMEOUT for ranks that never come when a test
    # stops early). Wait for them to end on their own; nothing is killed.
    for ((w = 0; w < 90; w++)); do
        pgrep -u "$TUID" -f "$IMGROOT/$run/" > /dev/null || break
        sleep 1
    done
    pids=$(pgrep -u "$TUID" -f "$IMGROOT/$run/" | tr '\n' ' ')
    [[ -n $pids ]] && log "$run: still running after 90 s (left alone): $pids"
    rm -rf "$WORK/tap-$run"
    cp -r "$WORK/runs/$run/tap" "$WORK/tap-$run"
done


### Table ####################################################################

# TAP counts: plan, ok (not skipped), skipped.
tap_counts () {  # $1 tap file -> "plan pass skip"
    local t=$1
    [[ -f $t ]] || { echo "- - -"; return; }
    local plan pass skip
    plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$t" | head -1)
    pass=$(grep -E '^ok ' "$t" | grep -vc '# skip')
    skip=$(grep -E '^ok ' "$t" | grep -c '# skip')
    echo "${plan:-?} $pass $skip"
}

summary=$WORK/summary.txt
compare=$WORK/compare.txt
{
    printf '%-40s %5s %8s %9s %14s\n' file tests 'ch-run' 'hpai-run' 'skipped(ch/hpai)'
    tot_n=0; tot_r=0; tot_h=0
    for j in "${JOBS[@]}"; do
        IFS='|' read -r label file extra <<< "$j"
        base=$(echo "$label" | tr '[]:' '__-').tap
        read -r n1 p1 s1 <<< "$(tap_counts "$WORK/runs/real/tap/$base")"
        read -r n2 p2 s2 <<< "$(tap_counts "$WORK/runs/hpai/tap/$base")"
        n=$n1; [[ $n == - || $n == '?' ]] && n=$n2
        printf '%-40s %5s %8s %9s %14s\n' "$label" "$n" "$p1" "$p2" "$s1/$s2"
        [[ $n =~ ^[0-9]+$ ]] && tot_n=$((tot_n + n))
        [[ $p1 =~ ^[0-9]+$ ]] && tot_r=$((tot_r + p1))
        [[ $p2 =~ ^[0-9]+$ ]] && tot_h=$((tot_h + p2))
    done
    printf '%-40s %5s %8s %9s\n' TOTAL "$tot_n" "$tot_r" "$tot_h"
    echo
    echo "ch-run:   $REAL_CHRUN ($(dpkg-query -W -f '${Package} ${Version}' charliecloud 2> /dev/null))"
    echo "hpai-run: ${HPAI_DESC:-not run}"
    echo "tests:    $TESTDIR ($(dpkg-query -W -f '${Package} ${Version}' charliecloud-tests 2> /dev/null)), bats $(bats --version | awk '{print $2}')"
} > "$summary"

# Per-test comparison, by test number (bats 1.8 expands "$..." in test names,
# so names come from the .bats source instead of the TAP).
tap_status () {  # $1 tap, $2 number -> pass|FAIL|skip|-
    [[ -f $1 ]] || { echo -; return; }
    awk -v n="$2" '
        $1=="ok" && $2==n   { print (index($0, "# skip") ? "skip" : "pass"); f=1; exit }
        $1=="not" && $3==n  { print "FAIL"; f=1; exit }
        END { if (!f) print "-" }' "$1"
}
{
    printf '%-6s %-6s %s\n' ch-run hpai test
    for j in "${JOBS[@]}"; do
        IFS='|' read -r label file extra <<< "$j"
        base=$(echo "$label" | tr '[]:' '__-').tap
        k=0
        while IFS= read -r name; do
            k=$((k + 1))
            printf '%-6s %-6s %s: %s\n' \
                   "$(tap_status "$WORK/runs/real/tap/$base" "$k")" \
                   "$(tap_status "$WORK/runs/hpai/tap/$base" "$k")" \
                   "$label" "$name"
        done < <(sed -nE "s/^@test ['\"](.*)['\"] \{.*$/\1/p" "$TESTDIR/$file")
    done
} > "$compare"

cat "$summary"
echo
echo "per-test status: $compare"
echo "TAP: $WORK/runs/{real,hpai}/tap/*.tap (copies in $WORK/tap-{real,hpai})"
exit 0
