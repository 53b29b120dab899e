/* RP2040 bring-up (RP2040 datasheet, chapters 2.15-2.18 and 4.2): 12 MHz crystal oscillator, PLL_SYS to the
 * board's rated clock, clk_sys and clk_peri from it, console on UART0 (PL011). Flash runs execute-in-place
 * through the XIP cache, which is on after reset; the second-stage boot loader (rp2040_boot2.S) set up the QSPI.
 *
 * Atomic register aliases: +0x2000 sets bits, +0x3000 clears bits (2.1.2).
 * RESETS at 0x4000C000: RESET +0x0, RESET_DONE +0x8; io_bank0 bit 5, pads_bank0 bit 8, pll_sys bit 12, uart0 bit 22.
 * XOSC at 0x40024000: CTRL +0x00 FREQ_RANGE [11:0] (0xAA0 = 1..15 MHz), ENABLE [23:12] (0xFAB); STATUS +0x04
 *   STABLE bit 31; STARTUP +0x0C DELAY [13:0] in units of 256 crystal cycles (47: about 1 ms at 12 MHz).
 * PLL_SYS at 0x40028000: CS +0x0 REFDIV [5:0], LOCK bit 31; PWR +0x4 PD bit 0, POSTDIVPD bit 3, VCOPD bit 5;
 *   FBDIV_INT +0x8 (16..320); PRIM +0xC POSTDIV1 [18:16], POSTDIV2 [14:12] (1..7). VCO = 12 MHz * FBDIV in
 *   750..1600 MHz; output = VCO / (POSTDIV1 * POSTDIV2).
 * CLOCKS at 0x40008000: CLK_REF_CTRL +0x30 SRC [1:0] (2 = xosc), CLK_REF_SELECTED +0x38 (one-hot);
 *   CLK_SYS_CTRL +0x3C SRC bit 0 (1 = aux), AUXSRC [7:5] (0 = pll_sys), CLK_SYS_SELECTED +0x44;
 *   CLK_PERI_CTRL +0x48 ENABLE bit 11, AUXSRC [7:5] (0 = clk_sys, 4 = xosc).
 * IO_BANK0 at 0x40014000: GPIOn_CTRL at +0x04 + 8n, FUNCSEL [4:0] (2 = UART). UART0 at 0x40034000 (PL011):
 *   DR +0x00, FR +0x18 (RXFE bit 4, TXFF bit 5), IBRD +0x24, FBRD +0x28, LCR_H +0x2C (WLEN [6:5], FEN bit 4;
 *   writing it latches IBRD/FBRD), CR +0x30 (UARTEN bit 0, TXE bit 8, RXE bit 9).
 */
#include <stdint.h>

#include "tinyml_board.h"

#define SET(addr) TINYML_REG((addr) + 0x2000u)
#define CLR(addr) TINYML_REG((addr) + 0x3000u)
#define RESETS 0x4000C000u
#define RESETS_DONE TINYML_REG(RESETS + 0x8u)
#define XOSC 0x40024000u
#define PLL_SYS 0x40028000u
#define CLOCKS 0x40008000u
#define CLK_REF_CTRL (CLOCKS + 0x30u)
#define CLK_SYS_CTRL (CLOCKS + 0x3Cu)
#define CLK_PERI_CTRL (CLOCKS + 0x48u)
#define IO_BANK0 0x40014000u
#define UART0 0x40034000u
#define XOSC_HZ 12000000u
#define ROSC_HZ 6500000u /* nominal; the ring oscillator varies with voltage and temperature */

static void unreset(uint32_t bits) {
    CLR(RESETS) = bits;
    (void)tinyml_wait_bits(&RESETS_DONE, bits, bits);
}

/* FBDIV and post dividers for `hz` from the 12 MHz reference: 1 when an exact setting with the VCO in range exists. */
static int pll_setting(uint32_t hz, uint32_t *fbdiv, uint32_t *pd1, uint32_t *pd2) {
    for (uint32_t a = 7u; a >= 1u; --a) {
        for (uint32_t b = 1u; b <= a; ++b) {
            uint64_t vco = (uint64_t)hz * a * b;
            if (vco % XOSC_HZ == 0u && vco >= 750000000u && vco <= 1600000000u) {
                *fbdiv = (uint32_t)(vco / XOSC_HZ);
                *pd1 = a;
                *pd2 = b;
                return 1;
            }
        }
    }
    return 0;
}

