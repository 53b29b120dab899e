/* STM32L4+ bring-up (STM32L4R5/S5/R7/S7/R9/S9: RM0432): range 1 boost mode, PLL from the 16 MHz HSI to the board's
 * rated clock through the AHB /2 intermediate step, flash wait states, prefetch and I/D caches, VDDIO2 for port G,
 * console LPUART1 or USARTx.
 *
 * RCC at 0x40021000 (RM0432 6.4): CR +0x00 MSION bit 0, HSION bit 8, HSIRDY bit 10, PLLON bit 24, PLLRDY bit 25;
 *   CFGR +0x08 SW [1:0] (3 = PLL), SWS [3:2], HPRE [7:4] (0b1000 = /2), PPRE1 [10:8], PPRE2 [13:11];
 *   PLLCFGR +0x0C PLLSRC [1:0] (2 = HSI16), PLLM [7:4] (M - 1), PLLN [14:8], PLLREN bit 24, PLLR [26:25] (0 = /2);
 *   AHB2ENR +0x4C (GPIOx bit x), APB1ENR1 +0x58 (USART2 bit 17, USART3 bit 18, PWREN bit 28),
 *   APB1ENR2 +0x5C (LPUART1 bit 0), APB2ENR +0x60 (USART1 bit 14). The UARTs' kernel clock is PCLK after reset
 *   (CCIPR selectors 0).
 * PWR at 0x40007000 (RM0432 5.4): CR1 VOS [10:9] (0b01 = range 1), CR2 +0x04 IOSV bit 9 (VDDIO2 valid: port G
 *   pins 2..15 are powered from VDDIO2), SR2 +0x14 VOSF bit 10, CR5 +0x80 R1MODE bit 8 (0 = range 1 boost, needed
 *   above 80 MHz).
 * FLASH_ACR at 0x40022000 (RM0432 3.7.1): LATENCY [3:0], PRFTEN bit 8, ICEN bit 9, DCEN bit 10; one wait state per
 *   20 MHz in range 1 (RM0432 table 12: 5 WS at 120 MHz).
 * Above 80 MHz the switch goes through AHB /2 for at least 1 us (RM0432 6.2.9).
 * PLL: HSI16 / 2 = 8 MHz input, VCO = 8 MHz * N (64..344 MHz), R = 2: SYSCLK = 4 * N MHz. Reset clock: MSI 4 MHz.
 */
#include <stdint.h>

#include "stm32_common.h"
#include "tinyml_board.h"

#define RCC 0x40021000u
#define RCC_CR TINYML_REG(RCC + 0x00u)
#define RCC_CFGR TINYML_REG(RCC + 0x08u)
#define RCC_PLLCFGR TINYML_REG(RCC + 0x0Cu)
#define RCC_AHB2ENR TINYML_REG(RCC + 0x4Cu)
#define RCC_APB1ENR1 TINYML_REG(RCC + 0x58u)
#define RCC_APB1ENR2 TINYML_REG(RCC + 0x5Cu)
#define RCC_APB2ENR TINYML_REG(RCC + 0x60u)
#define PWR_CR1 TINYML_REG(0x40007000u)
#define PWR_CR2 TINYML_REG(0x40007004u)
#define PWR_SR2 TINYML_REG(0x40007014u)
#define PWR_CR5 TINYML_REG(0x40007080u)
#define FLASH_ACR TINYML_REG(0x40022000u)
#define GPIO_BASE 0x48000000u
#define MSI_HZ 4000000u

#define SYS_MHZ (TINYML_CLOCK_HZ / 1000000u)
#define PLL_N (SYS_MHZ / 4u)
#define FLASH_WS ((SYS_MHZ + 19u) / 20u - 1u)
_Static_assert(TINYML_CLOCK_HZ % 4000000u == 0u && SYS_MHZ >= 32u && SYS_MHZ <= 120u, "L4+ PLL: 32..120 MHz, 4 MHz steps");

