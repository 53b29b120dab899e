/* Text output, exit and the bounded ready-bit wait shared by all boards. */
#include <stdint.h>

#include "tinyml_port.h"

tinyml_clock_t tinyml_clock;

int tinyml_wait_bits(volatile uint32_t *reg, uint32_t mask, uint32_t want) {
    for (uint32_t i = 0; i < TINYML_READY_POLLS; ++i) {
        if ((*reg & mask) == want) {
            return 1;
        }
    }
    return 0;
}

/* SysTick (Armv6-M/Armv7-M ARM B3.3): CSR 0xE000E010 (ENABLE bit 0, TICKINT bit 1, CLKSOURCE bit 2 = core clock),
 * RVR 0xE000E014, CVR 0xE000E018, a 24-bit down-counter. Left running free (the M0+ cycle counter uses it too). */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

int tinyml_console_getc(uint32_t timeout_ms) {
    if (!(SYST_CSR & 1u)) {
        SYST_RVR = 0x00FFFFFFu;
        SYST_CVR = 0;
        SYST_CSR = 5u;
    }
    uint64_t limit = (uint64_t)(tinyml_clock.hz / 1000u) * timeout_ms, elapsed = 0;
    uint32_t prev = SYST_CVR;
    for (;;) {
        int c = tinyml_console_poll();
        if (c >= 0) {
            return c;
        }
        if (timeout_ms != 0u) {
            uint32_t now = SYST_CVR;
            elapsed += (prev - now) & 0x00FFFFFFu;
            prev = now;
            if (elapsed >= limit) {
                return -1;
            }
        }
    }
}

#ifdef TINYML_SEMIHOSTING
#define SH_SYS_WRITE0 0x04
#define SH_SYS_EXIT_EXTENDED 0x20
#define SH_ADP_STOPPED_APPLICATION_EXIT 0x20026

static int sh_call(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}
#endif

void tinyml_write(const char *s) {
#if defined(TINYML_SEMIHOSTING) && !defined(TINYML_CONSOLE)
    (void)sh_call(SH_SYS_WRITE0, s);
#else
    for (; *s; ++s) {
        if (*s == '\n') {
            tinyml_console_putc('\r');
        }
        tinyml_console_putc(*s);
    }
#endif
}

void tinyml_exit(int code) {
#ifdef TINYML_SEMIHOSTING
    uint32_t block[2] = {SH_ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
    (void)sh_call(SH_SYS_EXIT_EXTENDED, block);
#else
    char line[] = "TINYML_EXIT 00\n";
    line[12] = (char)('0' + ((unsigned)code / 10u) % 10u);
    line[13] = (char)('0' + (unsigned)code % 10u);
    tinyml_write(line);
#endif
    for (;;) {
        __asm__ volatile("wfi");
    }
}

void tinyml_board_reset(void) {
    __asm__ volatile("dsb" ::: "memory");
    *(volatile uint32_t *)0xE000ED0Cu = 0x05FA0004u; /* AIRCR: VECTKEY 0x05FA, SYSRESETREQ (bit 2) */
    __asm__ volatile("dsb" ::: "memory");
    for (;;) {
    }
}
