/* Profiling hooks for the generated model (see docs/c_api.md).
 *
 * model.c includes this header when the build defines TINYML_HOOKS, and brackets layer i with
 * TINYML_LAYER_BEGIN(i) / TINYML_LAYER_END(i). Two profilers may be built in, each by its own define:
 * - TINYML_TCMARK (virtual boards): each hook is an instruction-count marker: tc_mark(id) branches to slot `id` of
 *   the table tc_mark_slots (tcmark.S), and the QEMU counting plugin reports the instruction count each time a
 *   slot executes.
 * - TINYML_CYCLES (the validation firmware): the cycle counter (tinyml_cycles.h) is read at BEGIN and the elapsed
 *   cycles are added to tinyml_layer_cycles[i] at END (a patch-stage layer adds up over its patches).
 *
 * Marker ids: 0 and 1 are back-to-back calibration marks (their difference is the cost of one mark),
 * 2 and 3 bracket tinyml_invoke, and layer i uses 4 + 2*i (begin) and 5 + 2*i (end).
 */
#ifndef TINYML_HOOKS_H
#define TINYML_HOOKS_H

#include <stdint.h>

#define TC_MARK_SLOTS 1024u
#define TC_MARK_CALIB_A 0u
#define TC_MARK_CALIB_B 1u
#define TC_MARK_INVOKE_BEGIN 2u
#define TC_MARK_INVOKE_END 3u
#define TC_MARK_LAYER_BASE 4u
#define TC_MAX_LAYERS ((TC_MARK_SLOTS - TC_MARK_LAYER_BASE) / 2u)

#ifdef TINYML_TCMARK
void tc_mark(uint32_t id);
#define TC_MARK(id) tc_mark(id)
#else
#define TC_MARK(id) ((void)0)
#endif

#ifdef TINYML_CYCLES
#include "tinyml_cycles.h"
extern uint32_t tinyml_layer_t0;
extern uint64_t tinyml_layer_cycles[];
#define TINYML_CYC_BEGIN(i) ((void)(tinyml_layer_t0 = tinyml_cycles_now()))
#define TINYML_CYC_END(i) ((void)(tinyml_layer_cycles[(i)] += (uint32_t)(tinyml_cycles_now() - tinyml_layer_t0)))
#else
#define TINYML_CYC_BEGIN(i) ((void)0)
#define TINYML_CYC_END(i) ((void)0)
#endif

#define TINYML_LAYER_BEGIN(i) (TC_MARK(TC_MARK_LAYER_BASE + 2u * (uint32_t)(i)), TINYML_CYC_BEGIN(i))
#define TINYML_LAYER_END(i) (TINYML_CYC_END(i), TC_MARK(TC_MARK_LAYER_BASE + 2u * (uint32_t)(i) + 1u))

#endif /* TINYML_HOOKS_H */
