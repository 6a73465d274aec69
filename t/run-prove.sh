#!/bin/sh
# run-prove.sh: run the unit tests and t/*.pl under prove with PostgreSQL's test modules.
#
# `make check` calls this with the settings configure found.  Run from the
# build directory it also works alone, taking them from pg_config:
#
#   PROVE_TESTS="t/001_harness.pl" PROVE_FLAGS="-v" sh t/run-prove.sh
#
# Environment (all optional):
#   PG_CONFIG      pg_config to ask when PG_BINDIR/PG_PKGLIBDIR are unset
#   PG_BINDIR      PostgreSQL programs (initdb, pg_ctl, postgres, psql, pgbench)
#   PG_SERVER_BINDIR  the server to test against, when it is not PG_BINDIR's:
#                  a directory with initdb, pg_ctl, postgres and a pg_config
#                  that answers --version (t/pg-versions.sh makes one per
#                  major); it comes first on PATH, and the client programs
#                  (psql, pgbench, pg_dump), pg_regress and the perl modules
#                  stay PG_BINDIR's and PG_PKGLIBDIR's
#   PG_PKGLIBDIR   holds pgxs/src/test/perl and pgxs/src/test/regress/pg_regress
#   PGR_SRCDIR     source tree (default: the parent of this script's directory)
#   PGR_BUILDDIR   build tree (default: the current directory)
#   PG_REBUILD     the binary under test (default: $PGR_BUILDDIR/pg_rebuild)
#   TESTDIR        where tmp_check/ goes (default: $PGR_BUILDDIR)
#   UNIT_TESTS     unit test executables, relative to the build tree
#                  (default: every executable t/unit/test_*)
#   PROVE_TESTS    run only these (paths relative to the build or source tree)
#   PROVE_FLAGS    extra prove flags; perl tests run one at a time (-j1) unless
#                  this says otherwise (e.g. PROVE_FLAGS=-j2)
set -eu

die()
{
	echo "run-prove.sh: error: $*" >&2
	exit 2
}

