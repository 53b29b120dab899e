/* STM32 console UART and GPIO alternate functions (register facts in stm32_common.h). */
#include <stdint.h>

#include "stm32_common.h"
#include "tinyml_board.h"

static stm32_console_t console;

#define ISR_OFFSET (console.v2 ? 0x1Cu : 0x00u)
#define TDR_OFFSET (console.v2 ? 0x28u : 0x04u)
#define RDR_OFFSET (console.v2 ? 0x24u : 0x04u)
#define FLAG_TXE (1u << 7)
#define FLAG_RXNE (1u << 5)
#define FLAG_ERRORS ((1u << 3) | (1u << 2) | (1u << 1)) /* ORE, NE, FE */

void stm32_gpio_af(uint32_t gpio, unsigned pin, unsigned af) {
    TINYML_REG(gpio + 0x00u) = (TINYML_REG(gpio + 0x00u) & ~(3u << (2u * pin))) | (2u << (2u * pin));
    TINYML_REG(gpio + 0x08u) = (TINYML_REG(gpio + 0x08u) & ~(3u << (2u * pin))) | (2u << (2u * pin));
    TINYML_REG(gpio + 0x0Cu) = (TINYML_REG(gpio + 0x0Cu) & ~(3u << (2u * pin))) | (1u << (2u * pin));
    uint32_t afr = gpio + (pin < 8u ? 0x20u : 0x24u);
    unsigned shift = 4u * (pin & 7u);
    TINYML_REG(afr) = (TINYML_REG(afr) & ~(0xFu << shift)) | ((uint32_t)af << shift);
}

void stm32_console_init(const stm32_console_t *con) {
    console = *con;
    stm32_gpio_af(con->tx_gpio, TINYML_CONSOLE_TX_PIN, TINYML_CONSOLE_AF);
    stm32_gpio_af(con->rx_gpio, TINYML_CONSOLE_RX_PIN, TINYML_CONSOLE_AF);
    uint32_t brr = con->lpuart ? (uint32_t)((256ull * con->kernel_hz + TINYML_CONSOLE_BAUD / 2u) / TINYML_CONSOLE_BAUD)
                               : (con->kernel_hz + TINYML_CONSOLE_BAUD / 2u) / TINYML_CONSOLE_BAUD;
    if (con->v2) {
        TINYML_REG(con->uart + 0x00u) = 0;       /* CR1: UE off while configuring */
        TINYML_REG(con->uart + 0x0Cu) = brr;     /* BRR */
        TINYML_REG(con->uart + 0x00u) = (1u << 3) | (1u << 2) | 1u; /* TE, RE, UE */
    } else {
        TINYML_REG(con->uart + 0x0Cu) = 0;       /* CR1 */
        TINYML_REG(con->uart + 0x08u) = brr;     /* BRR */
        TINYML_REG(con->uart + 0x0Cu) = (1u << 13) | (1u << 3) | (1u << 2); /* UE, TE, RE */
    }
}

void tinyml_console_putc(int c) {
    while (!(TINYML_REG(console.uart + ISR_OFFSET) & FLAG_TXE)) {
    }
    TINYML_REG(console.uart + TDR_OFFSET) = (uint32_t)(uint8_t)c;
}

int tinyml_console_poll(void) {
    uint32_t isr = TINYML_REG(console.uart + ISR_OFFSET);
    if (isr & FLAG_ERRORS) { /* an overrun or framing error: clear it, the frame's CRC catches the loss */
        if (console.v2) {
            TINYML_REG(console.uart + 0x20u) = FLAG_ERRORS;
        } else {
            (void)TINYML_REG(console.uart + RDR_OFFSET);
        }
        return -1;
    }
    return (isr & FLAG_RXNE) ? (int)(TINYML_REG(console.uart + RDR_OFFSET) & 0xFFu) : -1;
}

#if defined(TINYML_CORTEX_M7)
/* Cortex-M7 L1 caches (Arm DDI 0489, 4.8 and the Armv7-M ARM B2.2.7): ICIALLU 0xE000EF50 invalidates the I-cache;
 * the D-cache is invalidated set by set, way by way through DCISW 0xE000EF60 ((way << 30) | (set << 5) for its
 * 4 ways of 32-byte lines), its geometry read from CCSIDR 0xE000ED80 after CSSELR 0xE000ED84 = 0 (L1 data);
 * then CCR 0xE000ED14 IC (bit 17) and DC (bit 16) turn them on. */
void stm32_cm7_caches_on(void) {
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    TINYML_REG(0xE000EF50u) = 0;
    TINYML_REG(0xE000ED84u) = 0;
    __asm__ volatile("dsb" ::: "memory");
    uint32_t ccsidr = TINYML_REG(0xE000ED80u);
    uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u, ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    for (uint32_t set = 0; set < sets; ++set) {
        for (uint32_t way = 0; way < ways; ++way) {
            TINYML_REG(0xE000EF60u) = (way << 30) | (set << 5);
        }
    }
    __asm__ volatile("dsb" ::: "memory");
    TINYML_REG(0xE000ED14u) |= (1u << 17) | (1u << 16);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}
#endif
