/* Second-stage boot loader for the Raspberry Pi Pico's W25Q080 QSPI flash (RP2040 datasheet 2.8.1): the boot ROM
 * copies these 256 bytes (252 of code + a CRC-32 of them) to SRAM at 0x20041F00 and runs them. They switch the
 * SSI to execute-in-place with the flash's serial READ DATA command (03h, 24-bit address, one data line; every SPI
 * NOR flash understands it), then start the application: VTOR = 0x10000100 (the vector table follows this block),
 * MSP and PC from that table.
 *
 * SSI at 0x18000000 (datasheet 4.10.13): CTRLR0 +0x00 (DFS_32 [20:16] = 31: 32-bit frames, TMOD [9:8] = 3:
 * EEPROM read, SPI_FRF [22:21] = 0: standard SPI), CTRLR1 +0x04 (NDF: frames per transfer - 1), SSIENR +0x08,
 * BAUDR +0x14 (even divider of clk_sys), SPI_CTRLR0 +0xF4 (XIP_CMD [31:24], INST_L [9:8] = 2: 8-bit instruction,
 * ADDR_L [5:2] = 6: 24-bit address, TRANS_TYPE [1:0] = 0: instruction and address on one line).
 * The project generator assembles this file, appends the CRC-32 the boot ROM checks (polynomial 0x04C11DB7,
 * initial value 0xFFFFFFFF, no reflection, no final XOR) and places the block at 0x10000000 (section .boot2). */
    .syntax unified
    .cpu cortex-m0plus
    .thumb
    .section .text, "ax"
    .global tinyml_boot2_entry
    .type tinyml_boot2_entry, %function
    .thumb_func
tinyml_boot2_entry:
    ldr r3, =0x18000000         @ SSI
    movs r1, #0
    str r1, [r3, #0x08]         @ SSIENR = 0: configuration registers are writable only while disabled
    movs r1, #4
    str r1, [r3, #0x14]         @ BAUDR = 4
    ldr r1, =((31 << 16) | (3 << 8))
    str r1, [r3, #0x00]         @ CTRLR0: 32-bit frames, EEPROM read
    movs r1, #0
    str r1, [r3, #0x04]         @ CTRLR1: one frame per transfer
    ldr r1, =((0x03 << 24) | (2 << 8) | (6 << 2))
    ldr r2, =0xF4
    str r1, [r3, r2]            @ SPI_CTRLR0: 03h, 8-bit instruction, 24-bit address
    movs r1, #1
    str r1, [r3, #0x08]         @ SSIENR = 1: XIP from 0x10000000 on
    ldr r0, =0x10000100         @ the application's vector table
    ldr r1, =0xE000ED08
    str r0, [r1]                @ VTOR
    ldmia r0!, {r1, r2}         @ initial MSP, reset handler
    msr msp, r1
    bx r2
    .ltorg
