/* Reset and fault handling of the test firmware: vector table, FPU enable, .data/.bss set-up, exit. */
#include <stdint.h>

#include "tinyml_port.h"

extern uint32_t __StackTop;
extern uint32_t __data_start__, __data_end__, __data_load__, __bss_start__, __bss_end__;

int main(void);
void Reset_Handler(void);
void tinyml_fault_frame(const uint32_t *frame, uint32_t kind);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)

static void hex32(char *out, uint32_t v) {
    for (int i = 7; i >= 0; --i, v >>= 4) {
        out[i] = "0123456789abcdef"[v & 0xFu];
    }
}

/* Print the fault, the faulting PC (from the exception frame) and the fault status registers, then exit 99.
 * CFSR/HFSR do not exist on Armv6-M (Cortex-M0/M0+); they are printed as 0 there. */
void tinyml_fault_frame(const uint32_t *frame, uint32_t kind) {
    static const char *const names[] = {"NMI", "HardFault", "MemManage", "BusFault", "UsageFault",
                                        "unexpected interrupt"};
    char line[80] = "TINYML_FAULT PC=xxxxxxxx CFSR=xxxxxxxx HFSR=xxxxxxxx ";
    hex32(line + 16, frame[6]);
#if __ARM_ARCH >= 7
    hex32(line + 30, SCB_CFSR);
    hex32(line + 44, SCB_HFSR);
#else
    hex32(line + 30, 0);
    hex32(line + 44, 0);
#endif
    tinyml_write(line);
    tinyml_write(names[kind < 6u ? kind : 5u]);
    tinyml_write("\n");
    tinyml_exit(99);
}

/* Each handler passes the main stack pointer (the exception frame) and its kind to tinyml_fault_frame. */
#define FAULT_HANDLER(fn, kind)                                                                     \
    __attribute__((naked)) static void fn(void) {                                                   \
        __asm__ volatile("mrs r0, msp\n\tmovs r1, #" #kind "\n\tbl tinyml_fault_frame");          \
    }
FAULT_HANDLER(NMI_Handler, 0)
FAULT_HANDLER(HardFault_Handler, 1)
FAULT_HANDLER(MemManage_Handler, 2)
FAULT_HANDLER(BusFault_Handler, 3)
FAULT_HANDLER(UsageFault_Handler, 4)
FAULT_HANDLER(Default_Handler, 5)
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler"))); /* the M0+ cycle counter's wraps */

__attribute__((section(".isr_vector"), used)) const void *const tinyml_vectors[16] = {
    &__StackTop,        Reset_Handler,   NMI_Handler,     HardFault_Handler,
    MemManage_Handler,  BusFault_Handler, UsageFault_Handler, 0,
    0,                  0,               0,               Default_Handler, /* SVCall */
    Default_Handler,    0,               Default_Handler, SysTick_Handler, /* DebugMon, PendSV, SysTick */
};

#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)

void Reset_Handler(void) {
#if __ARM_ARCH >= 7
    SCB_VTOR = (uint32_t)(uintptr_t)tinyml_vectors; /* a boot loader (Nano 33 BLE) may have left its own table */
#endif
#if defined(__ARM_FP)
    SCB_CPACR |= 0xFu << 20; /* CP10/CP11 full access: without it the first VFP instruction faults */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    const uint32_t *src = &__data_load__;
    for (uint32_t *dst = &__data_start__; dst < &__data_end__;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &__bss_start__; dst < &__bss_end__;) {
        *dst++ = 0;
    }
    tinyml_exit(main());
}
