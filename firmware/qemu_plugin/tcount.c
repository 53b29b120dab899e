/* QEMU TCG plugin: exact guest instruction count, reported at marker addresses.
 *
 * Arguments: slots=<hex address of tc_mark_slots>, nslots=<number of 2-byte slots>, out=<file>.
 * Every executed guest instruction adds 1 to a counter (inline op). When the instruction at slot k of the
 * marker table executes, the plugin writes "mark <k> <count>" to the output file, where count is the number
 * of instructions executed before that slot instruction. At exit it writes "total <count>".
 * The guest is a single-vCPU Cortex-M, so one counter suffices.
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

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static uint64_t insn_count;
static uint64_t slots_base;
static uint64_t slots_count;
static FILE *out;

static void on_mark(unsigned int vcpu_index, void *userdata) {
    (void)vcpu_index;
    fprintf(out, "mark %u %" PRIu64 "\n", (unsigned)(uintptr_t)userdata, insn_count);
}

static void on_tb_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t va = qemu_plugin_insn_vaddr(insn);
        if (va >= slots_base && va < slots_base + 2 * slots_count) {
            uintptr_t slot = (uintptr_t)((va - slots_base) / 2);
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, (void *)slot);
        }
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &insn_count, 1);
    }
}

static void on_plugin_exit(qemu_plugin_id_t id, void *userdata) {
    (void)id;
    (void)userdata;
    fprintf(out, "total %" PRIu64 "\n", insn_count);
    fflush(out);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "slots=", 6) == 0) {
            slots_base = strtoull(argv[i] + 6, NULL, 0);
        } else if (strncmp(argv[i], "nslots=", 7) == 0) {
            slots_count = strtoull(argv[i] + 7, NULL, 0);
        } else if (strncmp(argv[i], "out=", 4) == 0) {
            path = argv[i] + 4;
        } else {
            fprintf(stderr, "tcount: unknown argument '%s'\n", argv[i]);
            return -1;
        }
    }
    out = path ? fopen(path, "w") : stderr;
    if (out == NULL) {
        fprintf(stderr, "tcount: cannot open '%s'\n", path);
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_translate);
    qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
    return 0;
}
