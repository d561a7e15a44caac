/* The checker's two min-heaps of entries on due_ns: wait (idle) and flight (in flight). */
#include <stdint.h>

#include "health.h"
#include "health_internal.h"
#include "health_probe.h"

static void heap_swap(struct entry_heap *q, uint32_t a, uint32_t b)
{
	struct health_entry *t = q->a[a];

	q->a[a] = q->a[b];
	q->a[b] = t;
	q->a[a]->heap_idx = a;
	q->a[b]->heap_idx = b;
}

void health_heap_down(struct entry_heap *q, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->n && q->a[l]->due_ns < q->a[m]->due_ns)
			m = l;
		if (r < q->n && q->a[r]->due_ns < q->a[m]->due_ns)
			m = r;
		if (m == i)
			return;
		heap_swap(q, i, m);
		i = m;
	}
}

static void heap_up(struct entry_heap *q, uint32_t i)
{
	while (i > 0 && q->a[(i - 1) / 2]->due_ns > q->a[i]->due_ns) {
		heap_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

/* Capacity: both heaps are sized for every entry at health_set_targets(). */
void health_heap_push(struct health *h, struct health_entry *e, uint8_t which)
{
	struct entry_heap *q = which == IN_WAIT ? &h->wait : &h->flight;

	e->in_heap = which;
	e->heap_idx = q->n;
	q->a[q->n++] = e;
	heap_up(q, e->heap_idx);
}

void health_heap_remove(struct health *h, struct health_entry *e)
{
	struct entry_heap *q = e->in_heap == IN_WAIT ? &h->wait : &h->flight;
	uint32_t i = e->heap_idx;

	if (e->in_heap == IN_NONE)
		return;
	e->in_heap = IN_NONE;
	if (i == --q->n)
		return;
	q->a[i] = q->a[q->n];
	q->a[i]->heap_idx = i;
	heap_up(q, i);
	health_heap_down(q, q->a[i]->heap_idx);
}