srcdir=${PGR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${PGR_BUILDDIR:-$(pwd)}
builddir=$(cd "$builddir" && pwd)
TESTDIR=${TESTDIR:-$builddir}

# initdb refuses to run as root: as root, the tests run as an unprivileged
# user (build-aux/as-test-user.sh says which, and creates it if needed) over
# this same build, writing only in tmp_check/, which that user is given.
if [ "$(id -u)" = 0 ]; then
	echo "run-prove.sh: running as root: the tests run as an unprivileged user (initdb refuses root)"
	mkdir -p "$TESTDIR"
	sh "$srcdir/build-aux/as-test-user.sh" \
		-r "$srcdir/t/run-prove.sh" -r "$builddir" -r "$TESTDIR" \
		${PG_SERVER_BINDIR:+-r "$PG_SERVER_BINDIR"} \
		-h "run ${PROVE_TESTS:+PROVE_TESTS='$PROVE_TESTS' }./dev.sh check in $srcdir instead: it runs the tests as that user over a copy of the tree that the user can read" \
		-- true || exit $?
	rm -rf "$TESTDIR/tmp_check"
	exec sh "$srcdir/build-aux/as-test-user.sh" -w "$TESTDIR/tmp_check" \
		-- env PGR_TMP_CHECK_GIVEN=1 PGR_SRCDIR="$srcdir" PGR_BUILDDIR="$builddir" TESTDIR="$TESTDIR" \
		sh "$srcdir/t/run-prove.sh"
fi

pg_config=${PG_CONFIG:-pg_config}
if [ -z "${PG_BINDIR:-}" ] || [ -z "${PG_PKGLIBDIR:-}" ]; then
	command -v "$pg_config" >/dev/null 2>&1 ||
		die "pg_config not found; install libpq-dev (Debian) or set PG_CONFIG"
	PG_BINDIR=${PG_BINDIR:-$("$pg_config" --bindir)}
	PG_PKGLIBDIR=${PG_PKGLIBDIR:-$("$pg_config" --pkglibdir)}
fi

perl_modules=$PG_PKGLIBDIR/pgxs/src/test/perl
PG_REGRESS=${PG_REGRESS:-$PG_PKGLIBDIR/pgxs/src/test/regress/pg_regress}
PG_REBUILD=${PG_REBUILD:-$builddir/pg_rebuild}

PG_SERVER_BINDIR=${PG_SERVER_BINDIR:-$PG_BINDIR}

# Our binary, then the server's programs, then the client programs come first,
# so PostgreSQL::Test::Cluster runs this initdb/pg_ctl/postgres (and asks this
# pg_config which version it is), not others.
PATH=$builddir:$PG_SERVER_BINDIR:$PG_BINDIR:$PATH
PERL5LIB=$perl_modules:$srcdir/t/lib${PERL5LIB:+:$PERL5LIB}
export PATH PERL5LIB PG_REGRESS PG_REBUILD TESTDIR PG_BINDIR PG_PKGLIBDIR \
	PG_SERVER_BINDIR

if [ "$srcdir" -ef "$builddir" ]; then
	srcprefix=
else
	srcprefix=$srcdir/
fi

cd "$builddir"

if [ -n "${PROVE_TESTS:-}" ]; then
	tests=
	for t in $PROVE_TESTS; do
		if [ -e "$t" ]; then
			tests="$tests $t"
		elif [ -e "$srcdir/$t" ]; then
			tests="$tests $srcprefix$t"
		else
			die "no such test: $t"
		fi
	done
else
	if [ -z "${UNIT_TESTS:-}" ]; then
		UNIT_TESTS=
		for t in t/unit/test_*; do
			if [ -f "$t" ] && [ -x "$t" ]; then
				UNIT_TESTS="$UNIT_TESTS $t"
			fi
		done
	fi
	tests=$UNIT_TESTS
	for t in "$srcdir"/t/*.pl; do
		if [ -f "$t" ]; then
			tests="$tests $srcprefix${t#"$srcdir"/}"
		fi
	done
fi

# Perl tests start clusters: check what they need before prove hides it in logs.
server="the PostgreSQL server"
case " $tests " in
*.pl\ *)
	[ -f "$perl_modules/PostgreSQL/Test/Cluster.pm" ] ||
		die "$perl_modules/PostgreSQL/Test/Cluster.pm not found; install postgresql-client-NN (Debian) for the PostgreSQL version of $pg_config"
	[ -x "$PG_REGRESS" ] ||
		die "pg_regress not found at $PG_REGRESS; install postgresql-client-NN (Debian)"
	if [ "$PG_SERVER_BINDIR" = "$PG_BINDIR" ]; then
		[ -x "$PG_BINDIR/initdb" ] ||
			die "initdb not found in $PG_BINDIR; install postgresql-NN (Debian)"
	else
		for p in initdb pg_ctl postgres pg_config; do
			[ -x "$PG_SERVER_BINDIR/$p" ] ||
				die "$p not found in PG_SERVER_BINDIR=$PG_SERVER_BINDIR; make that directory with sh t/pg-versions.sh bindir MAJOR"
		done
	fi
	[ -x "$PG_BINDIR/pgbench" ] ||
		die "pgbench not found in $PG_BINDIR; install postgresql-NN (Debian)"
	server=$("$PG_SERVER_BINDIR/postgres" --version 2>/dev/null) ||
		die "$PG_SERVER_BINDIR/postgres does not run: $("$PG_SERVER_BINDIR/postgres" --version 2>&1 || true)"
	perl -MIPC::Run -e 1 2>/dev/null ||
		die "perl module IPC::Run not found; install libipc-run-perl (Debian)"
	;;
esac

[ -n "$tests" ] || die "no tests found"
command -v prove >/dev/null 2>&1 || die "prove not found; install perl (Debian)"

# Each run starts from a clean tmp_check (data directories and logs), as
# PostgreSQL's own prove_check does (as root, done above before giving it away).
[ -n "${PGR_TMP_CHECK_GIVEN:-}" ] || rm -rf "$TESTDIR/tmp_check"
mkdir -p "$TESTDIR"

if [ "$PG_SERVER_BINDIR" = "$PG_BINDIR" ]; then
	echo "run-prove.sh: $server from $PG_BINDIR; logs in $TESTDIR/tmp_check/log"
else
	echo "run-prove.sh: $server from $PG_SERVER_BINDIR, client programs from $PG_BINDIR; logs in $TESTDIR/tmp_check/log"
fi
# shellcheck disable=SC2086 # PROVE_FLAGS and tests are word lists
exec prove -j1 --timer ${PROVE_FLAGS:-} $tests
