/* Output and exit for the test firmware: semihosting on virtual boards, weak hooks on real boards. */
#include <stdint.h>

#include "tinyml_port.h"

__attribute__((weak)) void tinyml_board_init(void) {}

__attribute__((weak)) void tinyml_putc(int c) { (void)c; }

__attribute__((weak)) void tinyml_board_exit(int code) {
    (void)code;
    for (;;) {
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

void tinyml_write(const char *s) { (void)sh_call(SH_SYS_WRITE0, s); }

void tinyml_exit(int code) {
    uint32_t block[2] = {SH_ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
    (void)sh_call(SH_SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}
#else
void tinyml_write(const char *s) {
    while (*s) {
        tinyml_putc(*s++);
    }
}

void tinyml_exit(int code) {
    tinyml_board_exit(code);
    for (;;) {
    }
}
#endif
