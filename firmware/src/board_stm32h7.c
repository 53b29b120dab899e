/* STM32H743/753 bring-up (RM0433): LDO supply, voltage scale 1 (VOS0 on revision V silicon for 480 MHz), PLL1 from
 * the 64 MHz HSI to the board's rated clock, flash wait states, Cortex-M7 I/D caches, console USART.
 *
 * PWR at 0x58024800 (RM0433 6.8): CR3 +0x0C BYPASS bit 0, LDOEN bit 1, SCUEN bit 2 (the supply configuration is
 *   written once after reset); CSR1 +0x04 ACTVOSRDY bit 13; D3CR +0x18 VOS [15:14] (0b11 = scale 1), VOSRDY bit 13.
 * SYSCFG_PWRCR at 0x5800042C: ODEN bit 0 (scale 1 -> VOS0 with over-drive, RM0433 6.6.2); SYSCFG clock:
 *   RCC_APB4ENR bit 1.
 * DBGMCU_IDCODE at 0x5C001000: REV_ID [31:16], 0x1003 = revision Y (400 MHz at most), 0x2003 = revision V (480 MHz).
 * RCC at 0x58024400 (RM0433 8.7): CR +0x00 HSION bit 0, HSIRDY bit 2, PLL1ON bit 24, PLL1RDY bit 25;
 *   CFGR +0x10 SW [2:0] (3 = PLL1), SWS [5:3]; D1CFGR +0x18 HPRE [3:0] (0b1000 = /2), D1PPRE [6:4] (0b100 = /2),
 *   D1CPRE [11:8]; D2CFGR +0x1C D2PPRE1 [6:4], D2PPRE2 [10:8]; D3CFGR +0x20 D3PPRE [6:4];
 *   PLLCKSELR +0x28 PLLSRC [1:0] (0 = HSI), DIVM1 [9:4]; PLLCFGR +0x2C PLL1FRACEN bit 0, PLL1VCOSEL bit 1
 *   (0 = wide VCO, 192..960 MHz), PLL1RGE [3:2] (0b01 = 2..4 MHz input), DIVP1EN bit 16;
 *   PLL1DIVR +0x30 DIVN1 [8:0] (N - 1), DIVP1 [15:9] (P - 1), DIVQ1 [22:16], DIVR1 [30:24];
 *   AHB4ENR +0xE0 (GPIOx bit x), APB1LENR +0xE8 (USART2 bit 17, USART3 bit 18), APB2ENR +0xF0 (USART1 bit 4),
 *   APB4ENR +0xF4. USART2/3 run on rcc_pclk1 and USART1 on rcc_pclk2 after reset (D2CCIP2R = 0).
 * FLASH_ACR at 0x52002000 (RM0433 4.9.1): LATENCY [3:0], WRHIGHFREQ [5:4]; 4 wait states and WRHIGHFREQ = 2 cover
 *   a 240 MHz AXI clock in VOS0/VOS1 (RM0433 table 17). The H7 has no ART: the M7 caches serve the AXI flash.
 * PLL1: HSI / 32 = 2 MHz input, VCO = 2 MHz * N (N = 2 * f / 2 MHz), P = 2: SYSCLK = N MHz; the core runs at
 *   SYSCLK, AHB/AXI at SYSCLK / 2, each APB at SYSCLK / 4 (120 MHz at 480 MHz).
 */
#include <stdint.h>

#include "stm32_common.h"
#include "tinyml_board.h"

#define PWR 0x58024800u
#define PWR_CR3 TINYML_REG(PWR + 0x0Cu)
#define PWR_CSR1 TINYML_REG(PWR + 0x04u)
#define PWR_D3CR TINYML_REG(PWR + 0x18u)
#define SYSCFG_PWRCR TINYML_REG(0x5800042Cu)
#define DBGMCU_IDCODE TINYML_REG(0x5C001000u)
#define RCC 0x58024400u
#define RCC_CR TINYML_REG(RCC + 0x00u)
#define RCC_CFGR TINYML_REG(RCC + 0x10u)
#define RCC_D1CFGR TINYML_REG(RCC + 0x18u)
#define RCC_D2CFGR TINYML_REG(RCC + 0x1Cu)
#define RCC_D3CFGR TINYML_REG(RCC + 0x20u)
#define RCC_PLLCKSELR TINYML_REG(RCC + 0x28u)
#define RCC_PLLCFGR TINYML_REG(RCC + 0x2Cu)
#define RCC_PLL1DIVR TINYML_REG(RCC + 0x30u)
#define RCC_AHB4ENR TINYML_REG(RCC + 0xE0u)
#define RCC_APB1LENR TINYML_REG(RCC + 0xE8u)
#define RCC_APB2ENR TINYML_REG(RCC + 0xF0u)
#define RCC_APB4ENR TINYML_REG(RCC + 0xF4u)
#define FLASH_ACR TINYML_REG(0x52002000u)
#define GPIO_BASE 0x58020000u
#define HSI_HZ 64000000u
#define REV_Y_MAX_HZ 400000000u
_Static_assert(TINYML_CLOCK_HZ % 2000000u == 0u && TINYML_CLOCK_HZ >= 96000000u && TINYML_CLOCK_HZ <= 480000000u,
               "H7 PLL1: 96..480 MHz in 2 MHz steps");

