/* Board port of the firmware: text output and exit.
 *
 * Text goes to the board's console UART (tinyml_board.h) -- or, on virtual boards built for the test run
 * (TINYML_SEMIHOSTING without TINYML_CONSOLE), through Arm semihosting. tinyml_exit() ends a semihosting run with
 * the firmware's exit code as QEMU's exit status; on a real board it prints the code and waits.
 */
#ifndef TINYML_PORT_H
#define TINYML_PORT_H

#include "tinyml_board.h"

void tinyml_write(const char *s);       /* write a NUL-terminated string ("\n" becomes "\r\n" on a UART) */
void tinyml_exit(int code) __attribute__((noreturn));

#endif /* TINYML_PORT_H */
