/* STM32F7 bring-up (STM32F745/746/756: RM0385; STM32F765/767/769: RM0410): PLL from the 16 MHz HSI to the board's
 * rated clock with over-drive, flash wait states, ART accelerator and prefetch, Cortex-M7 I/D caches, console USART.
 *
 * RCC at 0x40023800 (RM0385 5.3): CR, PLLCFGR and CFGR have the STM32F4 layout (see board_stm32f4.c):
 *   CR +0x00 HSION bit 0, HSIRDY bit 1, PLLON bit 24, PLLRDY bit 25; PLLCFGR +0x04 PLLM [5:0], PLLN [14:6],
 *   PLLP [17:16], PLLSRC bit 22, PLLQ [27:24]; CFGR +0x08 SW [1:0], SWS [3:2], HPRE [7:4], PPRE1 [12:10],
 *   PPRE2 [15:13]; AHB1ENR +0x30 (GPIOx bit x), APB1ENR +0x40 (USART2 bit 17, USART3 bit 18, PWREN bit 28),
 *   APB2ENR +0x44 (USART1 bit 4, USART6 bit 5). The USARTs' kernel clock is their APB clock after reset
 *   (DCKCFGR2 USARTxSEL = 0).
 * PWR at 0x40007000 (RM0385 4.4): CR1 VOS [15:14] (0b11 = scale 1), ODEN bit 16, ODSWEN bit 17;
 *   CSR1 +0x04 ODRDY bit 16, ODSWRDY bit 17. Over-drive is needed above 180 MHz (RM0385 4.1.4 sequence:
 *   PLL on, ODEN, wait ODRDY, ODSWEN, wait ODSWRDY, then raise the clock).
 * FLASH_ACR at 0x40023C00 (RM0385 3.7.1): LATENCY [3:0], PRFTEN bit 8, ARTEN bit 9; one wait state per 30 MHz at
 *   2.7-3.6 V (RM0385 table 7: 7 WS at 216 MHz).
 * Bus limits: APB1 <= 54 MHz, APB2 <= 108 MHz (RM0385 5.2).
 */
#include <stdint.h>

#include "stm32_common.h"
#include "tinyml_board.h"

#define RCC 0x40023800u
#define RCC_CR TINYML_REG(RCC + 0x00u)
#define RCC_PLLCFGR TINYML_REG(RCC + 0x04u)
#define RCC_CFGR TINYML_REG(RCC + 0x08u)
#define RCC_AHB1ENR TINYML_REG(RCC + 0x30u)
#define RCC_APB1ENR TINYML_REG(RCC + 0x40u)
#define RCC_APB2ENR TINYML_REG(RCC + 0x44u)
#define PWR_CR1 TINYML_REG(0x40007000u)
#define PWR_CSR1 TINYML_REG(0x40007004u)
#define FLASH_ACR TINYML_REG(0x40023C00u)
#define GPIO_BASE 0x40020000u
#define HSI_HZ 16000000u
#define APB1_MAX_HZ 54000000u
#define APB2_MAX_HZ 108000000u

#define SYS_MHZ (TINYML_CLOCK_HZ / 1000000u)
#define PLL_M 8u       /* 2 MHz VCO input */
#define PLL_N SYS_MHZ /* VCO = 2 * SYS_MHZ, SYSCLK = VCO / 2 */
#define PLL_Q ((2u * SYS_MHZ + 47u) / 48u)
#define FLASH_WS ((SYS_MHZ + 29u) / 30u - 1u)
_Static_assert(TINYML_CLOCK_HZ % 1000000u == 0u && SYS_MHZ >= 50u && SYS_MHZ <= 216u, "F7 PLL: 50..216 MHz");

#if defined(TINYML_CONSOLE_UART_USART1)
#define CON_BASE 0x40011000u
#define CON_ENABLE() (RCC_APB2ENR |= 1u << 4)
#define CON_APB 2
#elif defined(TINYML_CONSOLE_UART_USART2)
#define CON_BASE 0x40004400u
#define CON_ENABLE() (RCC_APB1ENR |= 1u << 17)
#define CON_APB 1
#elif defined(TINYML_CONSOLE_UART_USART3)
#define CON_BASE 0x40004800u
#define CON_ENABLE() (RCC_APB1ENR |= 1u << 18)
#define CON_APB 1
#elif defined(TINYML_CONSOLE_UART_USART6)
#define CON_BASE 0x40011400u
#define CON_ENABLE() (RCC_APB2ENR |= 1u << 5)
#define CON_APB 2
#else
#error "console UART: the STM32F7 port knows USART1, USART2, USART3 and USART6"
#endif

