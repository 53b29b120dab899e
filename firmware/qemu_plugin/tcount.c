/* QEMU TCG plugin: exact guest instruction count and estimated cycles, reported at marker addresses.
 *
 * Arguments: slots=<hex address of tc_mark_slots>, nslots=<number of 2-byte slots>, out=<file>, and optionally
 * profile=<file> with pbegin=<slot> and pend=<slot> (default 2 and 3).
 * Every executed guest instruction adds 1 to an instruction counter and its cost to two cycle counters: the
 * cycle model m4-trm-v1 (Cortex-M4 TRM costs, zero wait states) and m7-dual-v1 (an approximation of the
 * Cortex-M7's dual issue); t32class.h classifies the instructions and docs/cycle_model.md defines both models.
 * Costs follow the real execution order: inside a translation block the previous instruction is known when
 * the block is translated; at block entry a callback settles what depends on the block executed before it (was
 * its last instruction a single load/store, was its conditional branch taken: the entry PC is not its
 * fall-through). When the instruction at slot k of the marker table executes, the plugin writes
 * "mark <k> <instructions> <m4 cycles> <m7 cycles>", each counted before that slot instruction; at exit it writes
 * "total <instructions> <m4 cycles> <m7 cycles>". With profile=, it also writes "pc <hex address> <size>
 * <executions>" for every instruction executed between the first executions of slots pbegin and pend (the
 * per-PC profile from which the address-order variant of m4-trm-v1 is computed, as a cross-check).
 * The guest is a single-vCPU Cortex-M, so one set of counters suffices.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef TC_USE_QEMU_HEADER
#include <qemu-plugin.h>
#else
#include "tc_plugin_api.h"
#endif
#include "t32class.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

struct tb_edge {         /* what a block entry needs to know about itself and, later, as the previous block */
    uint64_t first_va;   /* address of the block's first instruction */
    uint64_t last_fall;  /* fall-through address of the block's last instruction */
    uint8_t first_is_ls; /* first instruction is a single load/store */
    uint8_t last_is_ls;  /* last instruction is a single load/store */
    uint8_t last_cond;   /* last instruction is a conditional branch */
};

struct pc_rec { /* per translated instruction, profile mode only */
    uint64_t count, start, delta, vaddr;
    uint32_t size;
};

static uint64_t insn_count, cycles_m4, cycles_m7;
static uint64_t slots_base, slots_count;
static FILE *out, *profile_out;
static const struct tb_edge *prev_tb;
static struct pc_rec **recs;
static size_t n_recs, cap_recs;
static unsigned pbegin = 2, pend = 3, pstate;

static void on_tb_entry(unsigned int vcpu_index, void *userdata) {
    (void)vcpu_index;
    const struct tb_edge *tb = userdata;
    const struct tb_edge *prev = prev_tb;
    if (prev != NULL) {
        if (prev->last_cond && prev->last_fall != tb->first_va) { /* its conditional branch was taken */
            cycles_m4 += T32_P;
            cycles_m7 += 1;
        }
        if (prev->last_is_ls && tb->first_is_ls) cycles_m4 -= 1;
    }
    prev_tb = tb;
}

static void profile_mark(unsigned slot) {
    if (pstate == 0 && slot == pbegin) {
        for (size_t i = 0; i < n_recs; i++) recs[i]->start = recs[i]->count;
        pstate = 1;
    } else if (pstate == 1 && slot == pend) {
        for (size_t i = 0; i < n_recs; i++) recs[i]->delta = recs[i]->count - recs[i]->start;
        pstate = 2;
    }
}

static void on_mark(unsigned int vcpu_index, void *userdata) {
    (void)vcpu_index;
    unsigned slot = (unsigned)(uintptr_t)userdata;
    fprintf(out, "mark %u %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", slot, insn_count, cycles_m4, cycles_m7);
    if (profile_out != NULL) profile_mark(slot);
}

static struct pc_rec *new_rec(uint64_t va, uint32_t size) {
    if (n_recs == cap_recs) {
        cap_recs = cap_recs ? 2 * cap_recs : 4096;
        recs = realloc(recs, cap_recs * sizeof *recs);
        if (recs == NULL) abort();
    }
    struct pc_rec *r = calloc(1, sizeof *r);
    if (r == NULL) abort();
    r->vaddr = va, r->size = size;
    r->start = 0; /* translated inside the region: all its executions count */
    recs[n_recs++] = r;
    return r;
}

static void read_insn(struct qemu_plugin_insn *insn, uint32_t *h1, uint32_t *h2) {
    const uint8_t *d = qemu_plugin_insn_data(insn);
    size_t n = qemu_plugin_insn_size(insn);
    *h1 = (uint32_t)d[0] | ((uint32_t)d[1] << 8);
    *h2 = n >= 4 ? ((uint32_t)d[2] | ((uint32_t)d[3] << 8)) : 0;
}

