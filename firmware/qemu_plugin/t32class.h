/* Thumb-2 (ARMv7E-M) instruction classes and their costs under the project's cycle models.
 *
 * m4-trm-v1: per-class cycle costs of the Cortex-M4 Technical Reference Manual, zero wait states
 * (docs/cycle_model.md has the table). The cost of an instruction depends on the instruction executed before
 * it (a single load/store right after another single load/store is pipelined: 1 cycle instead of 2) and, for a
 * conditional branch, on whether it was taken (the next executed PC is not the fall-through): tcount.c applies
 * both in execution order. t32_classify gives the class and the static parts of the cost.
 *
 * m7-dual-v1: a documented approximation of the Cortex-M7's dual issue (docs/cycle_model.md): each
 * instruction takes one issue slot (LDM/STM: one per two registers; divides and VDIV/VSQRT as on the M4), a
 * taken branch adds one cycle, and an instruction issues together with the one before it (saving its slot) when
 * both are single-slot instructions of compatible classes (at most one load/store, one multiply, one branch, the
 * branch second) and it reads no register the first one writes.
 */
#ifndef T32CLASS_H
#define T32CLASS_H

#include <stdint.h>

#define T32_P 2 /* pipeline refill after a taken branch (m4-trm-v1) */

enum t32_kind {
    K_ALU,   /* data processing, IT, hints */
    K_EXT,   /* extend / pack */
    K_SIMD,  /* saturate, SIMD and saturating arithmetic */
    K_MUL,   /* multiply, multiply-accumulate */
    K_LS,    /* single load or store */
    K_LSD,   /* LDRD, STRD */
    K_LSM,   /* LDM, STM, PUSH, POP */
    K_BR,    /* branch (also LDR pc, TBB/TBH, MOV/ADD pc) */
    K_DIV,   /* SDIV, UDIV */
    K_FDIV,  /* VDIV, VSQRT */
    K_VLS,   /* VLDR, VSTR, VLDM, VSTM, VPUSH, VPOP */
    K_FP,    /* other floating point */
    K_NKIND
};

struct t32_info {
    uint8_t kind;
    uint8_t size;        /* 2 or 4 bytes */
    uint8_t is_ls;       /* single load/store: takes part in load pipelining */
    uint8_t is_branch;   /* may write the PC */
    uint8_t cond;        /* conditional branch: +P only when taken (else the P is in base) */
    uint8_t base;        /* m4-trm-v1 cycles, not-taken, not pipelined */
    uint8_t m7_slots;    /* m7-dual-v1 issue cycles before pairing */
    uint8_t m7_pairable; /* may share an issue cycle with a neighbour */
    uint16_t defs;       /* registers written (bit 15 = PC); 0xffff when unknown */
    uint16_t uses;       /* registers read; 0xffff when unknown */
};

static inline int t32_popcount(uint32_t v) { return __builtin_popcount(v); }

static inline void t32_set(struct t32_info *in, int kind, int base) {
    in->kind = (uint8_t)kind;
    in->base = (uint8_t)base;
}

static inline uint16_t t32_r(unsigned r) { return (uint16_t)(1u << (r & 15u)); }

