/* Instruction-count markers: tc_mark(id) branches to slot (id mod 1024) of tc_mark_slots.
 * Each slot is a 2-byte `bx lr`; the QEMU counting plugin watches the slot addresses, so the slot that runs
 * names the marker. The code is Thumb-1 so that it assembles for every core; only TINYML_TCMARK builds use it.
 * Cost of one mark (caller's `mov r0, #id` and `bl`, 6 instructions here, the slot's `bx lr`) is measured at run
 * time with two back-to-back marks. */
    .syntax unified
    .thumb
#ifdef TINYML_TCMARK
    .section .text.tc_mark, "ax", %progbits
    .align 2
    .global tc_mark
    .type tc_mark, %function
    .thumb_func
tc_mark:
    lsls r0, r0, #22            @ keep the low 10 bits of the id ...
    lsrs r0, r0, #21            @ ... times 2 bytes per slot
    adr r1, tc_mark_slots
    adds r1, r1, r0
    adds r1, r1, #1             @ stay in Thumb state
    bx r1
    .size tc_mark, . - tc_mark

    .align 2
    .global tc_mark_slots
    .type tc_mark_slots, %object    @ not %function: adr must yield the plain (even) address
tc_mark_slots:
    .rept 1024
    bx lr
    .endr
    .size tc_mark_slots, . - tc_mark_slots
#endif
