// The brief's practical advice, applied to a finished run's history: poor results call for
// adjusting the data, the model structure or the training strategy. Each hint names the
// evidence it rests on, so a user can judge it.
import type { History } from './fit.js';

export function trainingAdvice(history: History): string[] {
  const h = history.history;
  const loss = h.loss ?? [];
  const val = h.val_loss ?? [];
  const out: string[] = [];
  if (loss.length >= 2 && loss[loss.length - 1] > 0.9 * loss[0]) {
    out.push(`the training loss barely fell (${loss[0].toFixed(4)} -> ${loss[loss.length - 1].toFixed(4)}): check the data (scaling, labels), try a higher learning rate, a larger model, or more epochs`);
  }
  if (val.length >= 3) {
    const best = Math.min(...val);
    const bestEpoch = val.indexOf(best);
    const last = val[val.length - 1];
    if (bestEpoch < val.length - 2 && last > 1.2 * best && loss[loss.length - 1] < loss[bestEpoch]) {
      out.push(`validation loss was lowest at epoch ${bestEpoch + 1} (${best.toFixed(4)}) and rose to ${last.toFixed(4)} while the training loss kept falling: the model overfits; add Dropout or weight decay, stop early (EarlyStopping), or get more data`);
    }
  }
  const acc = h.accuracy;
  const valAcc = h.val_accuracy;
  if (acc && valAcc && acc[acc.length - 1] - valAcc[valAcc.length - 1] > 0.1) {
    out.push(`training accuracy ${(acc[acc.length - 1] * 100).toFixed(1)}% is far above validation accuracy ${(valAcc[valAcc.length - 1] * 100).toFixed(1)}%: the model memorises; regularise it or simplify it`);
  }
  return out;
}
