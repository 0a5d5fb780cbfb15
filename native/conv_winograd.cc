// Picks the widest Winograd kernel this CPU runs (conv_winograd_<isa>.cc), once.
#include "conv_winograd.h"

namespace lathe {
namespace {

const winograd::Kernel* widest() {
  static const winograd::Kernel* k = winograd::kernelAvx512() ? winograd::kernelAvx512() : winograd::kernelAvx2();
  return k;
}

}  // namespace

bool conv2dWinogradTakes(const Conv2dShape& s) { return widest() && widest()->takes(s); }

void conv2dWinograd(const float* x, const float* w, const float* bias, int act, float* y, const Conv2dShape& s,
                    ThreadPool& pool, const PoolAfter* after) {
  widest()->run(x, w, bias, act, y, s, pool, after);
}

}  // namespace lathe