/* m7-dual-v1: may `b` issue in the same cycle as `a` (the instruction just before it)? */
static int m7_pairs(const struct t32_info *a, const struct t32_info *b) {
    int mem_a = a->kind == K_LS || a->kind == K_LSD || a->kind == K_VLS;
    int mem_b = b->kind == K_LS || b->kind == K_LSD || b->kind == K_VLS;
    if (!a->m7_pairable || !b->m7_pairable || a->is_branch) return 0;
    if ((mem_a && mem_b) || (a->kind == K_MUL && b->kind == K_MUL) || (a->kind == K_FP && b->kind == K_FP)) return 0;
    return (a->defs & b->uses) == 0;
}

static void on_tb_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    struct tb_edge *edge = calloc(1, sizeof *edge);
    if (edge == NULL) abort();
    struct t32_info prev = {0}, cur;
    int it_left = 0, prev_paired = 0;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t va = qemu_plugin_insn_vaddr(insn);
        uint32_t h1, h2;
        read_insn(insn, &h1, &h2);
        t32_classify(h1, h2, it_left > 0, &cur);
        it_left = it_left > 0 ? it_left - 1 : t32_it_length(h1);
        uint64_t m4 = cur.base, m7 = cur.m7_slots + ((cur.is_branch && !cur.cond) ? 1 : 0);
        if (i > 0 && prev.is_ls && cur.is_ls) m4 -= 1;
        int paired = i > 0 && !prev_paired && m7_pairs(&prev, &cur);
        m7 -= paired ? 1 : 0;
        if (i == 0) {
            edge->first_is_ls = cur.is_ls;
            edge->first_va = va;
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_tb_entry, QEMU_PLUGIN_CB_NO_REGS, edge);
        }
        if (i + 1 == n) {
            edge->last_is_ls = cur.is_ls, edge->last_cond = cur.cond, edge->last_fall = va + cur.size;
        }
        if (va >= slots_base && va < slots_base + 2 * slots_count) {
            uintptr_t slot = (uintptr_t)((va - slots_base) / 2);
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, (void *)slot);
        }
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &insn_count, 1);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &cycles_m4, m4);
        if (m7) qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &cycles_m7, m7);
        if (profile_out != NULL && pstate < 2) {
            struct pc_rec *r = new_rec(va, cur.size);
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &r->count, 1);
        }
        prev = cur, prev_paired = paired;
    }
}

static int by_vaddr(const void *a, const void *b) {
    const struct pc_rec *x = *(struct pc_rec *const *)a, *y = *(struct pc_rec *const *)b;
    return (x->vaddr > y->vaddr) - (x->vaddr < y->vaddr);
}

static void write_profile(void) {
    qsort(recs, n_recs, sizeof *recs, by_vaddr);
    for (size_t i = 0; i < n_recs;) {
        uint64_t va = recs[i]->vaddr, total = 0;
        uint32_t size = recs[i]->size;
        for (; i < n_recs && recs[i]->vaddr == va; i++) total += recs[i]->delta;
        if (total) fprintf(profile_out, "pc %" PRIx64 " %u %" PRIu64 "\n", va, size, total);
    }
    fclose(profile_out);
}

static void on_plugin_exit(qemu_plugin_id_t id, void *userdata) {
    (void)id;
    (void)userdata;
    fprintf(out, "total %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", insn_count, cycles_m4, cycles_m7);
    fflush(out);
    if (profile_out != NULL) write_profile();
}

static int parse_arg(const char *arg, const char **path, const char **profile) {
    if (strncmp(arg, "slots=", 6) == 0) {
        slots_base = strtoull(arg + 6, NULL, 0);
    } else if (strncmp(arg, "nslots=", 7) == 0) {
        slots_count = strtoull(arg + 7, NULL, 0);
    } else if (strncmp(arg, "out=", 4) == 0) {
        *path = arg + 4;
    } else if (strncmp(arg, "profile=", 8) == 0) {
        *profile = arg + 8;
    } else if (strncmp(arg, "pbegin=", 7) == 0) {
        pbegin = (unsigned)strtoul(arg + 7, NULL, 0);
    } else if (strncmp(arg, "pend=", 5) == 0) {
        pend = (unsigned)strtoul(arg + 5, NULL, 0);
    } else {
        fprintf(stderr, "tcount: unknown argument '%s'\n", arg);
        return -1;
    }
    return 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    const char *path = NULL, *profile = NULL;
    for (int i = 0; i < argc; i++) {
        if (parse_arg(argv[i], &path, &profile) != 0) return -1;
    }
    out = path ? fopen(path, "w") : stderr;
    profile_out = profile ? fopen(profile, "w") : NULL;
    if (out == NULL || (profile != NULL && profile_out == NULL)) {
        fprintf(stderr, "tcount: cannot open '%s'\n", out == NULL ? path : profile);
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_translate);
    qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
    return 0;
}