/* 16-bit encodings */
static void t32_classify16(uint32_t h, struct t32_info *in) {
    unsigned lo3 = h & 7u, mid3 = (h >> 3) & 7u, hi3 = (h >> 6) & 7u, r8 = (h >> 8) & 7u;
    t32_set(in, K_ALU, 1);
    if ((h >> 14) == 0) { /* shift, add, sub, move, compare */
        if ((h >> 11) < 3) {
            in->defs = t32_r(lo3), in->uses = t32_r(mid3);
        } else if ((h >> 11) == 3) {
            in->defs = t32_r(lo3), in->uses = t32_r(mid3) | ((h & 0x400) ? 0 : t32_r(hi3));
        } else {
            in->defs = ((h >> 11) == 5) ? 0 : t32_r(r8), in->uses = ((h >> 11) == 4) ? 0 : t32_r(r8);
        }
    } else if ((h >> 10) == 0x10) { /* data processing, register */
        in->defs = t32_r(lo3), in->uses = t32_r(lo3) | t32_r(mid3);
        if (((h >> 6) & 15u) == 13u) in->kind = K_MUL;
    } else if ((h >> 10) == 0x11) { /* special data, BX, BLX */
        unsigned rd = lo3 | ((h >> 4) & 8u), rm = (h >> 3) & 15u, op = (h >> 8) & 3u;
        in->uses = t32_r(rm);
        if (op == 3) { /* BX / BLX */
            t32_set(in, K_BR, 1 + T32_P);
            in->is_branch = 1, in->defs = 0x8000 | ((h & 0x80) ? 0x4000 : 0);
        } else {
            in->defs = (op == 1) ? 0 : t32_r(rd);
            in->uses |= (op == 2) ? 0 : t32_r(rd);
            if (rd == 15 && op != 1) t32_set(in, K_BR, 1 + T32_P), in->is_branch = 1;
        }
    } else if ((h >> 11) == 9) { /* LDR literal */
        t32_set(in, K_LS, 2), in->is_ls = 1, in->defs = t32_r(r8), in->uses = 0x8000;
    } else if ((h >> 12) == 5 || (h >> 13) == 3 || (h >> 12) == 8) { /* load/store register or immediate */
        int load = ((h >> 12) == 5) ? (((h >> 9) & 7u) >= 3) : ((h >> 11) & 1u);
        t32_set(in, K_LS, 2), in->is_ls = 1;
        in->uses = t32_r(mid3) | (((h >> 12) == 5) ? t32_r(hi3) : 0) | (load ? 0 : t32_r(lo3));
        in->defs = load ? t32_r(lo3) : 0;
    } else if ((h >> 12) == 9) { /* LDR/STR SP-relative */
        int load = (h >> 11) & 1u;
        t32_set(in, K_LS, 2), in->is_ls = 1;
        in->uses = 0x2000 | (load ? 0 : t32_r(r8)), in->defs = load ? t32_r(r8) : 0;
    } else if ((h >> 12) == 10) { /* ADR, ADD rd, sp, #imm */
        in->defs = t32_r(r8), in->uses = (h & 0x800) ? 0x2000 : 0x8000;
    } else if ((h >> 12) == 11) { /* miscellaneous */
        if ((h & 0xF500) == 0xB100) { /* CBZ, CBNZ */
            t32_set(in, K_BR, 1), in->is_branch = 1, in->cond = 1, in->uses = t32_r(lo3), in->defs = 0x8000;
        } else if ((h & 0xFF00) == 0xB200) {
            t32_set(in, K_EXT, 1), in->defs = t32_r(lo3), in->uses = t32_r(mid3);
        } else if ((h & 0xFE00) == 0xB400 || (h & 0xFE00) == 0xBC00) { /* PUSH, POP */
            int pop = (h >> 11) & 1u, n = t32_popcount(h & 0xFFu) + ((h >> 8) & 1u);
            t32_set(in, K_LSM, 1 + n);
            uint16_t list = (uint16_t)((h & 0xFFu) | ((h & 0x100) ? (pop ? 0x8000 : 0x4000) : 0));
            in->defs = (uint16_t)(0x2000 | (pop ? list : 0)), in->uses = (uint16_t)(0x2000 | (pop ? 0 : list));
            if (pop && (h & 0x100)) in->base += T32_P, in->is_branch = 1, in->kind = K_LSM;
        } else if ((h & 0xFF00) == 0xBA00) {
            in->defs = t32_r(lo3), in->uses = t32_r(mid3); /* REV* */
        } else if ((h & 0xFF00) == 0xB000) {
            in->defs = 0x2000, in->uses = 0x2000; /* ADD/SUB sp, #imm */
        } else {
            in->defs = 0, in->uses = 0; /* IT, hints, BKPT, CPS */
        }
    } else if ((h >> 12) == 12) { /* LDM, STM */
        int load = (h >> 11) & 1u, n = t32_popcount(h & 0xFFu);
        t32_set(in, K_LSM, 1 + n);
        in->defs = (uint16_t)(t32_r(r8) | (load ? (h & 0xFFu) : 0));
        in->uses = (uint16_t)(t32_r(r8) | (load ? 0 : (h & 0xFFu)));
    } else if ((h >> 12) == 13) { /* conditional branch, UDF, SVC */
        if (((h >> 8) & 15u) < 14) t32_set(in, K_BR, 1), in->is_branch = 1, in->cond = 1, in->defs = 0x8000;
        in->uses = 0;
    } else if ((h >> 11) == 0x1C) { /* B (unconditional) */
        t32_set(in, K_BR, 1 + T32_P), in->is_branch = 1, in->defs = 0x8000, in->uses = 0;
    }
}

