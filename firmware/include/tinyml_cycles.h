/* Cycle counter for the per-layer and per-inference timing.
 *
 * Cortex-M3/M4/M7/M33 (Armv7-M, Armv8-M Mainline): the DWT cycle counter, DWT_CYCCNT at 0xE0001004, enabled by
 * DEMCR.TRCENA (0xE000EDFC bit 24) and DWT_CTRL.CYCCNTENA (0xE0001000 bit 0) (Armv7-M ARM, C1.8).
 * Cortex-M0+ (Armv6-M, no DWT cycle counter): SysTick counting core clock cycles down from 0xFFFFFF, its wraps
 * counted by the SysTick interrupt; the 32-bit value is (wraps << 24) + elapsed ticks.
 * Differences of tinyml_cycles_now() are exact modulo 2^32 (20 s at 216 MHz).
 */
#ifndef TINYML_CYCLES_H
#define TINYML_CYCLES_H

#include <stdint.h>

#define TINYML_TIMER_NONE 0u    /* no running counter (e.g. QEMU, whose DWT reads as zero) */
#define TINYML_TIMER_DWT 1u
#define TINYML_TIMER_SYSTICK 2u

uint32_t tinyml_cycles_start(void); /* enables the counter; returns its kind (TINYML_TIMER_*) */

#if __ARM_ARCH >= 7
static inline uint32_t tinyml_cycles_now(void) { return *(volatile uint32_t *)0xE0001004u; }
#else
extern volatile uint32_t tinyml_systick_wraps;
static inline uint32_t tinyml_cycles_now(void) {
    uint32_t wraps, val;
    do {
        wraps = tinyml_systick_wraps;
        val = *(volatile uint32_t *)0xE000E018u; /* SYST_CVR */
    } while (wraps != tinyml_systick_wraps);     /* the wrap interrupt ran in between: read again */
    return (wraps << 24) + (0x00FFFFFFu - val);
}
#endif

#endif /* TINYML_CYCLES_H */
