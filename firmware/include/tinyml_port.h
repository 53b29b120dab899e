/* Board port of the test firmware: text output, exit, and the hooks a real board may override.
 *
 * Virtual boards (TINYML_SEMIHOSTING defined) print and exit through Arm semihosting; the QEMU exit status
 * is the firmware's exit code. Real boards print one character at a time through tinyml_putc(), a weak
 * function that does nothing until the application defines it (e.g. writing to the ST-LINK virtual COM UART),
 * and stop in tinyml_board_exit(), also weak, which by default waits forever.
 */
#ifndef TINYML_PORT_H
#define TINYML_PORT_H

void tinyml_board_init(void);           /* weak: clocks, UART; called first in main() */
void tinyml_putc(int c);                /* weak: one output character on real boards */
void tinyml_board_exit(int code);       /* weak: what a real board does when the test ends */

void tinyml_write(const char *s);       /* write a NUL-terminated string */
void tinyml_exit(int code) __attribute__((noreturn));

#endif /* TINYML_PORT_H */