/* 32-bit encodings, group op1 = 01 (load/store multiple and dual, data processing shifted register, FP) */
static void t32_classify32_01(uint32_t h1, uint32_t h2, struct t32_info *in) {
    unsigned rn = h1 & 15u, rd = (h2 >> 8) & 15u, rt = (h2 >> 12) & 15u;
    if ((h1 & 0xFE40) == 0xE800) { /* LDM, STM (also PUSH/POP.W) */
        int load = (h1 >> 4) & 1u, n = t32_popcount(h2 & 0xDFFFu);
        t32_set(in, K_LSM, 1 + n);
        in->defs = (uint16_t)(((h1 & 0x20) ? t32_r(rn) : 0) | (load ? (h2 & 0xDFFFu) : 0));
        in->uses = (uint16_t)(t32_r(rn) | (load ? 0 : (h2 & 0x5FFFu)));
        if (load && (h2 & 0x8000)) in->base += T32_P, in->is_branch = 1;
    } else if ((h1 & 0xFE40) == 0xE840) { /* load/store dual or exclusive, table branch */
        unsigned op1 = (h1 >> 7) & 3u, op2 = (h1 >> 4) & 3u, op3 = (h2 >> 4) & 15u;
        if (op1 == 1 && op2 == 1 && op3 < 2) { /* TBB, TBH */
            t32_set(in, K_BR, 2 + T32_P), in->is_branch = 1, in->defs = 0x8000;
            in->uses = (uint16_t)(t32_r(rn) | t32_r(h2));
        } else if (op1 < 2 && op2 < 2) { /* exclusive */
            t32_set(in, K_LS, 2), in->is_ls = 1, in->defs = 0xffff, in->uses = 0xffff;
        } else {
            int load = (h1 >> 4) & 1u;
            t32_set(in, K_LSD, 3);
            in->defs = (uint16_t)(((h1 & 0x20) ? t32_r(rn) : 0) | (load ? (t32_r(rt) | t32_r(rd)) : 0));
            in->uses = (uint16_t)(t32_r(rn) | (load ? 0 : (t32_r(rt) | t32_r(rd))));
        }
    } else if ((h1 & 0xFE00) == 0xEA00) { /* data processing, shifted register (PKHBT/PKHTB: pack) */
        t32_set(in, ((h1 & 0xFFE0) == 0xEAC0) ? K_EXT : K_ALU, 1);
        in->defs = (rd == 15) ? 0 : t32_r(rd); /* rd = pc: TST/TEQ/CMP/CMN */
        in->uses = (uint16_t)(t32_r(rn) | t32_r(h2));
    } else if ((h1 & 0xFE00) == 0xEC00 && (h2 & 0x0E00) == 0x0A00 && (h1 & 0x01A0) && (h1 & 0x01E0) != 0x0040) {
        int single = (h1 & 0x0120) == 0x0100, words = (int)(h2 & 0xFFu);
        t32_set(in, K_VLS, single ? 2 : 1 + (words ? words : 1));
        in->defs = (h1 & 0x20) ? t32_r(rn) : 0, in->uses = t32_r(rn);
    } else if ((h1 & 0xFFB0) == 0xEE80 && (h2 & 0x0E50) == 0x0A00) { /* VDIV */
        t32_set(in, K_FDIV, 14), in->defs = 0, in->uses = 0;
    } else if ((h1 & 0xFFBF) == 0xEEB1 && (h2 & 0x0ED0) == 0x0AC0) { /* VSQRT */
        t32_set(in, K_FDIV, 14), in->defs = 0, in->uses = 0;
    } else { /* other floating point and coprocessor */
        t32_set(in, K_FP, 1), in->defs = 0xffff, in->uses = 0xffff;
    }
}