#if defined(TINYML_CONSOLE_UART_LPUART1)
#define CON_BASE 0x40008000u
#define CON_ENABLE() (RCC_APB1ENR2 |= 1u)
#define CON_LPUART 1u
#elif defined(TINYML_CONSOLE_UART_USART1)
#define CON_BASE 0x40013800u
#define CON_ENABLE() (RCC_APB2ENR |= 1u << 14)
#define CON_LPUART 0u
#elif defined(TINYML_CONSOLE_UART_USART2)
#define CON_BASE 0x40004400u
#define CON_ENABLE() (RCC_APB1ENR1 |= 1u << 17)
#define CON_LPUART 0u
#elif defined(TINYML_CONSOLE_UART_USART3)
#define CON_BASE 0x40004800u
#define CON_ENABLE() (RCC_APB1ENR1 |= 1u << 18)
#define CON_LPUART 0u
#else
#error "console UART: the STM32L4+ port knows LPUART1, USART1, USART2 and USART3"
#endif

static const char *clock_up(void) {
    PWR_CR1 = (PWR_CR1 & ~(3u << 9)) | (1u << 9);
    if (SYS_MHZ > 80u) {
        PWR_CR5 &= ~(1u << 8);
    }
    if (!tinyml_wait_bits(&PWR_SR2, 1u << 10, 0u)) {
        return "PWR VOSF did not clear";
    }
    RCC_CR |= 1u << 8;
    if (!tinyml_wait_bits(&RCC_CR, 1u << 10, 1u << 10)) {
        return "HSIRDY did not set";
    }
    RCC_PLLCFGR = 2u | ((2u - 1u) << 4) | (PLL_N << 8) | (1u << 24);
    RCC_CR |= 1u << 24;
    if (!tinyml_wait_bits(&RCC_CR, 1u << 25, 1u << 25)) {
        RCC_CR &= ~(1u << 24);
        return "PLLRDY did not set";
    }
    FLASH_ACR = (FLASH_ACR & ~0xFu) | FLASH_WS;
    if ((FLASH_ACR & 0xFu) != FLASH_WS) {
        return "FLASH_ACR LATENCY did not take";
    }
    RCC_CFGR = (RCC_CFGR & ~((0xFu << 4) | 3u)) | (SYS_MHZ > 80u ? (8u << 4) : 0u) | 3u;
    if (!tinyml_wait_bits(&RCC_CFGR, 3u << 2, 3u << 2)) {
        RCC_CFGR &= ~((0xFu << 4) | 3u);
        return "SWS did not switch to the PLL";
    }
    for (volatile uint32_t i = 0; i < SYS_MHZ; ++i) { /* >= 1 us at AHB /2 */
    }
    RCC_CFGR &= ~(0xFu << 4);
    return 0;
}

void tinyml_board_init(void) {
    FLASH_ACR |= (1u << 8) | (1u << 9) | (1u << 10);
    RCC_APB1ENR1 |= 1u << 28; /* PWREN */
    (void)RCC_APB1ENR1;
    PWR_CR2 |= 1u << 9;       /* IOSV: VDDIO2 valid, port G usable */
    const char *failed = clock_up();
    tinyml_clock.rated = failed == 0;
    tinyml_clock.hz = failed ? MSI_HZ : TINYML_CLOCK_HZ;
    tinyml_clock.note = failed ? failed : "PLL from the 16 MHz HSI, range 1 boost";
    RCC_AHB2ENR |= (1u << TINYML_CONSOLE_TX_PORT) | (1u << TINYML_CONSOLE_RX_PORT);
    CON_ENABLE();
    (void)RCC_AHB2ENR;
    stm32_console_t con = {CON_BASE, STM32_GPIO_PORT(GPIO_BASE, TINYML_CONSOLE_TX_PORT),
                           STM32_GPIO_PORT(GPIO_BASE, TINYML_CONSOLE_RX_PORT), tinyml_clock.hz, 1u, CON_LPUART};
    stm32_console_init(&con);
}
