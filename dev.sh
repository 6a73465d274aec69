#!/usr/bin/env bash
# dev.sh: install build dependencies, build, and test pg_rebuild.
#
#   ./dev.sh deps    install the Debian packages the build and tests need
#   ./dev.sh build   autoreconf (first time), configure --enable-test-hooks, make
#   ./dev.sh check   build, then make check (as the current user)
#   ./dev.sh test    deps + build + make check; as root, runs the suite as an
#                    unprivileged user in a copy of the tree (initdb refuses root)
#   ./dev.sh demo    show pg_rebuild at work
#
# Environment: PG_CONFIG (which PostgreSQL), PG_MAJOR (server version to install
# when no pg_config is found), CONFIGURE_FLAGS (extra ./configure arguments),
# PROVE_TESTS / PROVE_FLAGS (see t/run-prove.sh), PGR_TEST_USER (the
# unprivileged user, default pgrebuild-test), KEEP_TEST_DIR=1 (keep the copy).
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

	local -a sudo=()
	if [ "$(id -u)" != 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			cannot_install "$missing"
		fi
		if [ -t 0 ]; then
			sudo=(sudo)
		else
			sudo=(sudo -n)
		fi
	fi

	say "installing: $missing"
	# shellcheck disable=SC2086 # $missing is a list of package names
	if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
		! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends $missing; then
		cannot_install "$missing"
	fi

	# A first install of the default server package brings pg_config: make sure
	# its exact versioned packages are there too.
	missing=$(missing_packages)
	[ -z "$missing" ] || cannot_install "$missing"
	check_postgres_tools
}

cannot_install()
{
	echo "$prog: error: missing packages: $1" >&2
	echo "$prog: hint: install them as root with:" >&2
	echo "    apt-get install $1" >&2
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
	cmd_build
	make -j"$(ncpu)" check
}

# --- test ---------------------------------------------------------------------

# Copies the source tree of $top to $1: the files git knows or would add
# (tracked and untracked, not ignored), else everything but git and build outputs.
copy_tree()
{
	local dst=$1
	if command -v git >/dev/null 2>&1 &&
		git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
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
			--exclude=.deps --exclude=.dirstamp --exclude='*.o' --exclude='*.a' \
			--exclude=Makefile --exclude=Makefile.in --exclude=configure \
			--exclude=config.status --exclude=config.log --exclude=aclocal.m4 \
			--exclude=./pg_rebuild --exclude=./lib/sqlsrc.c \
			--exclude='./t/unit/test_*[!.][!ch]' \
			-cf - . | tar -C "$dst" -xf -
	fi
}

# Prints the logs of failed perl tests, for CI where the machine is gone later.
show_failure_logs()
{
	local logdir=$1/tmp_check/log f base
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

# Runs "./dev.sh $1" as the unprivileged user in a copy of the tree.
run_as_test_user()
{
	local what=$1
	local user=${PGR_TEST_USER:-pgrebuild-test}
	if ! id "$user" >/dev/null 2>&1; then
		say "creating unprivileged user $user (initdb refuses to run as root)"
		useradd --create-home --shell /bin/sh "$user"
	fi

	local work
	work=$(mktemp -d "${TMPDIR:-/tmp}/pg_rebuild-test.XXXXXX")
	copy_tree "$work"
	chown -R "$user:" "$work"
	chmod 755 "$work"
	say "running ./dev.sh $what as $user in $work"

	local rc=0
	(cd "$work" && runuser -u "$user" -- bash ./dev.sh "$what") || rc=$?

	if [ "$rc" = 0 ] && [ -z "${KEEP_TEST_DIR:-}" ]; then
		rm -rf "$work"
	else
		if [ "$rc" != 0 ] && [ -n "${CI:-}" ]; then
			show_failure_logs "$work"
		fi
		say "test tree kept in $work (logs in $work/tmp_check/log)"
	fi
	return "$rc"
}

cmd_test()
{
	cmd_deps
	if [ "$(id -u)" = 0 ]; then
		run_as_test_user check
	else
		local rc=0
		cmd_check || rc=$?
		if [ "$rc" != 0 ] && [ -n "${CI:-}" ]; then
			show_failure_logs "$top"
		fi
		return "$rc"
	fi
}

# --- demo ---------------------------------------------------------------------

cmd_demo()
{
	cmd_deps
	if [ "$(id -u)" = 0 ]; then
		run_as_test_user demo
	else
		cmd_build
		bash "$top/bench/demo.sh" "$top/pg_rebuild"
	fi
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
	-h | --help | help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
