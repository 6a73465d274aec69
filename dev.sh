#!/usr/bin/env bash
# dev.sh: install build dependencies, build, and test pg_rebuild.
#
#   ./dev.sh deps       install the Debian packages the build and tests need
#   ./dev.sh build      autoreconf (first time), configure --enable-test-hooks, make
#   ./dev.sh check      build, then make check (as root, the tests run as an
#                       unprivileged user: see below)
#   ./dev.sh test       deps + build + make check
#   ./dev.sh demo       deps + build + show pg_rebuild at work (bench/demo.sh)
#   ./dev.sh distcheck  deps + make distcheck (the tarball builds and passes the
#                       suite on its own, from a read-only source tree)
#   ./dev.sh versions [MAJOR...]
#                       deps (and npm) + build + the tests against the
#                       PostgreSQL servers of 13 to 18 (t/run-versions.sh says
#                       which tests run on which version); the servers are
#                       fetched once into pg-servers/ (t/pg-versions.sh)
#   ./dev.sh matrix [MAJOR...]
#                       build, then t/run-versions.sh (as the current user)
#   ./dev.sh package    build the Debian package (dpkg-buildpackage, in a copy
#                       of the tree), run lintian, and check it: extracted into
#                       an empty directory, its pg_rebuild runs --version and
#                       --help and its manual page renders; the .deb goes to
#                       deb-out/
#
# As root: initdb refuses root, so the tests and the demo run as an
# unprivileged user (PGR_TEST_USER, default pgrebuild-test; created, saying
# so, when missing).  They run over the clone itself when that user can read
# it (the build is root's; the user writes only tmp_check/), else over a copy
# in $TMPDIR that is removed when they pass.  distcheck runs wholly as that
# user, in a copy under tmp_distcheck/ in the clone (in $TMPDIR when the user
# cannot read the clone), removed when it passes.  A failed run's copy is
# kept, and its place is printed.
#
# Environment: PG_CONFIG (which PostgreSQL), PG_MAJOR (server version to install
# when no pg_config is found), CONFIGURE_FLAGS (extra ./configure arguments),
# PROVE_TESTS / PROVE_FLAGS (see t/run-prove.sh), PGR_TEST_USER,
# KEEP_TEST_DIR=1 (keep a copy even when its run passed), APT_LOCK_WAIT
# (seconds to wait for another apt-get or dpkg to finish, default 600).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=dev.sh

say()
{
	echo "$prog: $*"
}

die()
{
	echo "$prog: error: $*" >&2
	exit 1
}

ncpu()
{
	getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2
}

# --- deps ---------------------------------------------------------------------

pg_config_cmd()
{
	echo "${PG_CONFIG:-pg_config}"
}

# Major version of the PostgreSQL that pg_config describes, if any.
pg_major()
{
	if [ -n "${PG_MAJOR:-}" ]; then
		echo "$PG_MAJOR"
	elif "$(pg_config_cmd)" --version >/dev/null 2>&1; then
		"$(pg_config_cmd)" --version | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p'
	fi
}

# The server package provides initdb, pg_ctl, postgres and pgbench; it pulls in
# postgresql-client-NN, which ships pg_config, pg_regress and the
# PostgreSQL::Test perl modules (pgxs/src/test/perl).  Without a pg_config yet,
# the distribution's default version ("postgresql") is the one to install.
required_packages()
{
	local major server
	major=$(pg_major)
	if [ -n "$major" ]; then
		server=postgresql-$major
	else
		server=postgresql
	fi
	echo build-essential pkg-config autoconf automake libtool \
		libpq-dev libpqtypes-dev zlib1g-dev \
		"$server" perl libipc-run-perl libio-pty-perl
}

package_installed()
{
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing_packages()
{
	local p missing=()
	for p in $(required_packages); do
		package_installed "$p" || missing+=("$p")
	done
	echo "${missing[@]}"
}

cmd_deps()
{
	command -v dpkg-query >/dev/null 2>&1 ||
		die "not a Debian system; install the equivalents of: $(required_packages)"

	local missing
	missing=$(missing_packages)
	if [ -z "$missing" ]; then
		say "all build and test dependencies are installed"
		check_postgres_tools
		return 0
	fi

	# shellcheck disable=SC2086 # $missing is a list of package names
	apt_install $missing

	# A first install of the default server package brings pg_config: make sure
	# its exact versioned packages are there too.
	missing=$(missing_packages)
	[ -z "$missing" ] || cannot_install "$missing"
	check_postgres_tools
}

# The locks apt-get and dpkg take; another apt-get (an unattended upgrade, a
# second ./dev.sh) holding one makes ours fail at once unless we wait.
apt_lock_files=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock
	/var/lib/apt/lists/lock /var/cache/apt/archives/lock)