static uint32_t apb_div(uint32_t max_hz, uint32_t *code) {
    uint32_t div = 1u;
    *code = 0u;
    while (TINYML_CLOCK_HZ / div > max_hz) {
        div *= 2u;
        *code = *code ? *code + 1u : 4u;
    }
    return div;
}

static const char *clock_up(uint32_t *apb1_hz, uint32_t *apb2_hz) {
    RCC_APB1ENR |= 1u << 28;
    PWR_CR1 |= 3u << 14; /* VOS scale 1 */
    RCC_CR |= 1u;
    if (!tinyml_wait_bits(&RCC_CR, 1u << 1, 1u << 1)) {
        return "HSIRDY did not set";
    }
    RCC_PLLCFGR = PLL_M | (PLL_N << 6) | (0u << 16) | (0u << 22) | (PLL_Q << 24);
    RCC_CR |= 1u << 24;
    if (!tinyml_wait_bits(&RCC_CR, 1u << 25, 1u << 25)) {
        RCC_CR &= ~(1u << 24);
        return "PLLRDY did not set";
    }
    if (SYS_MHZ > 180u) {
        PWR_CR1 |= 1u << 16;
        if (!tinyml_wait_bits(&PWR_CSR1, 1u << 16, 1u << 16)) {
            return "PWR ODRDY did not set";
        }
        PWR_CR1 |= 1u << 17;
        if (!tinyml_wait_bits(&PWR_CSR1, 1u << 17, 1u << 17)) {
            return "PWR ODSWRDY did not set";
        }
    }
    FLASH_ACR = (FLASH_ACR & ~0xFu) | FLASH_WS;
    if ((FLASH_ACR & 0xFu) != FLASH_WS) {
        return "FLASH_ACR LATENCY did not take";
    }
    uint32_t ppre1, ppre2;
    *apb1_hz = TINYML_CLOCK_HZ / apb_div(APB1_MAX_HZ, &ppre1);
    *apb2_hz = TINYML_CLOCK_HZ / apb_div(APB2_MAX_HZ, &ppre2);
    RCC_CFGR = (RCC_CFGR & ~((0xFu << 4) | (7u << 10) | (7u << 13))) | (ppre1 << 10) | (ppre2 << 13);
    RCC_CFGR = (RCC_CFGR & ~3u) | 2u;
    if (!tinyml_wait_bits(&RCC_CFGR, 3u << 2, 2u << 2)) {
        RCC_CFGR &= ~(3u | (7u << 10) | (7u << 13));
        return "SWS did not switch to the PLL";
    }
    return 0;
}

void tinyml_board_init(void) {
    stm32_cm7_caches_on();
    FLASH_ACR |= (1u << 8) | (1u << 9); /* prefetch, ART accelerator */
    uint32_t apb1 = HSI_HZ, apb2 = HSI_HZ;
    const char *failed = clock_up(&apb1, &apb2);
    tinyml_clock.rated = failed == 0;
    tinyml_clock.hz = failed ? HSI_HZ : TINYML_CLOCK_HZ;
    tinyml_clock.note = failed ? failed : "PLL from the 16 MHz HSI, over-drive on";
    if (failed) {
        apb1 = apb2 = HSI_HZ;
    }
    RCC_AHB1ENR |= (1u << TINYML_CONSOLE_TX_PORT) | (1u << TINYML_CONSOLE_RX_PORT);
    CON_ENABLE();
    (void)RCC_AHB1ENR;
    stm32_console_t con = {CON_BASE, STM32_GPIO_PORT(GPIO_BASE, TINYML_CONSOLE_TX_PORT),
                           STM32_GPIO_PORT(GPIO_BASE, TINYML_CONSOLE_RX_PORT), CON_APB == 1 ? apb1 : apb2, 1u, 0u};
    stm32_console_init(&con);
}
