/* --print-memory: what a start with these EAL and Keel options would map, without starting the EAL. */
#ifndef KEEL_DATAPLANE_PRINT_MEMORY_H
#define KEEL_DATAPLANE_PRINT_MEMORY_H

#include "opts.h"

/* Prints the figures on stdout; returns 0, or EXIT_USAGE after one line on stderr. */
int print_memory(const struct opts *o, int argc, char **argv);

#endif