# "PID (COMMAND)" of each process that holds one of them, from /proc/locks.
apt_lock_holders()
{
	local f ino pid
	[ -r /proc/locks ] || return 0
	for f in "${apt_lock_files[@]}"; do
		ino=$(stat -c %i "$f" 2>/dev/null) || continue
		awk -v ino="$ino" '$2 != "->" { n = split($6, d, ":"); if (d[n] == ino) print $5 }' /proc/locks
	done | sort -u | while read -r pid; do
		echo "$pid ($(ps -o comm= -p "$pid" 2>/dev/null || echo gone))"
	done
}

# Waits while another process holds the package manager's locks, saying who,
# up to APT_LOCK_WAIT seconds (default 600) in all.
wait_for_apt_locks()
{
	local holders told=-1
	while holders=$(apt_lock_holders) && [ -n "$holders" ]; do
		if [ "$SECONDS" -ge "$apt_deadline" ]; then
			echo "$prog: error: the package manager is still locked by $(echo "$holders" | paste -sd, -) after ${APT_LOCK_WAIT:-600} s of waiting" >&2
			echo "$prog: detail: Nothing was installed by this run." >&2
			echo "$prog: hint: Run ./dev.sh again once it is done, or wait longer with APT_LOCK_WAIT=SECONDS." >&2
			exit 1
		fi
		if [ "$told" -lt 0 ] || [ $((SECONDS - told)) -ge 30 ]; then
			say "waiting for the package manager, locked by $(echo "$holders" | paste -sd, -) (up to $((apt_deadline - SECONDS)) s more; APT_LOCK_WAIT sets the limit)"
			told=$SECONDS
		fi
		sleep 2
	done
}

# apt-get ARGS..., as root (sudo when needed), after waiting for any other
# apt-get or dpkg; taken again if another one took the lock in between.
apt_get()
{
	local rc
	apt_deadline=${apt_deadline:-$((SECONDS + ${APT_LOCK_WAIT:-600}))}
	while :; do
		wait_for_apt_locks
		rc=0
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get -o DPkg::Lock::Timeout=$((apt_deadline - SECONDS > 0 ? apt_deadline - SECONDS : 0)) "$@" || rc=$?
		[ "$rc" != 0 ] || return 0
		if [ -z "$(apt_lock_holders)" ] || [ "$SECONDS" -ge "$apt_deadline" ]; then
			return "$rc"
		fi
		say "apt-get $1 failed while another process took the package manager's lock: waiting for it, then trying again"
	done
}

# Installs Debian packages with apt-get, through sudo when not root.
apt_install()
{
	sudo=()
	if [ "$(id -u)" != 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			cannot_install "$*"
		fi
		if [ -t 0 ]; then
			sudo=(sudo)
		else
			sudo=(sudo -n)
		fi
	fi
	say "installing: $*"
	if ! apt_get update -q || ! apt_get install -y -q --no-install-recommends "$@"; then
		cannot_install "$*"
	fi
}

# Installs those of the named packages that are missing.
install_missing()
{
	local p missing=()
	for p in "$@"; do
		package_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} = 0 ] || apt_install "${missing[@]}"
}

cannot_install()
{
	echo "$prog: error: these packages are missing and could not be installed: $1" >&2
	echo "$prog: detail: apt-get's own message, if any, is above; nothing was built or tested." >&2
	echo "$prog: hint: install them as root with \"apt-get install $1\", then run ./dev.sh again." >&2
	exit 1
}

# The tests take initdb etc. and the perl modules from pg_config's installation.
check_postgres_tools()
{
	local pgc bindir pkglibdir
	pgc=$(pg_config_cmd)
	bindir=$("$pgc" --bindir) || die "$pgc does not run"
	pkglibdir=$("$pgc" --pkglibdir)
	[ -x "$bindir/initdb" ] && [ -x "$bindir/pgbench" ] ||
		die "initdb or pgbench missing in $bindir; install postgresql-$(pg_major)"
	[ -f "$pkglibdir/pgxs/src/test/perl/PostgreSQL/Test/Cluster.pm" ] ||
		die "PostgreSQL::Test::Cluster missing in $pkglibdir; install postgresql-client-$(pg_major)"
}

# --- build and check ------------------------------------------------------------