#if defined(TINYML_CONSOLE_UART_USART1)
#define CON_BASE 0x40011000u
#define CON_ENABLE() (RCC_APB2ENR |= 1u << 4)
#elif defined(TINYML_CONSOLE_UART_USART2)
#define CON_BASE 0x40004400u
#define CON_ENABLE() (RCC_APB1LENR |= 1u << 17)
#elif defined(TINYML_CONSOLE_UART_USART3)
#define CON_BASE 0x40004800u
#define CON_ENABLE() (RCC_APB1LENR |= 1u << 18)
#else
#error "console UART: the STM32H7 port knows USART1, USART2 and USART3"
#endif

static const char *power_up(uint32_t hz) {
    PWR_CR3 = (PWR_CR3 & ~7u) | (1u << 1); /* LDO supply (NUCLEO-H743ZI: LDO), SCUEN cleared: configuration locked */
    if (!tinyml_wait_bits(&PWR_CSR1, 1u << 13, 1u << 13)) {
        return "PWR ACTVOSRDY did not set";
    }
    PWR_D3CR |= 3u << 14;
    if (!tinyml_wait_bits(&PWR_D3CR, 1u << 13, 1u << 13)) {
        return "PWR VOSRDY (scale 1) did not set";
    }
    if (hz > REV_Y_MAX_HZ) {
        RCC_APB4ENR |= 1u << 1;
        SYSCFG_PWRCR |= 1u;
        if (!tinyml_wait_bits(&PWR_D3CR, 1u << 13, 1u << 13)) {
            return "PWR VOSRDY (VOS0) did not set";
        }
    }
    return 0;
}

static const char *clock_up(uint32_t hz) {
    const char *failed = power_up(hz);
    if (failed) {
        return failed;
    }
    RCC_CR |= 1u;
    if (!tinyml_wait_bits(&RCC_CR, 1u << 2, 1u << 2)) {
        return "HSIRDY did not set";
    }
    RCC_PLLCKSELR = (RCC_PLLCKSELR & ~((0x3Fu << 4) | 3u)) | (32u << 4);
    RCC_PLLCFGR = (RCC_PLLCFGR & ~0xFu) | (1u << 2) | (1u << 16);
    RCC_PLL1DIVR = (hz / 2000000u - 1u) | (1u << 9) | (1u << 16) | (1u << 24);
    RCC_CR |= 1u << 24;
    if (!tinyml_wait_bits(&RCC_CR, 1u << 25, 1u << 25)) {
        RCC_CR &= ~(1u << 24);
        return "PLL1RDY did not set";
    }
    FLASH_ACR = (FLASH_ACR & ~0x3Fu) | 4u | (2u << 4);
    if ((FLASH_ACR & 0x3Fu) != (4u | (2u << 4))) {
        return "FLASH_ACR LATENCY did not take";
    }
    RCC_D1CFGR = (8u << 0) | (4u << 4); /* HPRE /2, D1PPRE /2, D1CPRE /1 */
    RCC_D2CFGR = (4u << 4) | (4u << 8);
    RCC_D3CFGR = 4u << 4;
    RCC_CFGR = (RCC_CFGR & ~7u) | 3u;
    if (!tinyml_wait_bits(&RCC_CFGR, 7u << 3, 3u << 3)) {
        RCC_CFGR &= ~7u;
        RCC_D1CFGR = 0;
        RCC_D2CFGR = 0;
        RCC_D3CFGR = 0;
        return "SWS did not switch to PLL1";
    }
    return 0;
}

void tinyml_board_init(void) {
    stm32_cm7_caches_on();
    uint32_t hz = TINYML_CLOCK_HZ;
    int rev_y = (DBGMCU_IDCODE >> 16) == 0x1003u;
    if (rev_y && hz > REV_Y_MAX_HZ) {
        hz = REV_Y_MAX_HZ;
    }
    const char *failed = clock_up(hz);
    tinyml_clock.rated = failed == 0 && hz == TINYML_CLOCK_HZ;
    tinyml_clock.hz = failed ? HSI_HZ : hz;
    tinyml_clock.note = failed ? failed
                               : (hz == TINYML_CLOCK_HZ ? "PLL1 from the 64 MHz HSI"
                                                        : "PLL1 from the HSI, capped at 400 MHz: revision Y silicon");
    RCC_AHB4ENR |= (1u << TINYML_CONSOLE_TX_PORT) | (1u << TINYML_CONSOLE_RX_PORT);
    CON_ENABLE();
    (void)RCC_AHB4ENR;
    stm32_console_t con = {CON_BASE, STM32_GPIO_PORT(GPIO_BASE, TINYML_CONSOLE_TX_PORT),
                           STM32_GPIO_PORT(GPIO_BASE, TINYML_CONSOLE_RX_PORT), failed ? HSI_HZ : hz / 4u, 1u, 0u};
    stm32_console_init(&con);
}
