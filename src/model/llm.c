/* llm — dispatch from the public interface (llm.h) to a backend's vtable
 * (llm_impl.h), and the argument checks every backend would otherwise repeat. */
#include "model/llm_impl.h"

#include "util/util.h"

int llm_generate(llm *m, const llm_prompt *prompts, int nprompts, uint64_t seed,
                 llm_emit_fn emit, void *ctx, char *err, size_t errlen) {
    if (!m || !emit) return seterr(err, errlen, "llm: no model or no emit callback");
    if (nprompts < 0 || (nprompts > 0 && !prompts))
        return seterr(err, errlen, "llm: invalid prompt batch");
    for (int i = 0; i < nprompts; i++) {
        if (!prompts[i].question)
            return seterr(err, errlen, "llm: prompt %d has no question", i);
        if (prompts[i].ncontext < 0 || (prompts[i].ncontext > 0 && !prompts[i].context))
            return seterr(err, errlen, "llm: prompt %d has an invalid context list", i);
        for (int a = 0; a < prompts[i].ncontext; a++)
            if (!prompts[i].context[a])
                return seterr(err, errlen, "llm: prompt %d, article %d is NULL", i, a);
    }
    if (nprompts == 0) return 0;
    return m->generate(m, prompts, nprompts, seed, emit, ctx, err, errlen);
}

const char *llm_name(const llm *m) { return m ? m->name : "none"; }

void llm_free(llm *m) {
    if (m) m->destroy(m);
}
