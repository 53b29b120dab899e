/* Two generated models in one program: `tinyml compile kws.tflite --prefix kws` and `... ad.tflite --prefix ad`.
 * Build: cc -std=c99 two_models.c kws/kws.c kws/kws_weights.c ad/ad.c ad/ad_weights.c -Ikws -Iad -lm */
#include <stdio.h>
#include <string.h>

#include "ad.h"
#include "kws.h"

int main(void) {
    if (kws_init() != KWS_OK || ad_init() != AD_OK) return 1;
    memset(kws_input(0), 0, KWS_INPUT0_BYTES); /* inputs are written straight into each model's arena */
    memset(ad_input(0), 0, AD_INPUT0_BYTES);
    if (kws_invoke() != KWS_OK || ad_invoke() != AD_OK) return 2;
    const int8_t *scores = (const int8_t *)kws_output(0);
    int best = 0;
    for (int i = 1; i < KWS_OUTPUT0_ELEMENTS; ++i) best = scores[i] > scores[best] ? i : best;
    printf("kws: class %d (%.3f); arenas %d + %d B\n", best, KWS_OUTPUT0_SCALE * (scores[best] - KWS_OUTPUT0_ZERO_POINT),
           KWS_ARENA_BYTES, AD_ARENA_BYTES);
    return 0;
}
