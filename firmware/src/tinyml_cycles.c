/* Cycle counter start-up (see tinyml_cycles.h). */
#include <stdint.h>

#include "tinyml_cycles.h"

#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)     /* TRCENA: bit 24 */
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)  /* CYCCNTENA: bit 0; NOCYCCNT: bit 25 */
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)   /* Cortex-M7 lock access: 0xC5ACCE55 unlocks (CoreSight) */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)  /* ENABLE bit 0, TICKINT bit 1, CLKSOURCE bit 2 (core) */
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

#if __ARM_ARCH >= 7
uint32_t tinyml_cycles_start(void) {
    DEMCR |= 1u << 24;
    DWT_LAR = 0xC5ACCE55u;
    if (DWT_CTRL & (1u << 25)) {
        return TINYML_TIMER_NONE;
    }
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;
    uint32_t a = DWT_CYCCNT;
    for (volatile int i = 0; i < 16; ++i) {
    }
    return DWT_CYCCNT != a ? TINYML_TIMER_DWT : TINYML_TIMER_NONE; /* QEMU's DWT reads as zero */
}
#else
volatile uint32_t tinyml_systick_wraps;

void SysTick_Handler(void) { tinyml_systick_wraps++; }

uint32_t tinyml_cycles_start(void) {
    SYST_CSR = 0;
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0; /* any write clears it; the count restarts from the reload value */
    tinyml_systick_wraps = 0;
    SYST_CSR = 7u;
    __asm__ volatile("cpsie i" ::: "memory");
    return TINYML_TIMER_SYSTICK;
}
#endif
