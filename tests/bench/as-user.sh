# Sourced by the benchmarks (after setting $build and $out). Started as root, they run
# what they measure as the unprivileged test user (made if missing), and BUILD/bench
# becomes the user's, mode 0755: a directory others can write would make hpai-run
# refuse the profiles made in it. Sets $user, the arrays as and as_env, and run_as.
user=$(id -un)
as=()
if [ "$(id -u)" = 0 ]; then
  user=${HPAI_TEST_USER:-hpai-test}
  id "$user" >/dev/null 2>&1 || "$(dirname "${BASH_SOURCE[0]}")/../setup-test-user.sh" "$build" "$user" >/dev/null
  as=(setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups --)
  mkdir -p "$out" && chown "$user" "$out" && chmod 755 "$out"
fi
as_env=(env -i PATH=/usr/bin:/bin USER="$user" HOME=/)
# A function runs in a subshell when sent to the background: "${as_env[@]}" "${as[@]}"
# CMD & keeps $! the command's own pid.
run_as() { "${as_env[@]}" "${as[@]}" "$@"; }