/* 32-bit encodings, group op1 = 10 (data processing immediate, branches and control) */
static void t32_classify32_10(uint32_t h1, uint32_t h2, struct t32_info *in) {
    unsigned rn = h1 & 15u, rd = (h2 >> 8) & 15u;
    if ((h2 & 0x8000) == 0) {
        int sat = (h1 & 0xFB50) == 0xF300; /* SSAT, USAT, SSAT16, USAT16 (not SBFX, BFI, UBFX) */
        t32_set(in, sat ? K_SIMD : K_ALU, 1);
        int plain = (h1 & 0x0200) != 0; /* plain binary immediate: MOVW/MOVT read no rn (MOVT reads rd) */
        int mov = plain && (h1 & 0x01F0u) == 0x0040u, movt = plain && (h1 & 0x01F0u) == 0x00C0u;
        in->defs = (rd == 15) ? 0 : t32_r(rd);
        in->uses = (uint16_t)(mov ? 0 : (movt ? t32_r(rd) : t32_r(rn)));
        if ((h1 & 0x0200) == 0 && (rn == 15) && ((h1 >> 5) & 15u) < 4) in->uses = 0; /* MOV, MVN immediate */
    } else if ((h2 & 0xD000) == 0x8000) {
        if (((h1 >> 6) & 7u) != 7) { /* B<c> T3 */
            t32_set(in, K_BR, 1), in->is_branch = 1, in->cond = 1, in->defs = 0x8000, in->uses = 0;
        } else { /* MSR, MRS, hints, barriers */
            t32_set(in, K_ALU, 1), in->defs = 0xffff, in->uses = 0xffff;
        }
    } else { /* B T4, BL */
        t32_set(in, K_BR, 1 + T32_P), in->is_branch = 1;
        in->defs = (uint16_t)(0x8000 | ((h2 & 0x4000) ? 0x4000 : 0)), in->uses = 0;
    }
}

/* 32-bit encodings, group op1 = 11 (load/store single, data processing register, multiplies, divides) */
static void t32_classify32_11(uint32_t h1, uint32_t h2, struct t32_info *in) {
    unsigned rn = h1 & 15u, rd = (h2 >> 8) & 15u, rt = (h2 >> 12) & 15u, rm = h2 & 15u;
    if ((h1 & 0xFE00) == 0xF800) { /* load/store single (byte, halfword, word), PLD/PLI */
        int load = (h1 >> 4) & 1u;
        int reg = (h1 & 0x0080) == 0 && rn != 15 && (h2 & 0x0FC0) == 0; /* register offset */
        int wb = (h1 & 0x0080) == 0 && rn != 15 && (h2 & 0x0900) == 0x0900; /* pre/post-indexed */
        t32_set(in, K_LS, 2), in->is_ls = 1;
        in->uses = (uint16_t)(t32_r(rn) | (reg ? t32_r(rm) : 0) | (load ? 0 : t32_r(rt)));
        in->defs = (uint16_t)((wb ? t32_r(rn) : 0) | (load ? t32_r(rt) : 0));
        if (load && rt == 15 && ((h1 >> 5) & 3u) == 2) { /* LDR pc */
            t32_set(in, K_BR, 2 + T32_P), in->is_ls = 0, in->is_branch = 1;
        } else if (load && rt == 15) {
            in->defs &= (uint16_t)~0x8000u; /* PLD, PLI */
        }
    } else if ((h1 & 0xFF00) == 0xFA00) { /* data processing register: shifts, extend, SIMD, misc */
        int ext = (h2 & 0xF080) == 0xF080 && (h1 & 0x0080) == 0;     /* SXTB16 .. UXTAB */
        int simd = (h1 & 0x0080) && ((h2 & 0x0080) == 0 || (h1 & 0xFFF0) == 0xFA80); /* parallel, QADD.. */
        t32_set(in, ext ? K_EXT : (simd ? K_SIMD : K_ALU), 1);
        in->defs = t32_r(rd), in->uses = (uint16_t)(((rn == 15) ? 0 : t32_r(rn)) | t32_r(rm));
    } else if ((h1 & 0xFF80) == 0xFB00) { /* multiply, multiply-accumulate, dual 16-bit, most-significant */
        t32_set(in, K_MUL, 1);
        in->defs = t32_r(rd), in->uses = (uint16_t)(t32_r(rn) | t32_r(rm) | ((rt == 15) ? 0 : t32_r(rt)));
    } else if ((h1 & 0xFF80) == 0xFB80) { /* long multiply, divide */
        unsigned op1 = (h1 >> 4) & 7u;
        if ((op1 == 1 || op1 == 3) && (h2 & 0xF0) == 0xF0) {
            t32_set(in, K_DIV, 7), in->defs = t32_r(rd), in->uses = (uint16_t)(t32_r(rn) | t32_r(rm));
        } else {
            int acc = op1 >= 4;
            t32_set(in, K_MUL, 1), in->defs = (uint16_t)(t32_r(rd) | t32_r(rt));
            in->uses = (uint16_t)(t32_r(rn) | t32_r(rm) | (acc ? (t32_r(rd) | t32_r(rt)) : 0));
        }
    } else { /* coprocessor, floating point */
        t32_set(in, K_FP, 1), in->defs = 0xffff, in->uses = 0xffff;
    }
}

