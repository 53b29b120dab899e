/* Board bring-up interface of the firmware: clock tree, console UART, cycle counter, reset.
 *
 * One file per MCU family implements it (src/board_<family>.c); the project generator copies only the board's
 * family file and writes board_config.h from the board file (clock, console UART and pins, names).
 *
 * Every wait on a hardware ready bit is bounded (TINYML_READY_POLLS reads): when a bit never comes (a missing
 * crystal, an emulator without a clock controller), the bring-up keeps the reset clock, records why in
 * tinyml_clock.note, and the firmware prints it on the console.
 */
#ifndef TINYML_BOARD_H
#define TINYML_BOARD_H

#include <stdint.h>

#include "board_config.h"

#ifndef TINYML_READY_POLLS
#define TINYML_READY_POLLS 200000u /* > 10 ms at any reset clock here (4..64 MHz) and a few cycles per read */
#endif

typedef struct {
    uint32_t hz;      /* the core clock now running */
    uint32_t rated;   /* 1: the board file's clock_mhz was reached; 0: fallback to the reset clock */
    const char *note; /* how it was reached, or which ready bit timed out */
} tinyml_clock_t;

extern tinyml_clock_t tinyml_clock;

void tinyml_board_init(void);              /* clock tree, flash wait states, caches, console UART */
void tinyml_console_putc(int c);           /* blocking */
int tinyml_console_poll(void);             /* the next received byte, or -1 when none has arrived */
/* The next received byte, or -1 after timeout_ms without one (0: wait forever). Timed with SysTick on the core
 * clock (tinyml_port.c), which runs on every core and in QEMU, unlike the DWT. */
int tinyml_console_getc(uint32_t timeout_ms);
void tinyml_board_reset(void) __attribute__((noreturn)); /* system reset (AIRCR.SYSRESETREQ) */

/* 1 when (*reg & mask) == want within TINYML_READY_POLLS reads of reg, else 0. */
int tinyml_wait_bits(volatile uint32_t *reg, uint32_t mask, uint32_t want);

#define TINYML_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

#endif /* TINYML_BOARD_H */