static const char *clock_up(void) {
    TINYML_REG(XOSC + 0x00u) = 0xAA0u;
    TINYML_REG(XOSC + 0x0Cu) = 47u;
    SET(XOSC + 0x00u) = 0xFABu << 12;
    if (!tinyml_wait_bits(&TINYML_REG(XOSC + 0x04u), 1u << 31, 1u << 31)) {
        return "XOSC STABLE did not set";
    }
    TINYML_REG(CLK_REF_CTRL) = 2u;
    if (!tinyml_wait_bits(&TINYML_REG(CLOCKS + 0x38u), 1u << 2, 1u << 2)) {
        return "clk_ref did not select the XOSC";
    }
    CLR(CLK_SYS_CTRL) = 1u; /* clk_sys from clk_ref (12 MHz) while the PLL is reprogrammed */
    (void)tinyml_wait_bits(&TINYML_REG(CLOCKS + 0x44u), 1u, 1u);
    uint32_t fbdiv, pd1, pd2;
    if (!pll_setting(TINYML_CLOCK_HZ, &fbdiv, &pd1, &pd2)) {
        return "no PLL setting for the rated clock";
    }
    SET(RESETS) = 1u << 12;
    unreset(1u << 12);
    TINYML_REG(PLL_SYS + 0x0u) = 1u;
    TINYML_REG(PLL_SYS + 0x8u) = fbdiv;
    CLR(PLL_SYS + 0x4u) = (1u << 0) | (1u << 5);
    if (!tinyml_wait_bits(&TINYML_REG(PLL_SYS + 0x0u), 1u << 31, 1u << 31)) {
        return "PLL_SYS LOCK did not set";
    }
    TINYML_REG(PLL_SYS + 0xCu) = (pd1 << 16) | (pd2 << 12);
    CLR(PLL_SYS + 0x4u) = 1u << 3;
    TINYML_REG(CLK_SYS_CTRL) = (TINYML_REG(CLK_SYS_CTRL) & ~(7u << 5)) | (0u << 5);
    SET(CLK_SYS_CTRL) = 1u;
    if (!tinyml_wait_bits(&TINYML_REG(CLOCKS + 0x44u), 2u, 2u)) {
        CLR(CLK_SYS_CTRL) = 1u;
        return "clk_sys did not select PLL_SYS";
    }
    return 0;
}

void tinyml_board_init(void) {
    const char *failed = clock_up();
    int xosc = failed == 0 || (TINYML_REG(XOSC + 0x04u) & (1u << 31));
    tinyml_clock.rated = failed == 0;
    tinyml_clock.hz = failed ? (xosc ? XOSC_HZ : ROSC_HZ) : TINYML_CLOCK_HZ;
    tinyml_clock.note = failed ? failed : "PLL_SYS from the 12 MHz crystal";
    /* clk_peri (the UART clock): clk_sys, or the crystal when the PLL failed (the ring oscillator is too imprecise
     * for a UART) */
    uint32_t peri_hz = failed ? XOSC_HZ : TINYML_CLOCK_HZ;
    TINYML_REG(CLK_PERI_CTRL) = (1u << 11) | ((failed ? 4u : 0u) << 5);
    unreset((1u << 5) | (1u << 8) | (1u << 22));
    TINYML_REG(IO_BANK0 + 0x04u + 8u * TINYML_CONSOLE_TX_PIN) = 2u;
    TINYML_REG(IO_BANK0 + 0x04u + 8u * TINYML_CONSOLE_RX_PIN) = 2u;
    uint32_t div64 = (uint32_t)((4ull * peri_hz + TINYML_CONSOLE_BAUD / 2u) / TINYML_CONSOLE_BAUD); /* 64 * f / 16b */
    TINYML_REG(UART0 + 0x24u) = div64 >> 6;
    TINYML_REG(UART0 + 0x28u) = div64 & 0x3Fu;
    TINYML_REG(UART0 + 0x2Cu) = (3u << 5) | (1u << 4);
    TINYML_REG(UART0 + 0x30u) = (1u << 0) | (1u << 8) | (1u << 9);
}

void tinyml_console_putc(int c) {
    while (TINYML_REG(UART0 + 0x18u) & (1u << 5)) {
    }
    TINYML_REG(UART0 + 0x00u) = (uint32_t)(uint8_t)c;
}

int tinyml_console_poll(void) {
    if (!(TINYML_REG(UART0 + 0x18u) & (1u << 4))) {
        return (int)(TINYML_REG(UART0 + 0x00u) & 0xFFu);
    }
    return -1;
}
