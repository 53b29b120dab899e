/* Time every layer of a generated model (prefix kws) with the Cortex-M3/M4/M7 DWT cycle counter.
 *
 * Build: compile kws.c with  -include kws_hooks.h  (the header below, saved beside it), link this file too.
 *
 *   kws_hooks.h:
 *     #include <stdint.h>
 *     #define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
 *     extern uint32_t kws_t0, kws_layer_cycles[];
 *     #define KWS_LAYER_BEGIN(i) ((void)(kws_t0 = DWT_CYCCNT))
 *     #define KWS_LAYER_END(i) ((void)(kws_layer_cycles[(i)] += DWT_CYCCNT - kws_t0))
 */
#include <stdint.h>
#include <stdio.h>

#include "kws.h"

#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)

uint32_t kws_t0, kws_layer_cycles[KWS_LAYER_COUNT];

int main(void) {
    DEMCR |= 1u << 24; /* TRCENA: switch the DWT on */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u; /* CYCCNTENA */
    if (kws_init() != KWS_OK) return 1;
    int8_t *x = (int8_t *)kws_input(0);
    for (int i = 0; i < KWS_INPUT0_BYTES; ++i) x[i] = 0;
    const uint32_t t0 = DWT_CYCCNT;
    if (kws_invoke() != KWS_OK) return 2;
    const uint32_t total = DWT_CYCCNT - t0;
    for (int i = 0; i < KWS_LAYER_COUNT; ++i) printf("layer %2d: %lu cycles\n", i, (unsigned long)kws_layer_cycles[i]);
    printf("invoke: %lu cycles\n", (unsigned long)total);
    return 0;
}
