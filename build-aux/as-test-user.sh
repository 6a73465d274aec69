#!/bin/sh
# as-test-user.sh: run a command as the unprivileged test user when started as root.
#
#   sh build-aux/as-test-user.sh [-q] [-r PATH]... [-w DIR]... [-h HINT] -- COMMAND [ARG]...
#
# initdb refuses to run as root, so the test suite (make check) and the demo,
# started as root, run as an unprivileged user: PGR_TEST_USER, default
# pgrebuild-test.  When that user does not exist it is created, and this says
# so before it does it.  Not root: COMMAND runs as it is, and the options only
# matter as root:
#
#   -r PATH   the user must be able to read PATH (and reach it through its
#             parent directories); if it cannot, this stops with exit 3 and
#             says so, adding HINT (what to run instead); -q: silently
#   -w DIR    DIR is created if missing and given to the user, with all it holds
#
# The environment is kept (runuser without --login); HOME, USER, LOGNAME and
# SHELL become the user's.
set -eu

prog=as-test-user.sh
user=${PGR_TEST_USER:-pgrebuild-test}
quiet=
hint=
readable=
writable=

die()
{
	echo "$prog: error: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	-q) quiet=1 ;;
	-r) readable="$readable
$2"; shift ;;
	-w) writable="$writable
$2"; shift ;;
	-h) hint=$2; shift ;;
	--) shift; break ;;
	*) die "unknown option $1 (usage: $prog [-q] [-r PATH]... [-w DIR]... [-h HINT] -- COMMAND [ARG]...)" ;;
	esac
	shift
done
[ $# -gt 0 ] || die "no command given (usage: $prog [-q] [-r PATH]... [-w DIR]... [-h HINT] -- COMMAND [ARG]...)"

[ "$(id -u)" = 0 ] || exec "$@"

command -v runuser >/dev/null 2>&1 ||
	die "running as root, and runuser (util-linux) is missing, so the command cannot run as an unprivileged user: $*. Nothing was changed. Run it as an ordinary user instead."

if ! id "$user" >/dev/null 2>&1; then
	echo "$prog: initdb refuses to run as root, so this runs as the unprivileged user $user, which does not exist yet."
	echo "$prog: creating it now: useradd --create-home --shell /bin/sh $user"
	echo "$prog: (set PGR_TEST_USER to use another user; remove this one later with: userdel -r $user)"
	useradd --create-home --shell /bin/sh "$user" ||
		die "could not create the user $user (see the message above); nothing else was changed. Create an unprivileged user yourself and name it in PGR_TEST_USER."
fi

# Here-document lists: one path per line; paths with newlines are not supported.
while IFS= read -r path; do
	[ -n "$path" ] || continue
	if ! runuser -u "$user" -- test -r "$path"; then
		[ -n "$quiet" ] && exit 3
		echo "$prog: error: the unprivileged user $user cannot read $path (it or one of its parent directories is closed to other users), so the command cannot run as that user: $*" >&2
		echo "$prog: detail: Nothing was changed." >&2
		[ -z "$hint" ] || echo "$prog: hint: $hint" >&2
		exit 3
	fi
done <<EOF
$readable
EOF

while IFS= read -r dir; do
	[ -n "$dir" ] || continue
	mkdir -p "$dir"
	chown -R "$user:" "$dir"
done <<EOF
$writable
EOF

exec runuser -u "$user" -- "$@"