# Whether the tree is configured with the test pauses the tests need.
has_test_hooks()
{
	[ -f config.status ] &&
		./config.status --config | grep -qE -- "--enable-test-hooks('|=yes')"
}

# Builds a test build: configured with --enable-test-hooks (README, Developing).
cmd_build()
{
	cd "$top"
	if [ ! -x configure ] || [ ! -f Makefile.in ]; then
		say "autoreconf -fi"
		autoreconf -fi
	fi
	if [ -f Makefile ] && ! has_test_hooks; then
		# make would not rebuild what the new flags change: start clean
		say "configured without --enable-test-hooks: cleaning and configuring again"
		make clean >/dev/null
		rm -f Makefile
	fi
	if [ ! -f Makefile ]; then
		local -a args=()
		[ -z "${PG_CONFIG:-}" ] || args+=("PG_CONFIG=$PG_CONFIG")
		say "./configure --enable-test-hooks ${CONFIGURE_FLAGS:-} ${args[*]}"
		# shellcheck disable=SC2086 # CONFIGURE_FLAGS is a list of arguments
		./configure --enable-test-hooks ${CONFIGURE_FLAGS:-} "${args[@]}"
	fi
	make -j"$(ncpu)"
}

cmd_check()
{
	if [ "$(id -u)" = 0 ] && ! test_user_reads_clone; then
		run_in_copy check "$(outside_clone test)" tmp_check/log
		return
	fi
	cmd_build
	local rc=0
	make -j"$(ncpu)" check || rc=$?
	if [ "$rc" != 0 ] && [ -n "${CI:-}" ]; then
		show_failure_logs "$top/tmp_check/log"
	fi
	return "$rc"
}

# --- as root: the unprivileged test user ----------------------------------

as_test_user()
{
	sh "$top/build-aux/as-test-user.sh" "$@"
}

# Whether the test user (created first, saying so, if missing) can read the
# clone, so that it can run the tests and the demo there.
test_user_reads_clone()
{
	as_test_user -- true
	as_test_user -q -r "$top/configure.ac" -r "$top/bench/demo.sh" -- true
}

# Copies the source tree of $top to $1: the files git knows or would add
# (tracked and untracked, not ignored), else everything but git and build outputs.
copy_tree()
{
	local dst=$1
	if in_git_tree; then
		(
			cd "$top"
			git ls-files -z --cached --others --exclude-standard |
				while IFS= read -r -d '' f; do
					# a tracked file may be deleted in the work tree
					if [ -e "$f" ] || [ -L "$f" ]; then
						printf '%s\0' "$f"
					fi
				done |
				tar --null -T - -cf -
		) | tar -C "$dst" -xf -
	else
		tar -C "$top" \
			--exclude=.git --exclude=autom4te.cache --exclude=tmp_check \
			--exclude=./tmp_distcheck --exclude=./portlock \
			--exclude=.deps --exclude=.dirstamp --exclude='*.o' --exclude='*.a' \
			--exclude=Makefile --exclude=Makefile.in --exclude=configure \
			--exclude=config.status --exclude=config.log --exclude=aclocal.m4 \
			--exclude=./pg_rebuild --exclude=./lib/sqlsrc.c \
			--exclude='./pg_rebuild-*' \
			--exclude='./t/unit/test_*[!.][!ch]' \
			-cf - . | tar -C "$dst" -xf -
	fi
}

in_git_tree()
{
	command -v git >/dev/null 2>&1 &&
		git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1
}

