/* Register facts shared by the STM32 families (F4, F7, H7, L4): GPIO port layout and the console USART.
 *
 * GPIO port (same layout on all four families; RM0090/RM0383 8.4, RM0385 6.4, RM0433 11.4, RM0432 8.5):
 *   MODER +0x00 (2 bits per pin, 0b10 = alternate function), OSPEEDR +0x08 (0b10 = high speed),
 *   PUPDR +0x0C (0b01 = pull-up), AFRL +0x20 (pins 0-7) / AFRH +0x24 (pins 8-15), 4 bits per pin.
 * USART, "v1" layout (STM32F4, RM0090 30.6): SR +0x00, DR +0x04, BRR +0x08, CR1 +0x0C (UE bit 13, TE bit 3,
 *   RE bit 2); clearing ORE/FE/NE: read SR then DR.
 * USART/LPUART, "v2" layout (F7 RM0385 34.8, H7 RM0433 48.7, L4 RM0432 50.7/51.7): CR1 +0x00 (UE bit 0, RE bit 2,
 *   TE bit 3), BRR +0x0C, ISR +0x1C, ICR +0x20 (ORECF bit 3, NECF bit 2, FECF bit 1), RDR +0x24, TDR +0x28.
 * Both: TXE bit 7, RXNE bit 5, ORE bit 3, NE bit 2, FE bit 1 of SR/ISR. With 16x oversampling BRR = fck / baud;
 *   an LPUART's BRR = 256 * fck / baud (RM0432 51.4.7).
 */
#ifndef STM32_COMMON_H
#define STM32_COMMON_H

#include <stdint.h>

typedef struct {
    uint32_t uart;    /* USART/LPUART base address */
    uint32_t tx_gpio; /* GPIO port base of the TX pin */
    uint32_t rx_gpio;
    uint32_t kernel_hz; /* the UART's kernel clock (its APB clock here) */
    uint8_t v2;         /* 1: ISR/TDR/RDR register layout; 0: SR/DR (STM32F4) */
    uint8_t lpuart;     /* 1: LPUART baud formula */
} stm32_console_t;

/* Alternate function `af` on pin `pin` of the GPIO port at `gpio` (clock already on). */
void stm32_gpio_af(uint32_t gpio, unsigned pin, unsigned af);
/* Pins, baud rate (TINYML_CONSOLE_BAUD) and enable of the console UART described by `con`. */
void stm32_console_init(const stm32_console_t *con);
/* Cortex-M7 (F7, H7): invalidate and enable the L1 I- and D-caches. */
void stm32_cm7_caches_on(void);

#define STM32_GPIO_PORT(base, port) ((base) + 0x400u * (uint32_t)(port))

#endif /* STM32_COMMON_H */
