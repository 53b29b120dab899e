/* A board file without `family`: no clock set-up (the reset clock) and no console; output is dropped.
 * Add `family` and a [console] table to the board file to get both. */
#include <stdint.h>

#include "tinyml_board.h"

void tinyml_board_init(void) {
    tinyml_clock.hz = TINYML_CLOCK_HZ;
    tinyml_clock.rated = 0u;
    tinyml_clock.note = "no bring-up for this board (no family in its board file)";
}

void tinyml_console_putc(int c) { (void)c; }

int tinyml_console_poll(void) { return -1; }