# Prints the logs of failed perl tests in $1 (a tmp_check/log directory), for
# CI, where the machine is gone later.
show_failure_logs()
{
	local logdir=$1 f base
	[ -d "$logdir" ] || return 0
	for f in "$logdir"/regress_log_*; do
		[ -f "$f" ] || continue
		grep -qE '^(not ok|Bail out)|# Looks like|Dubious|died' "$f" || continue
		base=${f##*/regress_log_}
		echo "===== $f (last 150 lines)"
		tail -n 150 "$f"
		for node_log in "$logdir/${base}"_*.log; do
			[ -f "$node_log" ] || continue
			echo "===== $node_log (last 60 lines)"
			tail -n 60 "$node_log"
		done
	done
}

# Runs "./dev.sh $1" as the test user in a copy of the tree made in directory
# $2 (created if needed), which it owns.  The copy goes when the run passes
# (unless KEEP_TEST_DIR is set); a failed run's copy stays, and this says
# where, and where its test logs are ($3, a pattern relative to the copy;
# empty when the command prints its own).
run_in_copy()
{
	local what=$1 parent=$2 logs=${3:-}
	shift 3 || shift $#
	mkdir -p "$parent"
	local work
	work=$(mktemp -d "$parent/$what.XXXXXX")
	copy_tree "$work"
	if [ -d "$top/pg-servers" ]; then
		cp -a "$top/pg-servers" "$work/"
	fi
	if in_git_tree; then
		# the copy's own index lists the clone's files, for the tarball check
		git -C "$work" init -q && git -C "$work" add -A
	fi
	chmod 755 "$work"
	say "running ./dev.sh $what as ${PGR_TEST_USER:-pgrebuild-test} in a copy of the tree: $work"

	local rc=0
	# shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments
	as_test_user -w "$work" -- bash -c 'cd "$1" && shift && bash ./dev.sh "$@"' _ "$work" "$what" "$@" </dev/null || rc=$?

	if [ "$rc" = 0 ] && [ -z "${KEEP_TEST_DIR:-}" ]; then
		rm -rf "$work"
		rmdir "$parent" 2>/dev/null || true
		say "./dev.sh $what passed; its copy of the tree was removed"
	else
		local logdir=
		if [ -n "$logs" ]; then
			logdir=$(compgen -G "$work/$logs" | head -n 1) || logdir="$work/$logs"
			if [ "$rc" != 0 ] && [ -n "${CI:-}" ]; then
				show_failure_logs "$logdir"
			fi
			logdir=" (test logs in $logdir)"
		fi
		say "./dev.sh $what $([ "$rc" = 0 ] && echo passed || echo "failed (exit $rc)"); its copy of the tree is kept in $work$logdir; remove it with: rm -rf '$work'"
	fi
	return "$rc"
}

# Where copies go when the test user cannot read the clone (said on stderr).
outside_clone()
{
	say "the unprivileged user ${PGR_TEST_USER:-pgrebuild-test} cannot read the clone at $top (it or a parent directory is closed to other users), so this runs over a copy in ${TMPDIR:-/tmp}" >&2
	echo "${TMPDIR:-/tmp}/pg_rebuild-$1"
}

# --- test ---------------------------------------------------------------------

cmd_test()
{
	cmd_deps
	cmd_check
}

# --- demo ---------------------------------------------------------------------

cmd_demo()
{
	cmd_deps
	if [ "$(id -u)" = 0 ] && ! test_user_reads_clone; then
		run_in_copy demo "$(outside_clone demo)"
		return
	fi
	cmd_build
	as_test_user -- bash "$top/bench/demo.sh" "$top/pg_rebuild" </dev/null
}

# --- distcheck ------------------------------------------------------------------

cmd_distcheck()
{
	cmd_deps
	if [ "$(id -u)" = 0 ]; then
		# wholly unprivileged, so that the read-only source tree is really read-only
		local parent="$top/tmp_distcheck"
		test_user_reads_clone || parent=$(outside_clone distcheck)
		run_in_copy distcheck "$parent" "pg_rebuild-*/_build/sub/tmp_check/log"
		return
	fi
	cmd_build
	make distcheck
}

# --- versions -----------------------------------------------------------------

# npm fetches the servers of the other major versions (t/pg-versions.sh).
ensure_npm()
{
	command -v npm >/dev/null 2>&1 || apt_install nodejs npm
}

cmd_versions()
{
	cmd_deps
	ensure_npm
	say "fetching the PostgreSQL servers of the other major versions (once, into $top/pg-servers)"
	(cd "$top" && sh t/pg-versions.sh fetch)
	if [ "$(id -u)" = 0 ] && ! test_user_reads_clone; then
		run_in_copy matrix "$(outside_clone versions)" "tmp_versions" "$@"
		return
	fi
	local rc=0
	cmd_matrix "$@" || rc=$?
	if [ "$rc" != 0 ] && [ -n "${CI:-}" ]; then
		local d
		for d in "$top"/tmp_versions/pg*/tmp_check/log; do
			[ -d "$d" ] && show_failure_logs "$d"
		done
	fi
	return "$rc"
}

cmd_matrix()
{
	cmd_build
	(cd "$top" && bash t/run-versions.sh "$@")
}

# --- package ------------------------------------------------------------------

# What dpkg-buildpackage needs (debian/control's Build-Depends and the tools),
# and lintian to check the result.
package_tools="build-essential dpkg-dev debhelper libpq-dev libpqtypes-dev zlib1g-dev pkg-config lintian"

cmd_package()
{
	command -v dpkg-query >/dev/null 2>&1 ||
		die "not a Debian system: the package is built with dpkg-buildpackage"
	# shellcheck disable=SC2086 # a list of package names
	install_missing $package_tools

	local version work src out=$top/deb-out
	version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
	work=$(mktemp -d "${TMPDIR:-/tmp}/pg_rebuild-deb.XXXXXX")
	# dpkg-buildpackage writes its results next to the source directory: build
	# in a copy, so nothing lands beside (or inside) this tree but deb-out/.
	src=$work/pg-rebuild-${version%-*}
	mkdir "$src"
	copy_tree "$src"
	(cd "$src" && dpkg-checkbuilddeps) ||
		die "build dependencies of debian/control are missing (above); add them to package_tools in dev.sh"
	say "dpkg-buildpackage -us -uc -b in $src"
	(cd "$src" && dpkg-buildpackage -us -uc -b) ||
		die "dpkg-buildpackage failed (above); the build tree is kept in $src"

	local deb
	deb=$(find "$work" -maxdepth 1 -name "pg-rebuild_${version}_*.deb" | head -n 1)
	[ -n "$deb" ] || die "dpkg-buildpackage wrote no pg-rebuild_${version}_*.deb in $work"
	say "lintian $(basename "$deb")"
	lintian --info --display-info --fail-on error,warning "$work"/*.changes ||
		die "lintian found problems (above) in the package built in $work; fix them or explain them in debian/pg-rebuild.lintian-overrides"
	check_package "$deb" "$work/root"

	mkdir -p "$out"
	cp "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out/"
	rm -rf "$work"
	say "package: $out/$(basename "$deb") (install: apt install $out/$(basename "$deb"))"
}

# check_package DEB DIR: extracts DEB into the empty DIR and runs what it installed.
check_package()
{
	local deb=$1 root=$2 passed=0 out
	local bin=$root/usr/bin/pg_rebuild page=$root/usr/share/man/man1/pg_rebuild.1.gz
	mkdir "$root"
	dpkg-deb -x "$deb" "$root"
	say "package contents:"
	(cd "$root" && find . -type f | sort)

	[ -x "$bin" ] || die "the package installs no /usr/bin/pg_rebuild"
	passed=$((passed + 1))
	out=$("$bin" --version) || die "the packaged pg_rebuild --version failed: $out"
	[[ "$out" == "pg_rebuild "*"$(dpkg-deb -f "$deb" Version | sed 's/-[^-]*$//')"* ]] ||
		die "the packaged pg_rebuild --version printed '$out', not pg_rebuild and the package's version"
	say "pg_rebuild --version: $out"
	passed=$((passed + 1))
	out=$("$bin" --help) || die "the packaged pg_rebuild --help failed"
	grep -q -- '--table=TABLE' <<<"$out" ||
		die "the packaged pg_rebuild --help does not describe --table: $out"
	passed=$((passed + 1))
	[ -f "$page" ] || die "the package installs no manual page at /usr/share/man/man1/pg_rebuild.1.gz"
	passed=$((passed + 1))
	if command -v man >/dev/null 2>&1; then
		out=$(MANWIDTH=80 MANPAGER=cat man -l "$page" 2>&1) ||
			die "man -l on the packaged manual page failed: $out"
		grep -q '^NAME' <<<"$out" && grep -q 'pg_rebuild' <<<"$out" ||
			die "man -l on the packaged manual page shows no NAME section: $out"
		passed=$((passed + 1))
	else
		say "man is not installed: the manual page was not rendered"
	fi
	local depends
	depends=$(dpkg-deb -f "$deb" Depends)
	say "Depends: $depends"
	for lib in libc6 libpq5 libpqtypes0; do
		grep -q "\b$lib\b" <<<"$depends" || die "the package's Depends lacks $lib: $depends"
	done
	passed=$((passed + 1))
	echo "package: $passed passed, 0 failed"
}

usage()
{
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "${BASH_SOURCE[0]}"
}

main()
{
	local cmd=${1:-}
	[ $# -eq 0 ] || shift
	case "$cmd" in
	deps) cmd_deps "$@" ;;
	build) cmd_build "$@" ;;
	check) cmd_check "$@" ;;
	test) cmd_test "$@" ;;
	demo) cmd_demo "$@" ;;
	distcheck) cmd_distcheck "$@" ;;
	versions) cmd_versions "$@" ;;
	matrix) cmd_matrix "$@" ;;
	package) cmd_package "$@" ;;
	-h | --help | help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
