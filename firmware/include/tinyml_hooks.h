/* Profiling hooks for the generated model (see docs/c_api.md).
 *
 * model.c includes this header when the build defines TINYML_HOOKS, and brackets layer i with
 * TINYML_LAYER_BEGIN(i) / TINYML_LAYER_END(i). On the virtual boards (TINYML_TCMARK defined) each hook is
 * an instruction-count marker: tc_mark(id) branches to slot `id` of the table tc_mark_slots (tcmark.S), and the
 * QEMU counting plugin reports the instruction count each time a slot executes. Elsewhere they expand to nothing.
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

#define TINYML_LAYER_BEGIN(i) TC_MARK(TC_MARK_LAYER_BASE + 2u * (uint32_t)(i))
#define TINYML_LAYER_END(i) TC_MARK(TC_MARK_LAYER_BASE + 2u * (uint32_t)(i) + 1u)

#endif /* TINYML_HOOKS_H */
