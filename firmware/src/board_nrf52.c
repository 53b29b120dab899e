/* nRF52840 bring-up (nRF52840 Product Specification v1.7): 32 MHz crystal oscillator (HFXO) as the HFCLK source,
 * the flash instruction cache, console on UARTE0. The CPU always runs at 64 MHz; the HFXO makes the UART's baud
 * rate exact (the internal HFINT is only +-1.5 %); without it the firmware keeps HFINT and says so.
 *
 * CLOCK at 0x40000000 (PS 6.4.7): TASKS_HFCLKSTART +0x000, EVENTS_HFCLKSTARTED +0x100, HFCLKSTAT +0x40C (SRC bit 0:
 *   1 = HFXO, STATE bit 16).
 * NVMC at 0x4001E000 (PS 6.10.9): ICACHECNF +0x540, CACHEEN bit 0. No wait states to set: the flash runs at 64 MHz.
 * GPIO port 1 at 0x50000300 (PS 6.9.4): OUTSET +0x508, PIN_CNF[n] +0x700 + 4n (DIR bit 0 = output, INPUT bit 1 =
 *   0: input buffer connected). TXD is an output held high, RXD an input (PS 6.34.2).
 * UARTE0 at 0x40002000 (PS 6.34.10): TASKS_STARTRX +0x000, TASKS_STARTTX +0x008, EVENTS_ENDRX +0x110,
 *   EVENTS_ENDTX +0x120, SHORTS +0x200 (ENDRX_STARTRX bit 5), ENABLE +0x500 (8 = UARTE), PSEL.TXD +0x50C,
 *   PSEL.RXD +0x514 (PIN [4:0], PORT bit 5, CONNECT bit 31 = 0), BAUDRATE +0x524 (0x01D7E000 = 115200),
 *   RXD.PTR +0x534, RXD.MAXCNT +0x538, TXD.PTR +0x544, TXD.MAXCNT +0x548, CONFIG +0x56C (0: 8N1, no flow control).
 * Arduino Nano 33 BLE: TX (D1) = P1.03, RX (D0) = P1.10. EasyDMA reads and writes RAM only, hence the RAM bytes.
 * Reception: one-byte transfers restarted by the ENDRX_STARTRX short; the protocol reader takes each byte well
 * within the 87 us a byte lasts at 115200 baud.
 */
#include <stdint.h>

#include "tinyml_board.h"

#define CLOCK 0x40000000u
#define NVMC_ICACHECNF TINYML_REG(0x4001E540u)
#define UARTE0 0x40002000u
#define GPIO_PORT(p) (0x50000000u + 0x300u * (uint32_t)(p))
#define CPU_HZ 64000000u

_Static_assert(TINYML_CLOCK_HZ == CPU_HZ, "the nRF52840 core runs at 64 MHz");
_Static_assert(TINYML_CONSOLE_BAUD == 115200u, "BAUDRATE below is the 115200 setting");

static volatile uint8_t tx_byte, rx_byte;

void tinyml_board_init(void) {
    NVMC_ICACHECNF |= 1u;
    TINYML_REG(CLOCK + 0x100u) = 0;
    TINYML_REG(CLOCK + 0x000u) = 1u;
    int hfxo = tinyml_wait_bits(&TINYML_REG(CLOCK + 0x100u), 1u, 1u) &&
               tinyml_wait_bits(&TINYML_REG(CLOCK + 0x40Cu), (1u << 16) | 1u, (1u << 16) | 1u);
    tinyml_clock.hz = CPU_HZ;
    tinyml_clock.rated = (uint32_t)hfxo;
    tinyml_clock.note = hfxo ? "HFCLK from the 32 MHz crystal (HFXO)" : "HFXO did not start: HFINT, baud rate +-1.5 %";
    TINYML_REG(GPIO_PORT(TINYML_CONSOLE_TX_PORT) + 0x508u) = 1u << TINYML_CONSOLE_TX_PIN;
    TINYML_REG(GPIO_PORT(TINYML_CONSOLE_TX_PORT) + 0x700u + 4u * TINYML_CONSOLE_TX_PIN) = 1u;
    TINYML_REG(GPIO_PORT(TINYML_CONSOLE_RX_PORT) + 0x700u + 4u * TINYML_CONSOLE_RX_PIN) = 0u;
    TINYML_REG(UARTE0 + 0x50Cu) = (TINYML_CONSOLE_TX_PORT << 5) | TINYML_CONSOLE_TX_PIN;
    TINYML_REG(UARTE0 + 0x514u) = (TINYML_CONSOLE_RX_PORT << 5) | TINYML_CONSOLE_RX_PIN;
    TINYML_REG(UARTE0 + 0x524u) = 0x01D7E000u;
    TINYML_REG(UARTE0 + 0x56Cu) = 0;
    TINYML_REG(UARTE0 + 0x500u) = 8u;
    TINYML_REG(UARTE0 + 0x534u) = (uint32_t)(uintptr_t)&rx_byte;
    TINYML_REG(UARTE0 + 0x538u) = 1u;
    TINYML_REG(UARTE0 + 0x200u) = 1u << 5;
    TINYML_REG(UARTE0 + 0x110u) = 0;
    TINYML_REG(UARTE0 + 0x000u) = 1u;
}

void tinyml_console_putc(int c) {
    tx_byte = (uint8_t)c;
    TINYML_REG(UARTE0 + 0x544u) = (uint32_t)(uintptr_t)&tx_byte;
    TINYML_REG(UARTE0 + 0x548u) = 1u;
    TINYML_REG(UARTE0 + 0x120u) = 0;
    TINYML_REG(UARTE0 + 0x008u) = 1u;
    while (!TINYML_REG(UARTE0 + 0x120u)) {
    }
}

int tinyml_console_poll(void) {
    if (TINYML_REG(UARTE0 + 0x110u)) {
        TINYML_REG(UARTE0 + 0x110u) = 0;
        return rx_byte;
    }
    return -1;
}