/* m7-dual-v1 issue properties from the m4 class */
static void t32_m7(struct t32_info *in) {
    switch (in->kind) {
    case K_LSM: {
        int n = in->base - 1 - ((in->is_branch && !in->cond) ? T32_P : 0);
        in->m7_slots = (uint8_t)(1 + (n + 1) / 2), in->m7_pairable = 0;
        break;
    }
    case K_DIV:
    case K_FDIV:
        in->m7_slots = in->base, in->m7_pairable = 0;
        break;
    case K_VLS:
        in->m7_slots = (uint8_t)(in->base > 2 ? 1 + (in->base - 1) / 2 : 1), in->m7_pairable = in->base <= 2;
        break;
    default:
        in->m7_slots = 1, in->m7_pairable = (in->defs != 0xffff);
    }
}

/* Classify the instruction whose first halfword is h1 (second h2 for 32-bit encodings). in_it: inside an IT
 * block (a PC-writing instruction there is a conditional branch). */
static void t32_classify(uint32_t h1, uint32_t h2, int in_it, struct t32_info *in) {
    *in = (struct t32_info){0};
    int wide = (h1 >> 11) >= 0x1D;
    in->size = wide ? 4 : 2;
    if (!wide) {
        t32_classify16(h1, in);
    } else if (((h1 >> 11) & 3u) == 1) {
        t32_classify32_01(h1, h2, in);
    } else if (((h1 >> 11) & 3u) == 2) {
        t32_classify32_10(h1, h2, in);
    } else {
        t32_classify32_11(h1, h2, in);
    }
    if (in->defs & 0x8000u && !in->is_branch && in->defs != 0xffff) {
        in->is_branch = 1; /* a data-processing or load instruction writing the PC */
        if (in->kind != K_BR) in->base += T32_P;
    }
    if (in_it && in->is_branch && !in->cond) {
        in->cond = 1, in->base -= T32_P; /* conditional: the refill is paid only when it branches */
    }
    t32_m7(in);
}

/* Number of instructions an IT instruction (16-bit, 0xBFxy with y != 0) makes conditional. */
static inline int t32_it_length(uint32_t h1) {
    if ((h1 & 0xFF00) != 0xBF00 || (h1 & 15u) == 0) return 0;
    unsigned mask = h1 & 15u;
    return 4 - __builtin_ctz(mask);
}

#endif /* T32CLASS_H */
