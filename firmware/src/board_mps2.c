/* Arm MPS2 FPGA images in QEMU (mps2-an385/an386/an500): fixed 25 MHz SYSCLK, console on CMSDK APB UART0.
 *
 * CMSDK APB UART (Arm DDI 0479, "APB UART"), UART0 at 0x40004000 on AN385/AN386/AN500:
 *   DATA +0x00, STATE +0x04 (bit 0 TX buffer full, bit 1 RX buffer full), CTRL +0x08 (bit 0 TX enable,
 *   bit 1 RX enable), BAUDDIV +0x10 (>= 16; baud = SYSCLK / BAUDDIV).
 * There is no clock tree to set up: the FPGA image runs at its fixed SYSCLK.
 */
#include <stdint.h>

#include "tinyml_board.h"

#define UART0 0x40004000u
#define UART_DATA TINYML_REG(UART0 + 0x00u)
#define UART_STATE TINYML_REG(UART0 + 0x04u)
#define UART_CTRL TINYML_REG(UART0 + 0x08u)
#define UART_BAUDDIV TINYML_REG(UART0 + 0x10u)
#define STATE_TX_FULL (1u << 0)
#define STATE_RX_FULL (1u << 1)
#define SYSCLK_HZ 25000000u

void tinyml_board_init(void) {
    tinyml_clock.hz = SYSCLK_HZ;
    tinyml_clock.rated = 1u;
    tinyml_clock.note = "fixed MPS2 SYSCLK";
    UART_BAUDDIV = SYSCLK_HZ / TINYML_CONSOLE_BAUD;
    UART_CTRL = 3u;
}

void tinyml_console_putc(int c) {
    while (UART_STATE & STATE_TX_FULL) {
    }
    UART_DATA = (uint32_t)(uint8_t)c;
}

int tinyml_console_poll(void) {
    if (UART_STATE & STATE_RX_FULL) {
        return (int)(UART_DATA & 0xFFu);
    }
    return -1;
}
