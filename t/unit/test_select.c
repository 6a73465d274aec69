/* test_select.c: which tables of a selection are chosen, in which order, and the deadline's arithmetic. */
#include <stdlib.h>
#include <string.h>

#include "select.h"
#include "str.h"
#include "tap.h"

/* A measured table: heap and indexes now, and what the estimate expects after (-1: no estimate). */
static void
add(Selection *sel, const char *name, long long now, long long after)
{
	Candidate *c;

	sel->items = pgr_realloc(sel->items, sizeof(Candidate) * (size_t) (sel->n + 1));
	c = &sel->items[sel->n++];
	memset(c, 0, sizeof(*c));
	c->qname = pgr_strdup(name);
	c->name = pgr_strdup(name);
	c->oid = (unsigned int) sel->n;
	c->measured = true;
	c->size.heap_now = now;
	c->size.known = after >= 0;
	c->size.heap_after = after >= 0 ? after : now;
	if (after < 0)
		c->size.unknown_why = pgr_strdup("never analyzed");
}

static const char *
at(const Selection *sel, int i)
{
	return i < sel->n ? sel->items[i].qname : "(none)";
}

int
main(void)
{
	Selection	 sel;
	SelectFilter none = {0};
	SelectFilter bloat20 = {.min_bloat = 20};
	SelectFilter big = {.min_size = 1000, .min_reclaim = 300};

	memset(&sel, 0, sizeof(sel));
	add(&sel, "compact", 5000, 4900);
	add(&sel, "half", 1000, 500);
	add(&sel, "most", 2000, 200);
	add(&sel, "unknown", 3000, -1);
	add(&sel, "same_gain_bigger", 4000, 3500);
	select_choose(&sel, &none);
	is_str(at(&sel, 0), "most", "no threshold: the biggest expected gain first");
	is_str(at(&sel, 1), "same_gain_bigger", "equal gains: the bigger table first");
	is_str(at(&sel, 2), "half", "then the smaller one of the same gain");
	is_str(at(&sel, 3), "compact", "then the smaller gain");
	is_str(at(&sel, 4), "unknown", "no estimate: last, still chosen without a threshold");
	is_int(sel.items[4].state, CAND_CHOSEN, "no estimate, no threshold: chosen");
	select_free(&sel);

	memset(&sel, 0, sizeof(sel));
	add(&sel, "compact", 5000, 4900);
	add(&sel, "half", 1000, 500);
	add(&sel, "unknown", 3000, -1);
	select_choose(&sel, &bloat20);
	is_str(at(&sel, 0), "half", "--min-bloat: the bloated one chosen, first");
	is_int(sel.items[1].state, CAND_SKIPPED, "--min-bloat: the compact one skipped");
	ok(strstr(sel.items[1].why, "under --min-bloat 20%") != NULL, "--min-bloat: says why");
	ok(strstr(sel.items[2].why, "no estimate") != NULL, "--min-bloat: no estimate is skipped, saying why");
	select_free(&sel);

	memset(&sel, 0, sizeof(sel));
	add(&sel, "small", 999, 0);
	add(&sel, "little_back", 5000, 4800);
	add(&sel, "worth_it", 5000, 1000);
	select_choose(&sel, &big);
	is_str(at(&sel, 0), "worth_it", "--min-size and --min-reclaim: the one over both");
	ok(strstr(sel.items[1].why, "smaller than --min-size") != NULL, "--min-size: says why");
	ok(strstr(sel.items[2].why, "under --min-reclaim") != NULL, "--min-reclaim: says why");
	select_free(&sel);

	ok(select_expected_seconds(1000, 0, 0) < 0, "no table done: no rate");
	ok(select_expected_seconds(1000, 500, 2.0) == 4.0, "the rate of the tables done");
	return done_testing();
}
